"""Aster's conditional orders as the plain orders Aster keeps them as (REST rows and the user-data
stream alike): Aster has no algo API, a STOP_MARKET is an order on /fapi/v3/order."""

from __future__ import annotations

from typing import Any

from guardbot.sim.book import SimAlgoOrder, SimOrder
from guardbot.sim.engine import SimExchange
from guardbot.sim.venues import binance_json as bj


def order_row(o: SimOrder | SimAlgoOrder, ex: SimExchange) -> dict[str, Any]:
    """A plain order as Binance writes it; a conditional one as the order Aster keeps it as
    (its id, type STOP_MARKET/..., `stopPrice`; FILLED once its trigger executed)."""
    if isinstance(o, SimOrder):
        return bj.order(o)
    row = bj.order(as_plain(o, ex))
    row["priceProtect"] = o.price_protect
    return row


def as_plain(o: SimAlgoOrder, ex: SimExchange) -> SimOrder:
    """A conditional order as the plain order Aster keeps it as: its id, its type, its trigger as
    `stopPrice`, and once triggered the state and fills of the order the trigger placed."""
    child = ex.account_of_algo(o).orders.get(o.actual_order_id) if o.actual_order_id is not None else None
    status = {"NEW": "NEW", "CANCELED": "CANCELED", "EXPIRED": "EXPIRED", "REJECTED": "REJECTED"}.get(
        o.status, "EXPIRED"
    )
    if o.status == "FINISHED":
        status = child.status if child is not None else "EXPIRED"
    return SimOrder(
        order_id=o.algo_id,
        client_order_id=o.client_algo_id,
        symbol=o.symbol,
        side=o.side,
        position_side=o.position_side,
        type=o.order_type,
        orig_qty=o.quantity,
        price=o.price,
        time_in_force=o.time_in_force,
        reduce_only=o.reduce_only,
        close_position=o.close_position,
        orig_type=o.order_type,
        stop_price=o.trigger_price,
        working_type=o.working_type,
        status=status,
        executed_qty=child.executed_qty if child else 0.0,
        cum_quote=child.cum_quote if child else 0.0,
        avg_price=child.avg_price if child else 0.0,
        time_ms=o.create_ms,
        update_ms=o.update_ms,
    )
