"""The guard's entry points: `evaluate` one good snapshot, `evaluate_blind` a failed one.

Pure: (snapshot, figures, persisted state, limits, now) -> (decisions, new state). No I/O, no
clock. Rules run from the most to the least drastic (drawdown, margin ratio, liquidation distance,
exposure, the HALTED policy, stops), each sizing its cuts on the book the previous ones leave.

Decisions come out in the order they should be executed: the trading-state change first (so new
entries are refused at once), then cancels, closes and reductions, then stops, then alerts.
Order decisions are repeated every cycle while they are still needed, with the same episode (so
the same client order id: the gateway finds the order it already sent). Alerts are not repeated:
one when a condition starts, one when it escalates or eases, one when it clears.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from guardbot.domain import AccountSnapshot, ForcedClose, TradingState
from guardbot.guard.cashflow import FlowInput, account_for_flows
from guardbot.guard.cashflow import describe as describe_flow
from guardbot.guard.context import LEVEL_RANK, Condition, Work, episode
from guardbot.guard.decisions import RULE_BLIND, RULE_CASH_FLOW, RULE_STATE, Decision, Level
from guardbot.guard.forced import announce as announce_forced
from guardbot.guard.limits import GuardLimits
from guardbot.guard.rules import drawdown, exposure, halted, liquidation, margin, market_data, stops
from guardbot.guard.state import GuardState
from guardbot.risk.account import AccountFigures
from guardbot.risk.margin import model_for

BLIND_KEY = "blind|account"
_KIND_ORDER = {
    "set_state": 0,
    "halt": 0,
    "resume": 0,
    "cancel_order": 1,
    "close": 2,
    "reduce": 3,
    "replace_stop": 4,
    "place_stop": 5,
    "alert": 6,
}


def _active(state: GuardState) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in state.active_conditions:
        key, _, level = item.rpartition("=")
        out[key or item] = level
    return out


def _rule_of(key: str) -> str:
    return key.split("|", 1)[0]


def _subject(key: str) -> tuple[str | None, str | None]:
    parts = key.split("|")
    return (
        parts[1] if len(parts) > 1 and parts[1] != "account" else None,
        parts[2] if len(parts) > 2 else None,
    )


def evaluate(
    snapshot: AccountSnapshot,
    figures: AccountFigures,
    state: GuardState,
    limits: GuardLimits,
    now_ms: int,
    *,
    betas: Mapping[str, float] | None = None,
    correlations: Mapping[tuple[str, str], float] | None = None,
    account: str | None = None,
    flows: FlowInput | None = None,
    forced: Sequence[ForcedClose] = (),
) -> tuple[list[Decision], GuardState]:
    """Decide on one whole, fresh snapshot (`figures = measure_account(snapshot)`).

    `flows`: the venue's ledger as read this cycle (deposits, withdrawals, transfers), so money
    moved is never taken for profit or loss (see cashflow.py)."""
    name = account or snapshot.account or ""
    if (
        snapshot.timestamp_ms is not None
        and now_ms - snapshot.timestamp_ms > limits.max_snapshot_age_s * 1000
    ):
        age = (now_ms - snapshot.timestamp_ms) / 1000
        return evaluate_blind(
            state,
            limits,
            now_ms,
            f"snapshot is {age:.0f}s old (max {limits.max_snapshot_age_s:g}s)",
            account=name,
        )

    flow, based = account_for_flows(state, snapshot, flows, now_ms)
    w = Work(
        snapshot, figures, based, limits, now_ms, name, model_for(snapshot.exchange), betas, correlations
    )
    w.flow = flow
    drawdown.check(w)
    margin.check(w)
    liquidation.check(w)
    exposure.check(w)
    halted.check(w)
    stops.check(w)
    market_data.check(w)

    _note_withheld(w)
    decisions: list[Decision] = announce_forced(name, forced)  # the exchange liquidated anyway: say it first
    # trading state
    nxt = w.next_state
    if nxt.locked:
        target, why = TradingState.HALTED, nxt.lock_reason or "locked"
    elif w.reducing:
        target, why = TradingState.REDUCING, "; ".join(dict.fromkeys(w.reducing))
    else:
        target, why = TradingState.ACTIVE, "back within limits"
    if target is not state.trading_state:
        levels: dict[str, Level] = {"HALTED": "critical", "REDUCING": "warning", "ACTIVE": "info"}
        level = levels[target.value]
        cancels = any(a.rule == "halted" and a.kind == "cancel_order" for a in w.actions)
        suffix = {
            "HALTED": "new entries refused" + (", entry orders cancelled" if cancels else ""),
            "REDUCING": "only reduce-only orders, new entries refused",
            "ACTIVE": "new entries allowed",
        }[target.value]
        decisions.append(
            Decision(
                RULE_STATE,
                "set_state",
                name,
                f"{state.trading_state.value} → {target.value}: {why} ({suffix})",
                f"{RULE_STATE}:account:{target.value}:{now_ms}",
                level,
                details={"from": state.trading_state.value, "to": target.value},
            )
        )
    decisions.extend(sorted(w.actions, key=lambda d: _KIND_ORDER[d.kind]))
    flow_text = describe_flow(flow, state, based, snapshot.settle_currency)
    if flow_text and not (flow.hold and state.unexplained_cycles):  # a hold is said once
        decisions.append(
            Decision(
                RULE_CASH_FLOW,
                "alert",
                name,
                flow_text,
                f"{RULE_CASH_FLOW}:account:-:{now_ms}",
                "warning" if flow.presumed else "info",
                details={
                    "amount": flow.amount,
                    "presumed": flow.presumed,
                    "hold": flow.hold,
                    "jump": flow.jump,
                    "ledger": [
                        {"id": f.id, "ts": f.ts_ms, "amount": f.amount, "kind": f.kind} for f in flow.reported
                    ],
                },
            )
        )

    # alerts: start / escalate / ease / clear
    old = _active(state)
    active: set[str] = set()
    for key in sorted(w.conditions):
        c = w.conditions[key]
        if not c.alert:
            continue
        active.add(f"{key}={c.level}")
        ep = episode(c.rule, c.symbol, c.side, w.first_seen.get(f"cond|{key}"))
        before = old.get(key)
        if before is None:
            text, lvl, transition = c.reason, c.severity, "start"
        elif LEVEL_RANK.get(c.level, 0) > LEVEL_RANK.get(before, 0):
            text, lvl, transition = f"escalated {before} → {c.level}: {c.reason}", c.severity, "escalate"
        elif LEVEL_RANK.get(c.level, 0) < LEVEL_RANK.get(before, 0):
            text, lvl, transition = f"eased {before} → {c.level}: {c.reason}", "info", "ease"
        else:
            continue
        decisions.append(
            Decision(
                c.rule,
                "alert",
                name,
                text,
                ep,
                lvl,
                symbol=c.symbol,
                side=c.side,
                details={"transition": transition, "condition": key, "level": c.level},
            )
        )
    for key in sorted(old):
        if key in w.conditions or key == BLIND_KEY:
            continue
        rule = _rule_of(key)
        symbol, _ = _subject(key)
        reading = w.readings.get(key, "no longer present")
        text = f"cleared ({old[key]}): {reading}"
        if rule == "drawdown" and nxt.locked:
            text += f"; still HALTED until /resume ({nxt.lock_reason})"
        since = state.first_seen_ms.get(f"cond|{key}")
        decisions.append(
            Decision(
                rule,
                "alert",
                name,
                text,
                f"{rule}:{key}:{since}:clear",
                "info",
                symbol=symbol,
                details={"transition": "clear", "condition": key, "level": old[key]},
            )
        )
    if BLIND_KEY in old:
        lost = state.first_seen_ms.get(f"cond|{BLIND_KEY}")
        for_how_long = f" after {(now_ms - lost) / 1000:.0f}s blind" if lost is not None else ""
        decisions.append(
            Decision(
                RULE_BLIND,
                "alert",
                name,
                f"guardbot sees the account again{for_how_long} ({state.failures} failed snapshots)",
                f"{RULE_BLIND}:account:-:{lost}:clear",
                "info",
                details={"transition": "clear", "condition": BLIND_KEY},
            )
        )

    new_state = replace(
        nxt,
        trading_state=target,
        consecutive=w.consecutive,
        first_seen_ms=w.first_seen,
        active_conditions=frozenset(active),
        failures=0,
        last_ok_ms=now_ms,
    )
    return decisions, new_state


def _note_withheld(w: Work) -> None:
    """A rule whose policy kept it from sending says so in its condition's alert, once."""
    for key, c in list(w.conditions.items()):
        held = w.withheld.get(c.rule)
        if not held:
            continue
        policy = w.limits.policy(c.rule)
        what = "; ".join(dict.fromkeys(held))
        note = (
            f' — not sent, [guard.actions] {c.rule} = "{policy}" '
            f"({'alerts only' if policy == 'alert' else 'places stops only'}): {what}"
        )
        w.conditions[key] = replace(c, reason=c.reason + note, alert=True)
    for rule, held in w.withheld.items():
        if not any(c.rule == rule for c in w.conditions.values()):
            # no condition carries it (a stop to place): its own once-per-episode alert
            key = f"{rule}|withheld"
            w.raise_condition(
                Condition(
                    key,
                    rule,
                    "on",
                    "warning",
                    f'not sent, [guard.actions] {rule} = "{w.limits.policy(rule)}": '
                    + "; ".join(dict.fromkeys(held)),
                )
            )


