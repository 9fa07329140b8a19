"""What the guard decided: one frozen `Decision` per alert, order action or state change.

The guard only decides; the daemon executes order decisions through the gateway (reduce-only,
client order ids derived from `(account, rule, symbol, episode)`) and journals every decision.

Units: `quantity` is in contracts (the exchange's order amount), already rounded *down* to the
market's lot step. `side` is the side of the *position* concerned, not of the order: a stop or a
reduction of a LONG is a sell order (`details["order_side"]` says so explicitly).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from guardbot.domain import Side, base_asset

DecisionKind = Literal[
    "alert", "place_stop", "replace_stop", "cancel_order", "reduce", "close", "halt", "resume", "set_state"
]
Level = Literal["info", "warning", "critical"]
ORDER_KINDS: frozenset[str] = frozenset({"place_stop", "replace_stop", "cancel_order", "reduce", "close"})

# rule names (the `rule` field, also the first part of every episode)
RULE_STOP = "stop"
RULE_MARGIN = "margin_ratio"
RULE_LIQUIDATION = "liquidation"
RULE_DRAWDOWN = "drawdown"
RULE_LEVERAGE = "leverage"
RULE_SYMBOL_CAP = "symbol_cap"
RULE_CLUSTER_CAP = "cluster_cap"
RULE_SECTOR_CAP = "sector_cap"
RULE_NET_BETA = "net_beta"
RULE_BLIND = "blind"
RULE_STATE = "trading_state"
RULE_HALTED = "halted"
RULE_CASH_FLOW = "cash_flow"
RULE_MARKET_DATA = "market_data"
RULE_LIQUIDATED = "liquidated"


@dataclass(frozen=True)
class Decision:
    rule: str
    kind: DecisionKind
    account: str
    reason: str  # human, with the numbers
    episode: str  # stable id of the episode that caused it: same episode -> same client order id
    level: Level = "info"
    symbol: str | None = None
    side: Side | None = None  # the position's side
    quantity: float | None = None  # contracts, rounded down to the lot step
    trigger_price: float | None = None
    order_id: str | None = None  # exchange id of the order to cancel (cancel_order, replace_stop)
    client_order_id: str | None = None  # its client id, when known
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_order(self) -> bool:
        return self.kind in ORDER_KINDS

    @property
    def order_side(self) -> str | None:
        """The side of the order to send ("buy"/"sell"): always the one that reduces the position."""
        if self.side is None or self.kind not in ("place_stop", "replace_stop", "reduce", "close"):
            return None
        return "sell" if self.side is Side.LONG else "buy"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "kind": self.kind,
            "account": self.account,
            "level": self.level,
            "symbol": self.symbol,
            "side": None if self.side is None else self.side.value,
            "order_side": self.order_side,
            "quantity": self.quantity,
            "trigger_price": self.trigger_price,
            "order_id": self.order_id,
            "client_order_id": self.client_order_id,
            "reason": self.reason,
            "episode": self.episode,
            "details": dict(self.details),
        }


short = base_asset


def pct(x: float, digits: int = 1) -> str:
    """A fraction as a percentage: 0.782 -> '78.2%'."""
    if x != x or x in (float("inf"), float("-inf")):
        return "∞%" if x > 0 else str(x)
    return f"{x * 100:.{digits}f}%"


def num(x: float) -> str:
    """A compact human number: thousands separators, a few significant digits for prices."""
    if x != x or x in (float("inf"), float("-inf")):
        return str(x)
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.2f}"
    if ax >= 1:
        return f"{x:.4g}" if ax < 100 else f"{x:.2f}"
    return f"{x:.6g}"


def qty(x: float) -> str:
    return f"{x:.10g}"
