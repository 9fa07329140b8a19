"""Journal writes. Each function takes the writer's Database first and runs on the writer thread.

Every function validates all of its input first, then writes inside one `db.atomic()` block: it
either commits whole or leaves the journal exactly as it was (earlier rows are never touched).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlite_utils import Database
from sqlite_utils.db import Table

from guardbot.domain import TradingState
from guardbot.store import codec, queries
from guardbot.store.rows import (
    ActionKind,
    ActionRow,
    ActionStatus,
    AlertLevel,
    Delivery,
    GuardStateRow,
    OrderState,
)

ORDER_SIDES = ("buy", "sell")


def _table(db: Database, name: str) -> Table:
    return Table(db, name)  # db[name] would also accept a view (and costs a lookup per call)


def _insert_sql(name: str, row: Mapping[str, Any]) -> str:
    # Plain prepared INSERTs: sqlite3 caches the statement, ~3x faster than Table.insert per row.
    return f"INSERT INTO {name} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"


def _update(db: Database, name: str, row_id: int, changes: Mapping[str, Any]) -> None:
    # A plain prepared UPDATE: Table.update reads the table's columns on every call (3x slower).
    sets = ", ".join(f"{column} = ?" for column in changes)
    db.execute(f"UPDATE {name} SET {sets} WHERE id = ?", [*changes.values(), row_id])


def _insert(db: Database, name: str, row: Mapping[str, Any]) -> int:
    cur = db.execute(_insert_sql(name, row), list(row.values()))
    if cur.lastrowid is None:  # pragma: no cover - every journal table has a rowid
        raise RuntimeError(f"journal: insert into {name} returned no id")
    return int(cur.lastrowid)


class ActionConflictError(ValueError):
    """A client order id already journaled for a different action: ids must be unique per action."""


def record_decision(
    db: Database,
    account: str,
    ts: int,
    *,
    rule: str,
    kind: str,
    reason: str,
    symbol: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> int:
    row = {
        "account": codec.text("account", account),
        "ts": codec.ts("ts", ts),
        "rule": codec.text("rule", rule),
        "kind": codec.text("kind", kind),
        "symbol": codec.opt_text("symbol", symbol),
        "reason": codec.prose("reason", reason),
        "details": codec.to_json("details", details),
    }
    with db.atomic():
        return _insert(db, "decisions", row)


def record_decisions(
    db: Database, account: str, ts: int, decisions: Sequence[Mapping[str, Any]]
) -> list[int]:
    """Several decisions of one cycle in one transaction (each a mapping of `record_decision`'s
    keyword arguments); their ids, in order."""
    rows = [
        {
            "account": codec.text("account", account),
            "ts": codec.ts("ts", ts),
            "rule": codec.text("rule", d["rule"]),
            "kind": codec.text("kind", d["kind"]),
            "symbol": codec.opt_text("symbol", d.get("symbol")),
            "reason": codec.text("reason", d["reason"]),
            "details": codec.to_json("details", d.get("details")),
        }
        for d in decisions
    ]
    with db.atomic():
        return [_insert(db, "decisions", row) for row in rows]


def add_pending_action(
    db: Database,
    account: str,
    ts: int,
    *,
    rule: str,
    kind: str,
    client_order_id: str,
    dry_run: bool,
    symbol: str | None = None,
    side: str | None = None,
    quantity: float | None = None,
    price: float | None = None,
    trigger_price: float | None = None,
    decision_id: int | None = None,
) -> int:
    """Journal an action *before* it is sent; returns its id.

    Idempotent: the same client order id for the same (account, kind, symbol, side) returns the
    existing id, so a retry or a restart never journals (and so never sends) an action twice. A
    dry-run action is stored with status `dry_run` straight away: it will never be sent.
    """
    if not isinstance(dry_run, bool):
        raise ValueError(f"journal: dry_run must be True or False, got {dry_run!r}")
    row: dict[str, Any] = {
        "decision_id": None if decision_id is None else codec.ts("decision_id", decision_id),
        "account": codec.text("account", account),
        "ts": codec.ts("ts", ts),
        "rule": codec.text("rule", rule),
        "kind": codec.choice(ActionKind, "kind", kind).value,
        "symbol": codec.opt_text("symbol", symbol),
        "side": None if side is None else codec.text("side", side),
        "quantity": codec.opt_number("quantity", quantity),
        "price": codec.opt_number("price", price),
        "trigger_price": codec.opt_number("trigger_price", trigger_price),
        "client_order_id": codec.text("client_order_id", client_order_id),
        "dry_run": int(dry_run),
        "status": (ActionStatus.DRY_RUN if dry_run else ActionStatus.PENDING).value,
        "exchange_order_id": None,
        "reply": None,
        "updated_ts": ts,
    }
    if row["side"] is not None and row["side"] not in ORDER_SIDES:
        raise ValueError(f"journal: side must be the order side (buy or sell), got {side!r}")
    with db.atomic():
        existing = queries.action_by_client_id(db, row["client_order_id"])
        if existing is not None:
            same = (existing.account, existing.kind.value, existing.symbol, existing.side) == (
                row["account"],
                row["kind"],
                row["symbol"],
                row["side"],
            )
            if not same:
                raise ActionConflictError(
                    f"journal: client_order_id {client_order_id!r} is already used by action {existing.id} "
                    f"({existing.account} {existing.kind} {existing.symbol} {existing.side})"
                )
            return existing.id
        return _insert(db, "actions", row)


def update_action(
    db: Database,
    client_order_id: str,
    status: str,
    exchange_order_id: str | None = None,
    reply: str | Mapping[str, Any] | None = None,
    ts: int | None = None,
    order_state: str | None = None,
) -> ActionRow:
    """Move an action along pending -> sent/unknown -> confirmed/failed/rejected; returns the row.

    `exchange_order_id`, `reply` and `order_state` are kept when not given. A settled action
    cannot be reopened (only its `order_state` may still change: a resting stop that later
    fills), and a dry-run action can never become sent or confirmed.
    """
    new = codec.choice(ActionStatus, "status", status)
    updated_ts = codec.now_ms() if ts is None else codec.ts("ts", ts)
    reply_str = codec.reply_text(reply)
    with db.atomic():
        current = queries.action_by_client_id(db, client_order_id)
        if current is None:
            raise KeyError(f"journal: no action with client_order_id {client_order_id!r}")
        if current.dry_run and new in (ActionStatus.SENT, ActionStatus.CONFIRMED, ActionStatus.PENDING):
            raise ValueError(f"journal: action {client_order_id!r} is dry-run; it cannot become {new}")
        if not current.status.is_open and new.is_open:
            raise ValueError(
                f"journal: action {client_order_id!r} is already {current.status}; cannot go back to {new}"
            )
        if not current.dry_run and new is ActionStatus.DRY_RUN:
            raise ValueError(f"journal: action {client_order_id!r} is live; it cannot become dry_run")
        changes: dict[str, Any] = {"status": new.value, "updated_ts": updated_ts}
        if exchange_order_id is not None:
            changes["exchange_order_id"] = codec.text("exchange_order_id", str(exchange_order_id))
        if reply_str is not None:
            changes["reply"] = reply_str
        if order_state is not None:
            changes["order_state"] = codec.choice(OrderState, "order_state", order_state).value
        _update(db, "actions", current.id, changes)
        updated = queries.action_by_client_id(db, client_order_id)
    assert updated is not None
    return updated


def record_alert(
    db: Database,
    account: str | None,
    ts: int,
    *,
    level: str,
    key: str,
    text: str,
    delivered: str = Delivery.PENDING,
) -> int:
    row = {
        "account": codec.opt_text("account", account),
        "ts": codec.ts("ts", ts),
        "level": codec.choice(AlertLevel, "level", level).value,
        "key": codec.text("key", key),
        "text": codec.prose("text", text),
        "delivered": codec.choice(Delivery, "delivered", delivered).value,
        "attempts": 0,
    }
    with db.atomic():
        return _insert(db, "alerts", row)


def update_alert_delivery(db: Database, alert_id: int, delivered: str, attempts: int | None = None) -> None:
    """Record a delivery outcome. `attempts=None` counts this as one more attempt."""
    status = codec.choice(Delivery, "delivered", delivered).value
    if attempts is not None and (isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0):
        raise ValueError(f"journal: attempts must be a non-negative int, got {attempts!r}")
    with db.atomic():
        cur = db.execute(
            "UPDATE alerts SET delivered = ?, attempts = COALESCE(?, attempts + 1) WHERE id = ?",
            [status, attempts, alert_id],
        )
        if cur.rowcount == 0:
            raise KeyError(f"journal: no alert with id {alert_id!r}")


def record_transition(
    db: Database, account: str, ts: int, *, from_state: str | None, to_state: str, reason: str
) -> int:
    row = {
        "account": codec.text("account", account),
        "ts": codec.ts("ts", ts),
        "from_state": None
        if from_state is None
        else codec.choice(TradingState, "from_state", from_state).value,
        "to_state": codec.choice(TradingState, "to_state", to_state).value,
        "reason": codec.prose("reason", reason),
    }
    with db.atomic():
        return _insert(db, "transitions", row)


def save_guard_state(db: Database, row: GuardStateRow) -> None:
    """Insert or replace the account's guard state (all columns). `updated_ts=0` means now."""
    if not isinstance(row, GuardStateRow):
        raise ValueError(f"journal: save_guard_state takes a GuardStateRow, got {type(row).__name__}")
    record = {
        "account": codec.text("account", row.account),
        "high_water_mark": codec.opt_number("high_water_mark", row.high_water_mark),
        "day_start_equity": codec.opt_number("day_start_equity", row.day_start_equity),
        "day_start_ts": codec.opt_ts("day_start_ts", row.day_start_ts),
        "trading_state": codec.choice(TradingState, "trading_state", row.trading_state).value,
        "lock_reason": row.lock_reason,
        "locked_until_ts": codec.opt_ts("locked_until_ts", row.locked_until_ts),
        "paused": int(bool(row.paused)),
        "updated_ts": codec.ts("updated_ts", row.updated_ts) or codec.now_ms(),
        "extra": None if row.extra is None else codec.to_json("extra", row.extra),
    }
    with db.atomic():
        _table(db, "guard_state").upsert(record, pk="account")


def record_event(
    db: Database,
    account: str | None,
    ts: int,
    *,
    kind: str,
    text: str,
    details: Mapping[str, Any] | None = None,
) -> int:
    row = {
        "account": codec.opt_text("account", account),
        "ts": codec.ts("ts", ts),
        "kind": codec.text("kind", kind),
        "text": codec.prose("text", text),
        "details": codec.to_json("details", details),
    }
    with db.atomic():
        return _insert(db, "events", row)
