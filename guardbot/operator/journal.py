"""Reading the journal: the latest state of each account and the timeline of what happened.

`guardbot status` and `guardbot history` read the journal file (the daemon may be running or not);
Telegram's /history reads the daemon's open journal. The rows are plain dicts whose keys are the
documented `--json` contract (docs/cli.md).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guardbot.errors import UserError
from guardbot.operator.health import Levels, health
from guardbot.store import EventRow, Journal, JournalReader
from guardbot.store.rows import ActionRow, AlertRow, DecisionRow, HistoryItem, SnapshotRow, TransitionRow

if TYPE_CHECKING:
    from guardbot.config import Settings

_SINCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}

RECENT_KINDS = ("decision", "transition", "action", "alert", "event")
"""What Telegram's /history shows: the CLI's timeline plus events (commands, strangers)."""


def parse_since(text: str) -> int:
    """'30m', '24h', '7d', '2w' -> milliseconds."""
    m = _SINCE.match(text)
    if not m:
        raise ValueError(f"--since {text!r}: expected a duration like 30m, 24h, 7d or 2w")
    return int(float(m.group(1)) * _UNIT_MS[m.group(2)])


def iso(ts_ms: int) -> str:
    return dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def open_reader(settings: Settings) -> JournalReader:
    """The journal file of `settings`, read-only; a UserError when there is none yet."""
    path = Path(settings.storage.path)
    if not path.exists():
        raise UserError(f"no journal at {path}: start `guardbot run` first (or set storage.path)")
    return JournalReader(path)


def status_rows(reader: JournalReader, settings: Settings, now_ms: int) -> list[dict[str, Any]]:
    """The latest snapshot of each account with its guard state (`guardbot status`).

    `dry_run` is what the daemon ran the account with (its last `start` event: `run --dry-run`
    counts), else what the config says, else null; `age_s` is the age of that last good snapshot;
    `health` is the dot both front ends show (operator/health.py); `ignored` the configured
    `ignore_symbols` (measured in the pool, never acted on)."""
    started = reader.last_event("start")
    modes: dict[str, Any] = started.details.get("dry_run", {}) if started is not None else {}
    configured = {a.name: a.dry_run for a in settings.accounts}
    ignored = {a.name: list(a.ignore_symbols) for a in settings.accounts}
    levels = Levels.of(settings.guard)
    out = []
    for s in reader.latest_snapshots():
        gs = reader.load_guard_state(s.account)
        hwm = gs.high_water_mark if gs else None
        margin_ratio = s.margin_ratio if math.isfinite(s.margin_ratio) else None
        drawdown = max(0.0, (hwm - s.equity) / hwm * 100) if hwm else None
        dry_run = modes.get(s.account, configured.get(s.account))
        out.append(
            {
                "account": s.account,
                "ts": s.ts,
                "time": iso(s.ts),
                "equity": s.equity,
                "margin_ratio": margin_ratio,
                "effective_leverage": s.effective_leverage if math.isfinite(s.effective_leverage) else None,
                "drawdown_pct": drawdown,
                "positions": s.positions_count,
                "state": s.state,
                "lock_reason": gs.lock_reason if gs else None,
                "paused": bool(gs.paused) if gs else False,
                "dry_run": dry_run if isinstance(dry_run, bool) else None,
                "age_s": max(0, (now_ms - s.ts) // 1000),
                "health": health(s.state, margin_ratio, drawdown, levels),
                "ignored": ignored.get(s.account, []),
            }
        )
    return out


def account_status(settings: Settings, now_ms: int) -> list[dict[str, Any]]:
    with open_reader(settings) as reader:
        return status_rows(reader, settings, now_ms)


def describe(item: HistoryItem) -> str:
    """One line of the timeline."""
    r = item.row
    if isinstance(r, DecisionRow):
        return f"decision {r.rule}/{r.kind}: {r.reason}"
    if isinstance(r, ActionRow):
        qty = "" if r.quantity is None else f" {r.quantity:g}"
        at = "" if r.trigger_price is None else f" @ {r.trigger_price:g}"
        if r.price is not None and r.trigger_price is None:
            at = f" limit {r.price:g}"
        dry = " (dry-run)" if r.dry_run else ""
        return (
            f"action {r.kind} {r.side or ''}{qty} {r.symbol or ''}{at} [{action_status(r)}]{dry} "
            f"{r.client_order_id}"
        )
    if isinstance(r, TransitionRow):
        return f"state {r.from_state} -> {r.to_state}: {r.reason}"
    if isinstance(r, AlertRow):
        return f"alert {r.level} ({r.delivered}): {r.text}"
    if isinstance(r, SnapshotRow):
        return f"snapshot equity {r.equity:,.2f}"
    return str(r)


_ORDER_STATE_WORDS = {
    "open": "resting",
    "filled": "filled",
    "canceled": "cancelled",
    "expired": "expired unfilled",
    "rejected": "rejected",
}


def action_status(r: ActionRow) -> str:
    """`confirmed` alone does not say whether an order rests or filled: say which."""
    if r.order_state is None or r.kind.value in ("cancel", "set_leverage"):
        return str(r.status)
    return f"{r.status}, {_ORDER_STATE_WORDS.get(r.order_state.value, r.order_state.value)}"


def history_rows(
    reader: JournalReader, since_ms: int, now_ms: int, account: str | None
) -> list[dict[str, Any]]:
    """Decisions, actions, transitions and alerts of the last `since_ms` (`guardbot history`)."""
    items = reader.history(now_ms - since_ms, account=account)
    return [
        {
            "ts": i.ts,
            "time": iso(i.ts),
            "account": i.account,
            "kind": str(i.kind),
            "text": describe(i),
            "row": _plain(asdict(i.row)),
        }
        for i in items
    ]


def known_accounts(settings: Settings, reader: JournalReader) -> list[str]:
    """Accounts of the config and of the journal (a journal may outlive a config's accounts)."""
    names = [a.name for a in settings.accounts] + [s.account for s in reader.latest_snapshots()]
    return sorted(dict.fromkeys(names))


def account_history(
    settings: Settings, since_ms: int, now_ms: int, account: str | None
) -> list[dict[str, Any]]:
    with open_reader(settings) as reader:
        if account is not None:
            known = known_accounts(settings, reader)
            if account not in known:
                listed = ", ".join(known) if known else "none yet (no account in the config or the journal)"
                raise UserError(f"unknown account {account!r}; known accounts: {listed}")
        return history_rows(reader, since_ms, now_ms, account)


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


async def recent_history(
    journal: Journal, account: str | None, limit: int
) -> list[tuple[int, str | None, str]]:
    """The last `limit` lines (events included) as (ts, account, text), for Telegram's /history."""
    items = await journal.history(0, account=account, kinds=RECENT_KINDS, limit=limit)
    return [(i.ts, i.account, _describe_with_events(i)) for i in items]


def _describe_with_events(item: HistoryItem) -> str:
    if isinstance(item.row, EventRow):
        return f"event {item.row.kind}: {item.row.text}"
    return describe(item)
