"""What the order gateway reports for one action, and how it reads an exchange's order.

`ActionResult` is the one record of an action (journaled at each step: pending, then its final
status); `order_state_of` and `placed` read ccxt's unified order the same way everywhere.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from guardbot.exchange.convert import num

Status = Literal["pending", "sent", "unknown", "confirmed", "failed", "rejected", "dry_run"]
Kind = Literal["stop", "reduce", "entry", "cancel", "cancel_all", "set_leverage", "take_profit"]
JournalHook = Callable[["ActionResult"], Awaitable[None] | None]
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What the gateway did (or, in dry-run, would have done) for one action."""

    kind: str
    account: str
    symbol: str
    side: str | None  # "buy" | "sell"
    amount: float | None  # rounded; None = close the whole position (stop with closePosition)
    price: float | None
    trigger_price: float | None
    client_order_id: str | None
    status: Status
    exchange_order_id: str | None = None
    reason: str = ""
    raw: str = ""  # short summary of the exchange's reply
    rule: str | None = None
    episode: str | None = None
    position_side: str | None = None
    reduce_only: bool = False
    attempts: int = 0
    order_state: str | None = None  # the exchange's word on the order: open, filled, canceled, ...

    @property
    def ok(self) -> bool:
        return self.status in ("sent", "confirmed", "dry_run")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries for retryable errors: delay = min(max_delay, base * 2**n) x (1 ± jitter)."""

    attempts: int = 4  # total tries, including the first
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    jitter: float = 0.25

    def delay(self, retry: int, rng: random.Random) -> float:
        d = min(self.max_delay_s, self.base_delay_s * float(2**retry))
        return max(0.0, d * (1.0 + rng.uniform(-self.jitter, self.jitter)))


class Refused(Exception):
    """Our own refusal before anything is sent (below minimum, wrong side, ...)."""


def summary(reply: Mapping[str, Any] | None) -> str:
    if not reply:
        return ""
    parts = [
        f"{k}={reply[k]}" for k in ("id", "clientOrderId", "status", "filled", "average") if reply.get(k)
    ]
    return " ".join(parts)[:200]


_DEAD = ("canceled", "cancelled", "expired", "rejected")
# ccxt's unified order status -> the journal's order_state
_ORDER_STATES = {
    "open": "open",
    "closed": "filled",
    "canceled": "canceled",
    "cancelled": "canceled",
    "expired": "expired",
    "rejected": "rejected",
}


def order_state_of(order: Mapping[str, Any] | None) -> str | None:
    """What became of an order, from ccxt's unified status ("closed" means filled). Hyperliquid's
    reply to a new order carries no status for ccxt to parse, but says "resting" or "filled"."""
    if not order:
        return None
    state = _ORDER_STATES.get(str(order.get("status") or "").lower())
    info = order.get("info")
    if state is None and isinstance(info, Mapping):
        if isinstance(info.get("resting"), Mapping):
            return "open"
        if isinstance(info.get("filled"), Mapping):
            return "filled"
    return state


def placed(found: Mapping[str, Any] | None) -> bool:
    """Does a look-up by client id show our order as placed? A live or filled order does; one that
    was cancelled, expired or rejected without a fill does not (whoever cancelled it, it protects
    nothing now), so the action is still to be done."""
    if found is None:
        return False
    status = str(found.get("status") or "").lower()
    return status not in _DEAD or (num(found.get("filled")) or 0.0) > 0


def is_duplicate_id(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "duplicate" in text or "-4116" in text or "-4015" in text


async def quiet(fn: Callable[[], Awaitable[_T]]) -> _T | None:
    try:
        return await fn()
    except Exception:
        return None
