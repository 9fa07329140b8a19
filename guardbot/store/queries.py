"""Journal reads, shared by the writer (async, daemon side) and JournalReader (read-only, CLI side)."""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlite_utils import Database

from guardbot.store import codec
from guardbot.store.rows import (
    ActionRow,
    AlertRow,
    DecisionRow,
    EventRow,
    GuardStateRow,
    HistoryEntry,
    HistoryItem,
    HistoryKind,
    PositionRow,
    SnapshotRow,
    TransitionRow,
)
from guardbot.store.schema import POSITION_FIELDS

DEFAULT_HISTORY_KINDS = (HistoryKind.DECISION, HistoryKind.TRANSITION, HistoryKind.ACTION, HistoryKind.ALERT)
# Same-millisecond order in `history`: a decision, then the state change it caused, then the order, then
# the alert about it.
_KIND_RANK = {k: i for i, k in enumerate(HistoryKind)}

# Each account's latest snapshot in O(accounts x log n): a loose index scan over (account, ts) instead of
# a GROUP BY over every row ever journaled.
_LATEST_IDS = """
WITH RECURSIVE accts(a) AS (
    SELECT MIN(account) FROM snapshots
    UNION ALL
    SELECT (SELECT MIN(account) FROM snapshots WHERE account > accts.a) FROM accts WHERE accts.a IS NOT NULL
)
SELECT (SELECT id FROM snapshots WHERE account = accts.a ORDER BY ts DESC, id DESC LIMIT 1) AS id
FROM accts WHERE accts.a IS NOT NULL
"""


def _window(since_ms: int, until_ms: int | None) -> tuple[int, int]:
    lo = codec.ts("since_ms", since_ms)
    return lo, (2**62 if until_ms is None else codec.ts("until_ms", until_ms))


def latest_snapshots(db: Database) -> list[SnapshotRow]:
    """Each account's most recent snapshot, ordered by account."""
    sql = f"SELECT {codec.columns(SnapshotRow)} FROM snapshots WHERE id IN ({_LATEST_IDS}) ORDER BY account"
    return [codec.snapshot_row(d) for d in db.query(sql)]


def positions_of(db: Database, snapshot_id: int) -> list[PositionRow]:
    """The positions stored with a snapshot ([] when none were, or the row kept only its figures).

    Rows since schema 6 hold them as one JSON array (`snapshots.positions_json`); older rows in the
    `positions` table, which is still read until those rows age out.
    """
    sql = "SELECT account, ts, positions_json FROM snapshots WHERE id = ?"
    got = db.execute(sql, [snapshot_id]).fetchone()
    if got is not None and got[2] is not None:
        account, ts, raw = got
        rows = [
            PositionRow(snapshot_id, account, ts, **dict(zip(POSITION_FIELDS, leg, strict=True)))
            for leg in json.loads(raw)
        ]
        return sorted(rows, key=lambda r: (r.symbol, r.side))
    sql = f"SELECT {codec.columns(PositionRow)} FROM positions WHERE snapshot_id = ? ORDER BY symbol, side"
    return [codec.position_row(d) for d in db.query(sql, [snapshot_id])]


def cycles_journaled(db: Database, account: str) -> int:
    """How many guard cycles of `account` the retained snapshot rows stand for (it grows by one per
    cycle, even when a cycle only replaced the previous not-kept row)."""
    row = db.execute("SELECT COALESCE(SUM(cycles), 0) FROM snapshots WHERE account = ?", [account]).fetchone()
    return int(row[0])


def equity_series(
    db: Database, account: str, since_ms: int, until_ms: int | None = None
) -> list[tuple[int, float, float]]:
    """(ts, equity, margin_ratio) per snapshot, oldest first: the data behind equity/margin charts."""
    sql = (
        "SELECT ts, equity, margin_ratio FROM snapshots"
        " WHERE account = ? AND ts >= ? AND ts <= ? ORDER BY ts, id"
    )
    since_ms, hi = _window(since_ms, until_ms)
    return [(int(t), float(e), float(m)) for t, e, m in db.execute(sql, [account, since_ms, hi]).fetchall()]


def action_by_client_id(db: Database, client_order_id: str) -> ActionRow | None:
    sql = f"SELECT {codec.columns(ActionRow)} FROM actions WHERE client_order_id = ?"
    rows = [codec.action_row(d) for d in db.query(sql, [client_order_id])]
    return rows[0] if rows else None


def actions_for(db: Database, account: str, since_ms: int) -> list[ActionRow]:
    since_ms = codec.ts("since_ms", since_ms)
    sql = f"SELECT {codec.columns(ActionRow)} FROM actions WHERE account = ? AND ts >= ? ORDER BY ts, id"
    return [codec.action_row(d) for d in db.query(sql, [account, since_ms])]


