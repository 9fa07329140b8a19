"""Hyperliquid websocket messages: `activeAssetCtx` (a perp's asset context, whose `markPx` is the
mark), `clearinghouseState` (a user's margin state, as POST /info answers it) and `orderUpdates`
(a user's orders, each `{"order": WsBasicOrder, "status", "statusTimestamp"}`).

`orderUpdates` rows carry only the fields Hyperliquid documents for WsBasicOrder (coin, side,
limitPx, sz, oid, timestamp, origSz, cloid): no reduce-only flag, no trigger price. A client that
needs those knows the oid from its own reads (guardbot matches it against its last snapshot).
"""

from __future__ import annotations

import json
from typing import Any

from guardbot.sim.book import SimAccount, SimAlgoOrder, SimOrder
from guardbot.sim.engine import SimExchange
from guardbot.sim.venues import hyperliquid_json as hj
from guardbot.sim.venues.hyperliquid_actions import Actions

BASIC_ORDER = ("coin", "side", "limitPx", "sz", "oid", "timestamp", "origSz", "cloid")


def channel(name: str, data: Any) -> dict[str, Any]:
    return {"channel": name, "data": data}


def ack(method: str, subscription: dict[str, Any]) -> dict[str, Any]:
    return channel("subscriptionResponse", {"method": method, "subscription": subscription})


# ---- public: asset contexts ----


def ctx_message(ex: SimExchange, symbol: str) -> dict[str, Any]:
    return channel("activeAssetCtx", {"coin": ex.markets[symbol].base, "ctx": hj.asset_context(ex, symbol)})


def mark_word(ex: SimExchange, symbol: str) -> str:
    """The mark as the context writes it: a push is due when this changes."""
    return hj.dec(ex.marks[symbol])


# ---- user: clearinghouse state ----


def state_of(ex: SimExchange, acct: SimAccount | None) -> dict[str, Any]:
    return hj.clearinghouse_state(ex, acct) if acct is not None else hj.empty_state(ex.now_ms)


def state_key(state: dict[str, Any]) -> str:
    """What a push compares: the state without its timestamp (a clock tick is not a change)."""
    return json.dumps({k: v for k, v in state.items() if k != "time"}, sort_keys=True)


def state_message(user: str, state: dict[str, Any]) -> dict[str, Any]:
    return channel("clearinghouseState", {"dex": "", "user": user, "clearinghouseState": state})


# ---- user: order updates ----

OrderState = tuple[str, str]  # (status, remaining sz): an update is due when either changes


def orders_of(
    ex: SimExchange, actions: Actions, acct: SimAccount | None
) -> tuple[dict[int, OrderState], dict[int, dict[str, Any]]]:
    """Every order of the account by oid: its state, and its WsOrder row."""
    states: dict[int, OrderState] = {}
    rows: dict[int, dict[str, Any]] = {}
    if acct is None:
        return states, rows
    for o in ex.all_orders(acct.api_key):
        oid = o.algo_id if isinstance(o, SimAlgoOrder) else o.order_id
        rows[oid] = ws_order(ex, actions, o)
        states[oid] = (rows[oid]["status"], rows[oid]["order"]["sz"])
    return states, rows


def ws_order(ex: SimExchange, actions: Actions, o: SimOrder | SimAlgoOrder) -> dict[str, Any]:
    full = actions.historical(o)
    return {
        "order": {k: full["order"][k] for k in BASIC_ORDER if full["order"].get(k) is not None},
        "status": full["status"],
        "statusTimestamp": full["statusTimestamp"],
    }


def order_changes(
    seen: dict[int, OrderState], states: dict[int, OrderState], rows: dict[int, dict[str, Any]]
) -> list[dict[str, Any]]:
    """The rows of orders that are new or whose status or size moved since `seen`."""
    return [rows[oid] for oid in sorted(states) if seen.get(oid) != states[oid]]
