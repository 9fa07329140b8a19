"""Row types the journal hands back, and the closed vocabularies some columns use.

Every row is a frozen dataclass whose fields match the table's columns one to one (see
docs/journal.md). Times are epoch milliseconds UTC. JSON columns come back decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

JsonDict = dict[str, Any]


class ActionKind(StrEnum):
    STOP = "stop"
    REDUCE = "reduce"
    CANCEL = "cancel"
    CLOSE = "close"
    SET_LEVERAGE = "set_leverage"
    ENTRY = "entry"
    TAKE_PROFIT = "take_profit"  # a reduce-only take-profit of a bracket


class ActionStatus(StrEnum):
    PENDING = "pending"  # journaled, not yet sent (written *before* the request leaves)
    SENT = "sent"  # request sent, outcome not yet known
    UNKNOWN = "unknown"  # sent, and neither the reply nor a look-up has told us its fate yet
    CONFIRMED = "confirmed"  # the exchange accepted it (see order_state for what became of it)
    FAILED = "failed"  # it never reached the exchange, or the exchange has no such order
    REJECTED = "rejected"  # refused: by the exchange, or by guardbot before sending
    DRY_RUN = "dry_run"  # never sent: dry-run mode

    @property
    def is_open(self) -> bool:
        """Its fate is not settled: reconciled with the exchange by a look-up."""
        return self in (ActionStatus.PENDING, ActionStatus.SENT, ActionStatus.UNKNOWN)


class OrderState(StrEnum):
    """The order as the exchange last reported it (NULL when never accepted or not an order)."""

    OPEN = "open"  # resting on the book (a stop, a limit)
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"


class AlertLevel(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Delivery(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    CONSOLE = "console"  # no Telegram configured: printed to the console/log only


class HistoryKind(StrEnum):
    DECISION = "decision"
    TRANSITION = "transition"
    ACTION = "action"
    ALERT = "alert"
    EVENT = "event"


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    id: int
    account: str
    ts: int
    equity: float
    wallet_balance: float
    unrealized_pnl: float
    maintenance_margin: float
    initial_margin: float
    margin_ratio: float
    effective_leverage: float
    gross_notional: float
    net_notional: float
    state: str
    positions_count: int
    cycles: int = 1  # guard cycles this row stands for (v6: rows are kept per change or per minute)


@dataclass(frozen=True, slots=True)
class PositionRow:
    snapshot_id: int
    account: str
    ts: int
    symbol: str
    side: str
    contracts: float
    entry_price: float
    mark_price: float
    notional: float
    unrealized_pnl: float
    liquidation_price: float | None
    liquidation_distance_pct: float | None
    exchange_liquidation_price: float | None
    stop_price: float | None


@dataclass(frozen=True, slots=True)
class DecisionRow:
    id: int
    account: str
    ts: int
    rule: str
    kind: str
    symbol: str | None
    reason: str
    details: JsonDict


@dataclass(frozen=True, slots=True)
class ActionRow:
    id: int
    decision_id: int | None
    account: str
    ts: int
    rule: str
    kind: ActionKind
    symbol: str | None
    side: str | None
    quantity: float | None
    price: float | None
    trigger_price: float | None
    client_order_id: str
    dry_run: bool
    status: ActionStatus
    exchange_order_id: str | None
    reply: str | None
    updated_ts: int
    order_state: OrderState | None = None


@dataclass(frozen=True, slots=True)
class AlertRow:
    id: int
    account: str | None
    ts: int
    level: AlertLevel
    key: str
    text: str
    delivered: Delivery
    attempts: int


@dataclass(frozen=True, slots=True)
class TransitionRow:
    id: int
    account: str
    ts: int
    from_state: str | None
    to_state: str
    reason: str


@dataclass(frozen=True, slots=True)
class GuardStateRow:
    """What the guard must remember across restarts, one row per account."""

    account: str
    high_water_mark: float | None = None
    day_start_equity: float | None = None
    day_start_ts: int | None = None
    trading_state: str = "ACTIVE"
    lock_reason: str | None = None
    locked_until_ts: int | None = None
    paused: bool = False
    updated_ts: int = 0
    extra: JsonDict | None = None


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    account: str | None
    ts: int
    kind: str
    text: str
    details: JsonDict


HistoryEntry = DecisionRow | TransitionRow | ActionRow | AlertRow | EventRow


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One line of `guardbot history`: the merged timeline of decisions, transitions, actions, alerts."""

    ts: int
    kind: HistoryKind
    account: str | None
    row: HistoryEntry
