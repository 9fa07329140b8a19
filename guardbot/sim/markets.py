"""The perpetual markets the emulator lists: Binance-like filters and leverage brackets.

Bracket floors and maintenance rates for BTC and ETH are Binance USDⓈ-M's published tables (as
recorded by ccxt in July 2024); alt tables follow the same shape. The maintenance amounts ("cum")
are derived with `continuous_deductions`, so maintenance margin has no jump at a tier boundary,
exactly as Binance computes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from guardbot.domain import Market, Tier
from guardbot.risk.margin import continuous_deductions


@dataclass(frozen=True, slots=True)
class SimMarket:
    """One USDT-margined perpetual as the emulator serves it."""

    id: str  # exchange id, "BTCUSDT"
    base: str
    tick_size: str  # decimal strings, as Binance sends them (precision is exact)
    step_size: str
    min_qty: str
    max_qty: str
    market_max_qty: str
    min_notional: str
    start_price: float
    tiers: tuple[Tier, ...]
    annual_vol: float = 0.6  # default random-walk volatility
    btc_corr: float = 0.75  # correlation of returns with BTC
    liquidation_fee: float = 0.0125  # clearance fee rate charged on liquidation (Binance's field)
    quote: str = "USDT"

    @property
    def symbol(self) -> str:
        """ccxt's unified symbol."""
        return f"{self.base}/{self.quote}:{self.quote}"

    @property
    def tick(self) -> float:
        return float(self.tick_size)

    @property
    def step(self) -> float:
        return float(self.step_size)

    @property
    def price_precision(self) -> int:
        return _decimals(self.tick_size)

    @property
    def quantity_precision(self) -> int:
        return _decimals(self.step_size)

    @property
    def max_leverage(self) -> int:
        return int(self.tiers[0].max_leverage)

    def to_domain(self, *, min_notional_when_reducing: bool = False) -> Market:
        return Market(
            symbol=self.symbol,
            amount_step=self.step,
            min_amount=float(self.min_qty),
            min_notional=float(self.min_notional),
            price_tick=self.tick,
            reduce_min_notional=float(self.min_notional) if min_notional_when_reducing else 0.0,
        )


def _decimals(s: str) -> int:
    exp = Decimal(s).normalize().as_tuple().exponent
    return max(0, -int(exp))


def build_tiers(
    floors: Sequence[float], rates: Sequence[float], leverages: Sequence[int], last_cap: float
) -> tuple[Tier, ...]:
    """Brackets from floors, maintenance rates and max leverages; caps are the next floor."""
    amounts = continuous_deductions(floors, rates)
    caps = [*floors[1:], last_cap]
    return tuple(
        Tier(float(f), float(c), float(r), float(a), float(lev))
        for f, c, r, a, lev in zip(floors, caps, rates, amounts, leverages, strict=True)
    )


BTC_TIERS = build_tiers(
    [
        0,
        50_000,
        250_000,
        3_000_000,
        20_000_000,
        40_000_000,
        100_000_000,
        120_000_000,
        200_000_000,
        300_000_000,
    ],
    [0.004, 0.005, 0.01, 0.025, 0.05, 0.1, 0.125, 0.15, 0.25, 0.5],
    [125, 100, 50, 20, 10, 5, 4, 3, 2, 1],
    500_000_000,
)
ETH_TIERS = build_tiers(
    [
        0,
        100_000,
        250_000,
        2_000_000,
        15_000_000,
        30_000_000,
        60_000_000,
        80_000_000,
        100_000_000,
        150_000_000,
    ],
    [0.005, 0.0065, 0.01, 0.02, 0.05, 0.1, 0.125, 0.15, 0.25, 0.5],
    [125, 100, 75, 50, 20, 10, 5, 4, 2, 1],
    300_000_000,
)
MAJOR_ALT_TIERS = build_tiers(
    [0, 10_000, 50_000, 250_000, 1_000_000, 2_000_000, 5_000_000, 10_000_000],
    [0.0065, 0.01, 0.02, 0.05, 0.1, 0.125, 0.15, 0.25],
    [75, 50, 25, 10, 5, 4, 3, 2],
    20_000_000,
)
MID_ALT_TIERS = build_tiers(
    [0, 5_000, 25_000, 100_000, 500_000, 1_000_000, 3_000_000],
    [0.01, 0.0125, 0.02, 0.05, 0.1, 0.125, 0.25],
    [50, 40, 25, 10, 5, 4, 2],
    5_000_000,
)
SMALL_ALT_TIERS = build_tiers(
    [0, 5_000, 25_000, 100_000, 250_000, 1_000_000],
    [0.01, 0.02, 0.025, 0.05, 0.1, 0.125],
    [50, 25, 20, 10, 5, 4],
    3_000_000,
)


