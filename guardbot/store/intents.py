"""Journal tables of the entry path (schema version 4): intents, brackets, strategy state.

- `intents`: every trade intent, whoever proposed it (`manual`, `webhook`, a strategy's name), with
  what became of it: refused (and why), placed, dry-run, failed. One row per (account, source,
  intent_key): a signal id seen twice is found, not journaled twice.
- `brackets`: the orders one intent became (the entry, its stop, its take-profits, by client order
  id) and where the bracket stands: a resting limit entry and its stop are one bracket.
- `strategy_state`: a strategy paused after an error (or by hand), until resumed.

Like writes.py and queries.py, each function takes the writer's (or a reader's) Database first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlite_utils import Database

from guardbot.store import codec
from guardbot.store.rows import JsonDict


class IntentStatus(StrEnum):
    RECEIVED = "received"  # journaled, being checked
    REFUSED = "refused"  # nothing sent; `outcome` says why
    PLACED = "placed"  # the entry was accepted by the exchange (see the bracket for the rest)
    DRY_RUN = "dry_run"  # checked and sized; nothing sent (dry-run account)
    FAILED = "failed"  # the entry was refused by the exchange or could not be sent


class BracketStatus(StrEnum):
    RESTING = "resting"  # a limit entry waits on the book with its stop
    OPEN = "open"  # the entry filled (a market entry at once): the stop protects the position
    CANCELLED = "cancelled"  # the entry left the book unfilled: its stop and take-profits cancelled
    UNWOUND = "unwound"  # the stop could not be placed: the entry was cancelled or closed at once
    DRY_RUN = "dry_run"  # nothing was sent


@dataclass(frozen=True, slots=True)
class IntentRow:
    id: int
    account: str
    ts: int
    source: str
    intent_key: str
    symbol: str
    side: str
    stop: float
    entry: float | None
    take_profits: list[dict[str, float]]
    risk_amount: float | None
    risk_pct: float | None
    reason: str
    status: IntentStatus
    outcome: str | None
    quantity: float | None
    details: JsonDict
    updated_ts: int


@dataclass(frozen=True, slots=True)
class BracketRow:
    id: int
    intent_id: int
    account: str
    ts: int
    symbol: str
    side: str
    entry_client_id: str
    stop_client_id: str | None
    take_profit_client_ids: list[str]
    status: BracketStatus
    updated_ts: int


@dataclass(frozen=True, slots=True)
class StrategyStateRow:
    strategy: str
    paused: bool
    reason: str | None
    updated_ts: int


def _intent_row(d: Mapping[str, Any]) -> IntentRow:
    return IntentRow(
        **{
            **d,
            "take_profits": json.loads(d["take_profits"] or "[]"),
            "status": IntentStatus(d["status"]),
            "details": codec.from_json(d["details"]),
        }
    )


def _bracket_row(d: Mapping[str, Any]) -> BracketRow:
    return BracketRow(
        **{
            **d,
            "take_profit_client_ids": json.loads(d["take_profit_client_ids"] or "[]"),
            "status": BracketStatus(d["status"]),
        }
    )


def _take_profits(value: Sequence[Mapping[str, float]]) -> str:
    out = []
    for i, tp in enumerate(value):
        price = codec.number(f"take_profits[{i}].price", tp.get("price"))
        fraction = codec.number(f"take_profits[{i}].fraction", tp.get("fraction"))
        out.append({"price": price, "fraction": fraction})
    return json.dumps(out, separators=(",", ":"))


# ---------------------------------------------------------------------------- intents


def intent_by_key(db: Database, account: str, source: str, key: str) -> IntentRow | None:
    sql = (
        f"SELECT {codec.columns(IntentRow)} FROM intents WHERE account = ? AND source = ? AND intent_key = ?"
    )
    rows = [_intent_row(d) for d in db.query(sql, [account, source, key])]
    return rows[0] if rows else None


def record_intent(
    db: Database,
    account: str,
    ts: int,
    *,
    source: str,
    key: str,
    symbol: str,
    side: str,
    stop: float,
    entry: float | None = None,
    take_profits: Sequence[Mapping[str, float]] = (),
    risk_amount: float | None = None,
    risk_pct: float | None = None,
    reason: str = "",
) -> tuple[int, bool]:
    """Journal an intent as `received`; (its id, True) — or (the id of the intent already journaled
    under the same (account, source, key), False): a repeated signal id is not a second intent."""
    row: dict[str, Any] = {
        "account": codec.text("account", account),
        "ts": codec.ts("ts", ts),
        "source": codec.text("source", source),
        "intent_key": codec.text("intent_key", key),
        "symbol": codec.text("symbol", symbol),
        "side": codec.text("side", side),
        "stop": codec.number("stop", stop),
        "entry": codec.opt_number("entry", entry),
        "take_profits": _take_profits(take_profits),
        "risk_amount": codec.opt_number("risk_amount", risk_amount),
        "risk_pct": codec.opt_number("risk_pct", risk_pct),
        "reason": str(reason),
        "status": IntentStatus.RECEIVED.value,
        "outcome": None,
        "quantity": None,
        "details": "{}",
        "updated_ts": ts,
    }
    with db.atomic():
        existing = intent_by_key(db, row["account"], row["source"], row["intent_key"])
        if existing is not None:
            return existing.id, False
        cols = ", ".join(row)
        cur = db.execute(
            f"INSERT INTO intents ({cols}) VALUES ({', '.join('?' * len(row))})", list(row.values())
        )
        assert cur.lastrowid is not None
        return int(cur.lastrowid), True


def finish_intent(
    db: Database,
    intent_id: int,
    status: str,
    *,
    outcome: str,
    ts: int,
    quantity: float | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """What became of an intent: refused (outcome = the one-line reason), placed, dry_run, failed."""
    new = codec.choice(IntentStatus, "status", status)
    changes = [new.value, codec.text("outcome", outcome), codec.opt_number("quantity", quantity)]
    with db.atomic():
        cur = db.execute(
            "UPDATE intents SET status = ?, outcome = ?, quantity = COALESCE(?, quantity), "
            "details = ?, updated_ts = ? WHERE id = ?",
            [*changes, codec.to_json("details", details), codec.ts("ts", ts), intent_id],
        )
        if cur.rowcount == 0:
            raise KeyError(f"journal: no intent with id {intent_id!r}")


def intents_for(db: Database, account: str, since_ms: int = 0) -> list[IntentRow]:
    sql = f"SELECT {codec.columns(IntentRow)} FROM intents WHERE account = ? AND ts >= ? ORDER BY ts, id"
    return [_intent_row(d) for d in db.query(sql, [account, since_ms])]


# ---------------------------------------------------------------------------- brackets


def record_bracket(
    db: Database,
    intent_id: int,
    account: str,
    ts: int,
    *,
    symbol: str,
    side: str,
    entry_client_id: str,
    stop_client_id: str | None,
    take_profit_client_ids: Sequence[str] = (),
    status: str,
) -> int:
    row = {
        "intent_id": codec.ts("intent_id", intent_id),
        "account": codec.text("account", account),
        "ts": codec.ts("ts", ts),
        "symbol": codec.text("symbol", symbol),
        "side": codec.text("side", side),
        "entry_client_id": codec.text("entry_client_id", entry_client_id),
        "stop_client_id": codec.opt_text("stop_client_id", stop_client_id),
        "take_profit_client_ids": json.dumps(
            [codec.text("take_profit_client_id", c) for c in take_profit_client_ids]
        ),
        "status": codec.choice(BracketStatus, "status", status).value,
        "updated_ts": ts,
    }
    with db.atomic():
        cols = ", ".join(row)
        cur = db.execute(
            f"INSERT INTO brackets ({cols}) VALUES ({', '.join('?' * len(row))})", list(row.values())
        )
        assert cur.lastrowid is not None
        return int(cur.lastrowid)


def update_bracket(db: Database, bracket_id: int, status: str, ts: int) -> None:
    new = codec.choice(BracketStatus, "status", status).value
    with db.atomic():
        cur = db.execute(
            "UPDATE brackets SET status = ?, updated_ts = ? WHERE id = ?",
            [new, codec.ts("ts", ts), bracket_id],
        )
        if cur.rowcount == 0:
            raise KeyError(f"journal: no bracket with id {bracket_id!r}")


def brackets_for(db: Database, account: str, status: str | None = None) -> list[BracketRow]:
    sql = f"SELECT {codec.columns(BracketRow)} FROM brackets WHERE account = ?"
    params: list[Any] = [account]
    if status is not None:
        sql += " AND status = ?"
        params.append(codec.choice(BracketStatus, "status", status).value)
    return [_bracket_row(d) for d in db.query(sql + " ORDER BY ts, id", params)]


# ---------------------------------------------------------------------------- strategy state


def set_strategy_paused(db: Database, strategy: str, paused: bool, reason: str | None, ts: int) -> None:
    """Pause (after an error, or by hand) or resume a strategy; read before each of its runs."""
    row = {
        "strategy": codec.text("strategy", strategy),
        "paused": int(bool(paused)),
        "reason": reason,
        "updated_ts": codec.ts("ts", ts),
    }
    with db.atomic():
        db.execute(
            "INSERT INTO strategy_state (strategy, paused, reason, updated_ts) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(strategy) DO UPDATE SET paused = excluded.paused, reason = excluded.reason, "
            "updated_ts = excluded.updated_ts",
            list(row.values()),
        )


def strategy_states(db: Database) -> dict[str, StrategyStateRow]:
    sql = f"SELECT {codec.columns(StrategyStateRow)} FROM strategy_state"
    out = {}
    for d in db.query(sql):
        out[d["strategy"]] = StrategyStateRow(d["strategy"], bool(d["paused"]), d["reason"], d["updated_ts"])
    return out