def pending_actions(db: Database, account: str | None = None) -> list[ActionRow]:
    """Live actions whose fate is not settled yet (pending, sent or unknown): what a look-up must
    reconcile, every cycle and after a restart."""
    sql = (
        f"SELECT {codec.columns(ActionRow)} FROM actions "
        "WHERE status IN ('pending', 'sent', 'unknown') AND dry_run = 0"
    )
    params: list[Any] = []
    if account is not None:
        sql += " AND account = ?"
        params.append(account)
    return [codec.action_row(d) for d in db.query(sql + " ORDER BY ts, id", params)]


def resting_actions(db: Database, account: str) -> list[ActionRow]:
    """Live orders the exchange accepted and last reported resting (our stops, limit entries):
    what must be looked up once they leave the book, to journal what became of them."""
    sql = (
        f"SELECT {codec.columns(ActionRow)} FROM actions "
        "WHERE account = ? AND status = 'confirmed' AND order_state = 'open' AND dry_run = 0 ORDER BY ts, id"
    )
    return [codec.action_row(d) for d in db.query(sql, [account])]


def load_guard_state(db: Database, account: str) -> GuardStateRow | None:
    sql = f"SELECT {codec.columns(GuardStateRow)} FROM guard_state WHERE account = ?"
    rows = [codec.guard_state_row(d) for d in db.query(sql, [account])]
    return rows[0] if rows else None


def last_alert(db: Database, key: str) -> AlertRow | None:
    """The most recent alert with this dedup key (to suppress repeats across restarts)."""
    sql = f"SELECT {codec.columns(AlertRow)} FROM alerts WHERE key = ? ORDER BY ts DESC, id DESC LIMIT 1"
    rows = [codec.alert_row(d) for d in db.query(sql, [key])]
    return rows[0] if rows else None


def last_event(db: Database, kind: str) -> EventRow | None:
    """The most recent event of this kind (e.g. the daemon's last `start`)."""
    sql = f"SELECT {codec.columns(EventRow)} FROM events WHERE kind = ? ORDER BY ts DESC, id DESC LIMIT 1"
    rows = [codec.event_row(d) for d in db.query(sql, [kind])]
    return rows[0] if rows else None


_HISTORY_SOURCES: dict[HistoryKind, tuple[str, type[Any], Callable[[Mapping[str, Any]], HistoryEntry]]] = {
    HistoryKind.DECISION: ("decisions", DecisionRow, codec.decision_row),
    HistoryKind.TRANSITION: ("transitions", TransitionRow, codec.transition_row),
    HistoryKind.ACTION: ("actions", ActionRow, codec.action_row),
    HistoryKind.ALERT: ("alerts", AlertRow, codec.alert_row),
    HistoryKind.EVENT: ("events", EventRow, codec.event_row),
}


def _history_kinds(kinds: Iterable[str]) -> list[HistoryKind]:
    if isinstance(kinds, str):  # a lone "alert" would otherwise iterate as letters
        kinds = [kinds]
    return [codec.choice(HistoryKind, "history kind", k) for k in kinds]


def history(
    db: Database,
    since_ms: int,
    account: str | None = None,
    kinds: Iterable[str] = DEFAULT_HISTORY_KINDS,
    until_ms: int | None = None,
    limit: int | None = None,
) -> list[HistoryItem]:
    """Decisions, transitions, actions and alerts (and, if asked, events) merged by time, oldest first.

    `limit` keeps the most recent `limit` items. Ties in time are ordered decision, transition, action,
    alert, event, then by id.
    """
    since_ms, hi = _window(since_ms, until_ms)
    if limit is not None and limit <= 0:
        return []
    streams: list[list[tuple[int, int, int, HistoryItem]]] = []
    for kind in dict.fromkeys(_history_kinds(kinds)):
        table, row_type, decode = _HISTORY_SOURCES[kind]
        where = "ts >= ? AND ts <= ?"
        params: list[Any] = [since_ms, hi]
        if account is not None:
            where += " AND account = ?"
            params.append(account)
        inner = f"SELECT {codec.columns(row_type)} FROM {table} WHERE {where} ORDER BY ts DESC, id DESC"
        if limit is not None:
            inner += " LIMIT ?"
            params.append(limit)
        rank = _KIND_RANK[kind]
        stream = []
        for d in db.query(f"SELECT * FROM ({inner}) ORDER BY ts, id", params):
            row = decode(d)
            stream.append((row.ts, rank, row.id, HistoryItem(row.ts, kind, row.account, row)))
        streams.append(stream)
    merged = [item for *_, item in heapq.merge(*streams)]
    return merged[-limit:] if limit is not None else merged