def default_markets() -> dict[str, SimMarket]:
    """The ten markets the emulator lists by default, keyed by exchange id."""
    rows = [
        SimMarket(
            "BTCUSDT",
            "BTC",
            "0.1",
            "0.001",
            "0.001",
            "1000",
            "120",
            "100",
            95_000.0,
            BTC_TIERS,
            0.55,
            1.0,
            0.0125,
        ),
        SimMarket(
            "ETHUSDT",
            "ETH",
            "0.01",
            "0.001",
            "0.001",
            "10000",
            "2000",
            "20",
            3_300.0,
            ETH_TIERS,
            0.70,
            0.88,
            0.0125,
        ),
        SimMarket(
            "SOLUSDT",
            "SOL",
            "0.01",
            "1",
            "1",
            "1000000",
            "5000",
            "5",
            180.0,
            MAJOR_ALT_TIERS,
            0.90,
            0.78,
            0.015,
        ),
        SimMarket(
            "BNBUSDT",
            "BNB",
            "0.01",
            "0.01",
            "0.01",
            "100000",
            "2000",
            "5",
            650.0,
            MAJOR_ALT_TIERS,
            0.55,
            0.70,
            0.015,
        ),
        SimMarket(
            "XRPUSDT",
            "XRP",
            "0.0001",
            "0.1",
            "0.1",
            "10000000",
            "1000000",
            "5",
            2.2,
            MAJOR_ALT_TIERS,
            0.90,
            0.70,
            0.015,
        ),
        SimMarket(
            "DOGEUSDT",
            "DOGE",
            "0.00001",
            "1",
            "1",
            "50000000",
            "10000000",
            "5",
            0.32,
            MAJOR_ALT_TIERS,
            1.00,
            0.72,
            0.015,
        ),
        SimMarket(
            "AVAXUSDT",
            "AVAX",
            "0.001",
            "1",
            "1",
            "1000000",
            "50000",
            "5",
            35.0,
            MID_ALT_TIERS,
            1.00,
            0.74,
            0.02,
        ),
        SimMarket(
            "LINKUSDT",
            "LINK",
            "0.001",
            "0.01",
            "0.01",
            "1000000",
            "50000",
            "5",
            20.0,
            MID_ALT_TIERS,
            0.95,
            0.75,
            0.02,
        ),
        SimMarket(
            "ARBUSDT",
            "ARB",
            "0.0001",
            "0.1",
            "0.1",
            "10000000",
            "2000000",
            "5",
            0.75,
            SMALL_ALT_TIERS,
            1.10,
            0.70,
            0.02,
        ),
        SimMarket(
            "SUIUSDT",
            "SUI",
            "0.0001",
            "0.1",
            "0.1",
            "10000000",
            "1000000",
            "5",
            3.8,
            SMALL_ALT_TIERS,
            1.10,
            0.68,
            0.02,
        ),
    ]
    return {m.id: m for m in rows}


def resolve_symbol(markets: dict[str, SimMarket], name: str) -> str | None:
    """Exchange id for "BTCUSDT", "BTC", "btc" or "BTC/USDT:USDT"; None if not listed."""
    key = name.strip().upper()
    if key in markets:
        return key
    for m in markets.values():
        if key in (m.base, m.symbol.upper(), f"{m.base}/{m.quote}"):
            return m.id
    return None
