"""Which resting orders protect which position: stop matching shared by the stop rule and the planner."""

from __future__ import annotations

from guardbot.domain import AccountSnapshot, Order, Position, PositionMode, Side, is_guardbot_client_id


def exit_side(side: Side) -> str:
    """Order side that reduces a position of this side."""
    return "sell" if side is Side.LONG else "buy"


def is_reducing(order: Order, mode: PositionMode) -> bool:
    """Can this order only reduce? (reduce-only, close-position, or a hedge-mode exit leg)."""
    if order.reduce_only or order.close_position:
        return True
    if mode is PositionMode.HEDGE and order.position_side in ("long", "short"):
        return order.side == exit_side(Side(order.position_side))
    return False


def closes_side(order: Order, mode: PositionMode) -> Side | None:
    """The position side a reducing order would close (None for an order that is not reducing)."""
    if not is_reducing(order, mode):
        return None
    if order.position_side in ("long", "short"):
        return Side(order.position_side)
    return Side.LONG if order.side == "sell" else Side.SHORT


def opens_side(order: Order, mode: PositionMode) -> Side | None:
    """The position side an order would open or add to (None for an order that can only reduce).

    A resting limit entry, or a breakout stop-entry, is what a bracket's stop is waiting for."""
    if is_reducing(order, mode):
        return None
    if order.position_side in ("long", "short"):
        return Side(order.position_side)
    if order.side not in ("buy", "sell"):
        return None
    return Side.LONG if order.side == "buy" else Side.SHORT


def stops_for(snapshot: AccountSnapshot, position: Position) -> list[Order]:
    """Reducing stop orders on the position's symbol and exit side (any trigger, any size)."""
    return [
        o
        for o in snapshot.open_orders
        if o.symbol == position.symbol
        and o.is_stop
        and closes_side(o, snapshot.position_mode) is position.side
        and o.side == exit_side(position.side)
    ]


def triggers_on_right_side(order: Order, position: Position) -> bool:
    """A long's stop sits below the mark, a short's above; anything else is not a stop-loss."""
    if order.trigger_price is None:
        return False
    if position.side is Side.LONG:
        return order.trigger_price < position.mark_price
    return order.trigger_price > position.mark_price


def covers(order: Order, position: Position, step: float) -> bool:
    """Does the stop close the whole position (to within half a lot step)?"""
    if order.close_position:
        return True
    if order.amount is None:
        return False
    tolerance = step / 2 if step > 0 else position.contracts * 1e-9
    return order.amount >= position.contracts - tolerance


def has_stop(snapshot: AccountSnapshot, position: Position) -> bool:
    """Loose protection test used by the planner: a stop on the right side exists, any size."""
    return any(triggers_on_right_side(o, position) for o in stops_for(snapshot, position))


def is_our_entry(order: Order, mode: PositionMode) -> bool:
    """A guardbot-sent order that can open or add (cancelled when the account is HALTED)."""
    return is_guardbot_client_id(order.client_order_id) and not is_reducing(order, mode)