def evaluate_blind(
    state: GuardState, limits: GuardLimits, now_ms: int, error: str, *, account: str = ""
) -> tuple[list[Decision], GuardState]:
    """A cycle without a usable snapshot: never act, count it, and say so once when blind.

    Blind = `blind_after_failures` consecutive failures, or the last good snapshot older than
    `max_snapshot_age_s`. One critical alert when it starts (not one per cycle); `evaluate` sends
    the recovery alert. Everything else in the state (locks, counters, conditions) is kept.
    """
    failures = state.failures + 1
    age_s = (now_ms - state.last_ok_ms) / 1000 if state.last_ok_ms is not None else None
    blind = failures >= limits.blind_after_failures or (
        age_s is not None and age_s > limits.max_snapshot_age_s
    )
    decisions: list[Decision] = []
    active = set(state.active_conditions)
    first_seen = dict(state.first_seen_ms)
    if blind and not state.blind:
        last = f"last good snapshot {age_s:.0f}s ago" if age_s is not None else "no good snapshot yet"
        decisions.append(
            Decision(
                RULE_BLIND,
                "alert",
                account,
                f"guardbot cannot see the account: {failures} failed snapshots, {last} ({error}); "
                "no action is taken on partial data",
                f"{RULE_BLIND}:account:-:{now_ms}",
                "critical",
                details={"transition": "start", "condition": BLIND_KEY, "error": error, "failures": failures},
            )
        )
        active.add(f"{BLIND_KEY}=on")
        first_seen[f"cond|{BLIND_KEY}"] = now_ms
    return decisions, replace(
        state, failures=failures, active_conditions=frozenset(active), first_seen_ms=first_seen
    )
