"""One message per event: what happened, what guardbot did, what it will do next.

A cycle's decisions are journaled one by one; a person gets them grouped. Everything one rule
decided in a cycle — its alert (started, escalated, eased) and its orders with what the exchange
did with them — is one message; a change of trading state leads the most severe message instead
of arriving on its own; everything that cleared is one line. Pure: decisions and their action
results in, messages out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from guardbot.exchange.gateway import ActionResult
from guardbot.execution import describe_action
from guardbot.guard import Decision

_RANK = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True, slots=True)
class Message:
    level: str  # info | warning | critical
    key: str  # what it is about (rule and subjects): the repeat filter's key
    text: str


def compose(decisions: Sequence[Decision], results: Sequence[Sequence[ActionResult]]) -> list[Message]:
    """Group one cycle's decisions (and the action results of each, same order) into messages."""
    groups: dict[str, list[tuple[Decision, Sequence[ActionResult]]]] = {}
    states: list[Decision] = []
    clears: list[Decision] = []
    for d, rs in zip(decisions, results, strict=True):
        if d.kind == "set_state":
            states.append(d)
        elif d.kind == "alert" and d.details.get("transition") == "clear" and d.rule != "blind":
            clears.append(d)  # (seeing the account again is news of its own, not a footnote)
        elif d.kind == "alert" or d.is_order or d.level != "info" or rs:
            groups.setdefault(d.rule, []).append((d, rs))
    messages = [_group(rule, items) for rule, items in groups.items()]
    messages.sort(key=lambda m: -_RANK[m.level])  # the most severe first (stable otherwise)
    for d in states:
        line = d.reason
        if messages:
            lead = messages[0]
            messages[0] = Message(_worst(lead.level, d.level), lead.key, f"{line}\n{lead.text}")
        else:
            messages.insert(0, Message(d.level, f"{d.rule}|account", line))
    if clears:
        messages.append(_cleared(clears))
    return messages


def _group(rule: str, items: Sequence[tuple[Decision, Sequence[ActionResult]]]) -> Message:
    lines: list[str] = []
    level = "info"
    symbols: set[str] = set()
    alerts = [d for d, _ in items if d.kind == "alert"]
    for d in alerts:  # the condition(s) first: what happened
        _add(lines, d.reason)
    for d, rs in items:
        level = _worst(level, d.level)
        if d.symbol:
            symbols.add(d.symbol)
        if d.kind == "alert":
            continue
        if not any(d.reason.startswith(line) or line.startswith(d.reason) for line in lines):
            _add(lines, d.reason)  # a decision that says more than its condition
        lines.extend(f"  → {describe_action(r)}" for r in rs)  # what guardbot did, as the exchange took it
    return Message(level, f"{rule}|{','.join(sorted(symbols))}", "\n".join(lines))


def _cleared(clears: Sequence[Decision]) -> Message:
    parts: list[str] = []
    gone = 0
    for d in clears:
        level, _, reading = d.reason.removeprefix("cleared (").partition("): ")
        if reading.startswith("no longer present"):
            gone += 1
        else:
            parts.append(f"{reading} (was {level})" if reading else d.reason)
    if gone:
        parts.append(f"{gone} condition(s) ended with their positions")
    subjects = {(d.rule, d.symbol or "") for d in clears}
    # one subject: the same key as its alerts, so a flapping condition meets the same flood limit
    key = (
        f"{clears[0].rule}|{clears[0].symbol or ''}"
        if len(subjects) == 1
        else "cleared|" + ",".join(sorted({d.rule for d in clears}))
    )
    return Message("info", key, "cleared: " + "; ".join(dict.fromkeys(parts)))


def _add(lines: list[str], text: str) -> None:
    if text not in lines:
        lines.append(text)


def _worst(a: str, b: str) -> str:
    return a if _RANK[a] >= _RANK[b] else b
