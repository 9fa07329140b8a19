"""The engine's rejections: *what* was refused, in the engine's own terms.

The engine never speaks a venue's error codes. It raises `SimError(Rejection.X, **facts)`; each wire
module (guardbot/sim/venues/) turns the rejection into that venue's code, HTTP status and message,
so the same refusal reaches each venue's client as that venue's own error.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Rejection(StrEnum):
    UNKNOWN_ACCOUNT = "unknown_account"
    UNKNOWN_SYMBOL = "unknown_symbol"
    MISSING_PARAMETER = "missing_parameter"  # facts: param
    INVALID_PARAMETER = "invalid_parameter"  # facts: param
    UNEXPECTED_PARAMETER = "unexpected_parameter"  # facts: param (sent where it has no meaning)
    INVALID_SIDE = "invalid_side"
    INVALID_ORDER_TYPE = "invalid_order_type"
    QTY_NOT_POSITIVE = "qty_not_positive"
    QTY_PRECISION = "qty_precision"
    QTY_BELOW_MIN = "qty_below_min"
    QTY_ABOVE_MAX = "qty_above_max"
    PRICE_PRECISION = "price_precision"
    PRICE_NOT_ON_TICK = "price_not_on_tick"
    BELOW_MIN_NOTIONAL = "below_min_notional"  # facts: min_notional
    INSUFFICIENT_MARGIN = "insufficient_margin"
    ABOVE_LEVERAGE_CAP = "above_leverage_cap"  # the position would exceed its leverage's notional cap
    INVALID_LEVERAGE = "invalid_leverage"  # facts: leverage
    LEVERAGE_UNCHANGED = "leverage_unchanged"  # facts: leverage
    REDUCE_ONLY_REJECTED = "reduce_only_rejected"  # nothing to reduce, or it would increase
    POSITION_SIDE_MISMATCH = "position_side_mismatch"  # the leg named does not fit the position mode
    DUPLICATE_CLIENT_ID = "duplicate_client_id"  # facts: client_id
    WOULD_TRIGGER_IMMEDIATELY = "would_trigger_immediately"  # facts: trigger_price, reference, rising
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    UNKNOWN_ORDER = "unknown_order"
    ORDER_NOT_OPEN = "order_not_open"  # cancelling an order that is filled, cancelled or expired
    MARGIN_MODE_UNCHANGED = "margin_mode_unchanged"
    MARGIN_MODE_POSITION_OPEN = "margin_mode_position_open"
    MARGIN_MODE_ORDERS_OPEN = "margin_mode_orders_open"
    MARGIN_MODE_UNAVAILABLE = "margin_mode_unavailable"  # per-symbol isolated margin not offered
    POSITION_MODE_UNCHANGED = "position_mode_unchanged"
    POSITION_MODE_POSITION_OPEN = "position_mode_position_open"
    POSITION_MODE_ORDERS_OPEN = "position_mode_orders_open"
    NO_ISOLATED_POSITION = "no_isolated_position"  # facts: symbol, position_side


class SimError(Exception):
    """A request the engine refuses. `kind` says what; `facts` carry the figures a venue's message
    quotes (the parameter, the minimum notional, the leverage, ...)."""

    def __init__(self, kind: Rejection, detail: str = "", **facts: Any) -> None:
        self.kind = kind
        self.detail = detail
        self.facts = facts
        super().__init__(f"{kind.value}: {detail}" if detail else kind.value)
