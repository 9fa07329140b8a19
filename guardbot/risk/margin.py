"""Margin models, one per exchange family, behind one small interface.

Every model keeps maintenance margin *linear in notional within a tier*:
    MM = alpha + beta * notional
which is what each venue publishes, and what lets the liquidation solver find exact roots.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from guardbot.domain import Fees, Position, Tier


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
        """(alpha, beta) such that MM = alpha + beta * notional while the notional stays in `tier`."""
        beta = tier.maintenance_margin_rate + (fees.taker if self.fee_to_close else 0.0)
        return (-tier.maintenance_amount, beta)

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
        return position.notional * fees.taker if self.fee_to_close else 0.0

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

    Source: Bybit Help Center, "Initial Margin (Unified Trading Account)" and
    "Maintenance Margin (Unified Trading Account)".
    """

    name = "bybit"
    fee_to_close = True

    def initial_margin(self, position: Position, tiers: Sequence[Tier], fees: Fees) -> float:
        return position.notional / position.leverage + self.close_fee(position, fees)


class HyperliquidModel(MarginModel):
    """Hyperliquid: maintenance rate = 1 / (2 x max leverage of the tier); tiers deduct
    continuously so MM has no jump at a tier boundary. No fee term.

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
