"""The emulator's book entries: accounts, positions, orders, algo orders, trades, liquidations.

Positions are immutable values replaced on every fill; orders and accounts are the mutable records
the engine updates in place (status, fills), as an exchange's order book does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from guardbot.domain import MarginMode, PositionMode, Side


@dataclass(frozen=True, slots=True)
class SimPosition:
    """One position (one-way: positionSide BOTH; hedge: a LONG or SHORT leg).

    `amount` is signed like Binance's positionAmt. `isolated_wallet` is the margin allocated to an
    isolated position (part of the account wallet, not available to the cross pool).
    """

    symbol: str
    position_side: str
    amount: float
    entry_price: float
    margin_mode: MarginMode
    isolated_wallet: float = 0.0
    update_ms: int = 0

    @property
    def side(self) -> Side:
        return Side.LONG if self.amount > 0 else Side.SHORT

    @property
    def qty(self) -> float:
        return abs(self.amount)

    def pnl_at(self, mark: float) -> float:
        return self.amount * (mark - self.entry_price)


@dataclass(slots=True)
class SimOrder:
    """A plain order (/fapi/v1/order): MARKET or LIMIT."""

    order_id: int
    client_order_id: str
    symbol: str
    side: str  # BUY | SELL
    position_side: str
    type: str
    orig_qty: float
    price: float = 0.0
    time_in_force: str = "GTC"
    reduce_only: bool = False
    close_position: bool = False
    orig_type: str = ""
    stop_price: float = 0.0
    working_type: str = "CONTRACT_PRICE"
    status: str = "NEW"
    executed_qty: float = 0.0
    cum_quote: float = 0.0
    avg_price: float = 0.0
    time_ms: int = 0
    update_ms: int = 0
    closing: bool = False  # can only reduce (reduce-only, or a hedge-mode close); cancelled with its position
    parent_algo_id: int | None = None  # the conditional order whose trigger created this one

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")


@dataclass(slots=True)
class SimAlgoOrder:
    """A conditional order (/fapi/v1/algoOrder): STOP_MARKET, TAKE_PROFIT_MARKET, STOP, TAKE_PROFIT."""

    algo_id: int
    client_algo_id: str
    symbol: str
    side: str
    position_side: str
    order_type: str
    quantity: float  # 0 with closePosition
    trigger_price: float
    price: float = 0.0
    working_type: str = "CONTRACT_PRICE"
    close_position: bool = False
    reduce_only: bool = False
    time_in_force: str = "GTC"
    price_protect: bool = False
    status: str = "NEW"  # NEW | CANCELED | FINISHED | EXPIRED | REJECTED
    create_ms: int = 0
    update_ms: int = 0
    trigger_ms: int = 0
    actual_order_id: int | None = None
    actual_price: float = 0.0
    closing: bool = False

    @property
    def is_open(self) -> bool:
        return self.status == "NEW"

    @property
    def rising(self) -> bool:
        """Does it wait for the price to rise to its trigger? A stop buys when the price rises to
        its trigger and sells when it falls to it; a take-profit the other way round."""
        stop = self.order_type in ("STOP_MARKET", "STOP")
        return (self.side == "BUY") == stop

    def triggered_by(self, price: float) -> bool:
        return price >= self.trigger_price if self.rising else price <= self.trigger_price


@dataclass(frozen=True, slots=True)
class SimTrade:
    id: int
    order_id: int
    symbol: str
    side: str
    position_side: str
    price: float
    qty: float
    quote_qty: float
    commission: float
    realized_pnl: float
    maker: bool
    time_ms: int


@dataclass(frozen=True, slots=True)
class SimIncome:
    """One row of the account's income history (Binance `GET /fapi/v1/income`, Bybit's transaction
    log): everything that moved the wallet — realized PnL, commissions, funding, and transfers in
    and out."""

    tran_id: int
    time_ms: int
    income_type: str  # TRANSFER | REALIZED_PNL | COMMISSION | FUNDING_FEE | INSURANCE_CLEAR | ...
    amount: float  # signed: negative leaves the wallet
    symbol: str = ""
    asset: str = "USDT"
    trade_id: str = ""
    info: str = ""
    wallet_after: float | None = None  # the wallet when the row was written


@dataclass(frozen=True, slots=True)
class LiquidatedPosition:
    symbol: str
    side: Side
    qty: float
    entry_price: float
    price: float
    realized_pnl: float


@dataclass(frozen=True, slots=True)
class LiquidationEvent:
    api_key: str
    time_ms: int
    margin_mode: MarginMode
    positions: tuple[LiquidatedPosition, ...]
    wallet_before: float
    wallet_after: float
    margin_ratio: float


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What a client asked for, parsed (each wire module builds it from its venue's parameters)."""

    symbol: str
    side: str
    type: str
    quantity: float | None = None
    price: float | None = None
    trigger_price: float | None = None
    reduce_only: bool = False
    close_position: bool = False
    position_side: str | None = None
    time_in_force: str | None = None
    client_id: str | None = None
    working_type: str = "CONTRACT_PRICE"
    price_protect: bool = False


@dataclass(slots=True)
class SimAccount:
    api_key: str
    secret: str
    wallet: float
    position_mode: PositionMode = PositionMode.ONE_WAY
    name: str = ""
    leverage: dict[str, int] = field(default_factory=dict)
    margin_type: dict[str, MarginMode] = field(default_factory=dict)
    positions: dict[tuple[str, str], SimPosition] = field(default_factory=dict)
    orders: dict[int, SimOrder] = field(default_factory=dict)
    algo_orders: dict[int, SimAlgoOrder] = field(default_factory=dict)
    trades: list[SimTrade] = field(default_factory=list)
    income: list[SimIncome] = field(default_factory=list)
    # (t_ms, equity, cross margin ratio) after every tick: the demo chart's data
    history: list[tuple[int, float, float]] = field(default_factory=list)
    realized_pnl: float = 0.0
    fees_paid: float = 0.0
    update_ms: int = 0
    # what the API key may do, venue-neutral: "trade", "withdraw", "transfer" (reading always);
    # each venue's permission read renders it in its own words
    key_permissions: frozenset[str] = frozenset({"trade"})

    def open_orders(self) -> list[SimOrder]:
        return [o for o in self.orders.values() if o.is_open]

    def open_algo_orders(self) -> list[SimAlgoOrder]:
        return [o for o in self.algo_orders.values() if o.is_open]

    @property
    def hedge(self) -> bool:
        return self.position_mode is PositionMode.HEDGE
