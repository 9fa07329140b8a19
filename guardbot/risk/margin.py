"""Margin models, one per exchange family, behind one small interface.

Every model keeps maintenance margin *linear in notional within a tier*:
    MM = alpha + beta * notional
which is what each venue publishes, and what lets the liquidation solver find exact roots.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence

from guardbot.domain import Fees, MarginMode, Position, Tier


class MissingTiersError(ValueError):
    """A position's symbol has no maintenance tiers: we refuse to guess its margin."""


def tier_for(tiers: Sequence[Tier], notional: float, symbol: str = "") -> Tier:
    """The bracket whose [floor, cap) holds this notional; the last one above the top cap."""
    if not tiers:
        raise MissingTiersError(f"no maintenance tiers for {symbol or 'symbol'}")
    for t in tiers:
        if t.contains(notional):
            return t
    return tiers[-1] if notional >= tiers[-1].notional_floor else tiers[0]


class MarginModel(ABC):
    name: str = ""
    # Does this venue include the estimated fee to close in IM and MM?
    fee_to_close: bool = False

    def maintenance_coefficients(self, position: Position, tier: Tier, fees: Fees) -> tuple[float, float]:
        """(alpha, beta) such that MM = alpha + beta * notional while the notional stays in `tier`.

        `close_fee` goes into alpha, so it must not depend on the mark (it may depend on entry,
        leverage and isolated margin): the solver relies on MM being linear in the mark.
        """
        return (self.close_fee(position, fees) - tier.maintenance_amount, tier.maintenance_margin_rate)

    def maintenance_margin(self, position: Position, tiers: Sequence[Tier], fees: Fees) -> float:
        notional = position.notional
        alpha, beta = self.maintenance_coefficients(
            position, tier_for(tiers, notional, position.symbol), fees
        )
        return alpha + beta * notional

    @abstractmethod
    def initial_margin(self, position: Position, tiers: Sequence[Tier], fees: Fees) -> float:
        """Margin locked by the position at its leverage, at mark."""

    def close_fee(self, position: Position, fees: Fees) -> float:
        """Estimated fee to close, held in margin by venues that reserve it (independent of mark)."""
        return 0.0

    def max_notional_for_leverage(self, tiers: Sequence[Tier], leverage: float) -> float:
        """The largest position notional the venue allows at this leverage (tier caps)."""
        allowed = [t.notional_cap for t in tiers if t.max_leverage >= leverage]
        return max(allowed) if allowed else 0.0


class BinanceUsdmModel(MarginModel):
    """Binance USDⓈ-M (and Aster, which copies its rules).

    MM = notional x rate - maintenance amount ("cum"), tier by notional; IM = notional / leverage.
    Source: Binance FAQ "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts".
    """

    name = "binanceusdm"

    def initial_margin(self, position: Position, tiers: Sequence[Tier], fees: Fees) -> float:
        return position.notional / position.leverage


class BybitUnifiedModel(MarginModel):
    """Bybit unified trading account: IM and MM both include the estimated fee to close.

    IM = notional / leverage + fee to close;  MM = notional x rate - deduction + fee to close,
    where the fee to close is charged at the position's *bankruptcy price*, not at the mark:
        fee to close = size x bankruptcy price x taker rate
        bankruptcy price (cross) = entry x (1 - side / leverage)
    so the fee is a constant of the position and MM stays linear in notional within a tier.
    An isolated position's bankruptcy price is where its position margin (`isolated_margin`:
    IM + fee to close + extra margin added) is used up net of the fee to close there,
        bankruptcy = (size x entry - side x isolated_margin) / (size x (1 - side x taker)),
    which is what turns Bybit's "Extra Margin Added / (1 - Taker Fee Rate)" term into its formula.

    Sources (Bybit Help Center): "Liquidation Price Calculation under Isolated Mode (Unified
    Trading Account)" and "Trading Rules: Liquidation Process (Unified Trading Account)": worked
    example 1 BTC long at 40,000, 50x, taker 0.055%: MM = 40,000 x 0.5% - 0 + 21.56 = 221.56,
    where 21.56 = 1 x 39,200 (bankruptcy price) x 0.055%. See tests/unit/test_published_examples.py.
    """

    name = "bybit"
    fee_to_close = True

    def bankruptcy_price(self, position: Position, fees: Fees) -> float:
        s, q = position.side.sign, position.size
        if position.margin_mode is MarginMode.ISOLATED and position.isolated_margin > 0 and q > 0:
            return (q * position.entry_price - s * position.isolated_margin) / (q * (1 - s * fees.taker))
        return position.entry_price * (1 - s / position.leverage)

    def close_fee(self, position: Position, fees: Fees) -> float:
        # a long backed by more than its notional has no bankruptcy price (0): nothing to close at
        return position.size * max(self.bankruptcy_price(position, fees), 0.0) * fees.taker

    def initial_margin(self, position: Position, tiers: Sequence[Tier], fees: Fees) -> float:
        return position.notional / position.leverage + self.close_fee(position, fees)


class HyperliquidModel(MarginModel):
    """Hyperliquid: maintenance rate = 1 / (2 x max leverage of the tier); tiers deduct
    continuously so MM has no jump at a tier boundary (build them with `hyperliquid_tiers`).
    No fee term.

    Source: Hyperliquid Docs, "Liquidations" and "Margin tiers".
    """

    name = "hyperliquid"

    def initial_margin(self, position: Position, tiers: Sequence[Tier], fees: Fees) -> float:
        return position.notional / position.leverage


_MODELS: dict[str, MarginModel] = {
    "binanceusdm": BinanceUsdmModel(),
    "aster": BinanceUsdmModel(),
    "bybit": BybitUnifiedModel(),
    "hyperliquid": HyperliquidModel(),
}


def model_for(exchange: str) -> MarginModel:
    try:
        return _MODELS[exchange]
    except KeyError:
        raise ValueError(f"unknown exchange {exchange!r}; expected one of {', '.join(_MODELS)}") from None


def continuous_deductions(floors: Sequence[float], rates: Sequence[float]) -> list[float]:
    """Maintenance amounts that make MM continuous across tiers:
    amount_n = floor_n x (rate_n - rate_{n-1}) + amount_{n-1}  (Binance's and Hyperliquid's rule)."""
    out: list[float] = []
    prev_rate, prev_amount = rates[0] if rates else 0.0, 0.0
    for i, (floor, rate) in enumerate(zip(floors, rates, strict=True)):
        amount = 0.0 if i == 0 else floor * (rate - prev_rate) + prev_amount
        out.append(amount)
        prev_rate, prev_amount = rate, amount
    return out


def hyperliquid_tiers(lower_bounds: Sequence[float], max_leverages: Sequence[float]) -> tuple[Tier, ...]:
    """A Hyperliquid margin table as tiers: maintenance rate = half the initial margin rate at the
    tier's max leverage, 1 / (2 x max leverage), and continuous maintenance deductions.

    `lower_bounds` are the tiers' notional lower bounds (the first is 0), as the `meta` info
    response lists them. Source: Hyperliquid Docs, "Margin tiers"."""
    if len(lower_bounds) != len(max_leverages) or not lower_bounds:
        raise ValueError("hyperliquid_tiers needs one max leverage per lower bound, at least one tier")
    rates = [1.0 / (2.0 * lev) for lev in max_leverages]
    amounts = continuous_deductions(lower_bounds, rates)
    caps = [*lower_bounds[1:], math.inf]
    rows = zip(lower_bounds, caps, rates, amounts, max_leverages, strict=True)
    return tuple(Tier(floor, cap, rate, amount, lev) for floor, cap, rate, amount, lev in rows)
