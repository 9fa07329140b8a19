"""Bybit v5 websocket messages, field for field: the public `tickers.<SYMBOL>` topic (a snapshot,
then deltas carrying only what changed) and the private `position`, `order` and `wallet` topics.

The private rows are the REST rows (/v5/position/list, /v5/order/realtime, /v5/account/wallet-
balance) plus `category`, as Bybit documents its stream rows; what changed is found by comparing
an account's books with what its stream last said (`Seen`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from guardbot.sim.book import SimAccount, SimAlgoOrder
from guardbot.sim.engine import SimExchange
from guardbot.sim.venues import bybit_account as ba
from guardbot.sim.venues import bybit_json as bj
from guardbot.sim.venues.fmt import fmt

PRIVATE_TOPICS = ("position", "order", "wallet")  # and each with ".linear" (Bybit's per-category names)
POSITION_SIDE = {0: "BOTH", 1: "LONG", 2: "SHORT"}  # positionIdx -> the engine's position side
# the ticker fields that follow the mark in the emulator (last, index and best prices are the mark)
MARK_FIELDS = ("lastPrice", "markPrice", "indexPrice", "bid1Price", "ask1Price")


# ---- public: tickers ----


def ticker_message(ex: SimExchange, symbol: str, kind: str, cs: int) -> dict[str, Any]:
    """`tickers.<SYMBOL>`: `snapshot` is the whole ticker, `delta` only the fields that follow the
    mark (Bybit: a delta carries the fields that changed, the client merges them)."""
    full = bj.ticker(ex, symbol)
    data = full if kind == "snapshot" else {"symbol": symbol, **{k: full[k] for k in MARK_FIELDS}}
    return {"topic": f"tickers.{symbol}", "type": kind, "data": data, "cs": cs, "ts": ex.now_ms}


def mark_word(ex: SimExchange, symbol: str) -> str:
    """The mark as a ticker writes it: a push is due when this changes."""
    return fmt(ex.marks[symbol])


# ---- private: what an account's stream last said ----

OrderKey = tuple[bool, int]  # (conditional?, id): plain and conditional ids are separate series


@dataclass
class Seen:
    wallet: float
    positions: dict[tuple[str, int], tuple[float, float, int]]  # (symbol, idx) -> (amount, entry, lev)
    orders: dict[OrderKey, tuple[str, str]]  # -> (orderStatus, cumExecQty)


def seen_of(ex: SimExchange, acct: SimAccount) -> Seen:
    return Seen(acct.wallet, _positions_of(ex, acct), _order_states(ex, acct)[0])


def _positions_of(ex: SimExchange, acct: SimAccount) -> dict[tuple[str, int], tuple[float, float, int]]:
    return {
        (p.symbol, bj.position_idx(p.position_side)): (
            p.amount,
            p.entry_price,
            ex.leverage_of(acct, p.symbol),
        )
        for p in acct.positions.values()
        if p.amount
    }


def _order_states(
    ex: SimExchange, acct: SimAccount
) -> tuple[dict[OrderKey, tuple[str, str]], dict[OrderKey, dict[str, Any]]]:
    states: dict[OrderKey, tuple[str, str]] = {}
    rows: dict[OrderKey, dict[str, Any]] = {}
    for o in ex.all_orders(acct.api_key):
        conditional = isinstance(o, SimAlgoOrder)
        key = (conditional, o.algo_id if isinstance(o, SimAlgoOrder) else o.order_id)
        row = bj.order(acct, o)
        states[key] = (row["orderStatus"], row["cumExecQty"])
        rows[key] = row
    return states, rows


def changes(ex: SimExchange, acct: SimAccount, seen: Seen) -> tuple[dict[str, list[dict[str, Any]]], Seen]:
    """topic -> rows of what changed since `seen` (topics with nothing new left out), and the new
    `Seen`. Bybit pushes `position` when a position's size, price or leverage changes (not on every
    mark), `order` on every change of an order's state or fills, `wallet` when the balance moves."""
    out: dict[str, list[dict[str, Any]]] = {}
    states, rows = _order_states(ex, acct)
    changed_orders = [rows[k] for k in rows if seen.orders.get(k) != states[k]]
    if changed_orders:
        out["order"] = [{"category": "linear", **r} for r in changed_orders]
    now_pos = _positions_of(ex, acct)
    moved = sorted(
        k for k in now_pos.keys() | seen.positions.keys() if now_pos.get(k) != seen.positions.get(k)
    )
    if moved:
        out["position"] = [{"category": "linear", **r} for r in _position_rows(ex, acct, moved)]
    if moved or acct.wallet != seen.wallet:
        out["wallet"] = ba.wallet_balance(ex, acct)["list"]
    return out, Seen(acct.wallet, now_pos, states)


def _position_rows(ex: SimExchange, acct: SimAccount, keys: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """The rows of `keys`; a position that closed is its flat row (size "0", side ""), as Bybit
    pushes a closed position."""
    out: list[dict[str, Any]] = []
    for symbol in sorted({s for s, _ in keys}):
        by_idx = {r["positionIdx"]: r for r in ba.positions(ex, acct, symbol) if r["size"] != "0"}
        for s, idx in keys:
            if s == symbol:
                out.append(by_idx.get(idx) or ba.flat_row(ex, acct, symbol, POSITION_SIDE[idx]))
    return out


def private_message(topic: str, rows: list[dict[str, Any]], now_ms: int) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "topic": topic, "creationTime": now_ms, "data": rows}
