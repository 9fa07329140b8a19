"""Account figures: equity, margins, margin ratio, leverage, and per-position liquidation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from guardbot.domain import AccountSnapshot, MarginMode, Position, Tier
from guardbot.risk.liquidation import Direction, Pool, distance_pct, solve_liquidation_price
from guardbot.risk.margin import MarginModel, MissingTiersError, model_for, tier_for


@dataclass(frozen=True, slots=True)
class PositionFigures:
    position: Position
    notional: float
    unrealized_pnl: float
    initial_margin: float
    maintenance_margin: float
    maintenance_rate: float
    liquidation_price: float | None
    liquidation_distance_pct: float | None
    # Exchange truth vs our estimate: relative gap of liquidation prices, when the venue gave one.
    exchange_liquidation_gap_pct: float | None = None

    @property
    def symbol(self) -> str:
        return self.position.symbol


@dataclass(frozen=True, slots=True)
class AccountFigures:
    wallet_balance: float
    unrealized_pnl: float
    equity: float
    initial_margin: float
    maintenance_margin: float
    margin_ratio: float  # cross maintenance / cross equity; 1.0 = liquidation; inf if equity <= 0
    available_margin: float
    gross_notional: float
    net_notional: float
    effective_leverage: float
    positions: tuple[PositionFigures, ...]

    def position(self, symbol: str, side: str | None = None) -> PositionFigures:
        for pf in self.positions:
            if pf.symbol == symbol and (side is None or pf.position.side == side):
                return pf
        raise KeyError(symbol)


def _tiers_of(snapshot: AccountSnapshot) -> dict[str, Sequence[Tier]]:
    out: dict[str, Sequence[Tier]] = {}
    for p in snapshot.positions:
        tiers = snapshot.tiers.get(p.symbol)
        if not tiers:
            raise MissingTiersError(f"no maintenance tiers for {p.symbol}")
        out[p.symbol] = tiers
    return out


def _pool_sums(
    snapshot: AccountSnapshot, model: MarginModel, tiers_of: dict[str, Sequence[Tier]]
) -> tuple[float, float, float]:
    """(cross equity, cross maintenance, cross initial margin)."""
    cross = [p for p in snapshot.positions if p.margin_mode is MarginMode.CROSS]
    isolated_wallets = sum(
        p.isolated_margin for p in snapshot.positions if p.margin_mode is MarginMode.ISOLATED
    )
    equity = snapshot.wallet_balance - isolated_wallets + sum(p.unrealized_pnl for p in cross)
    mm = sum(model.maintenance_margin(p, tiers_of[p.symbol], snapshot.fees) for p in cross)
    im = sum(model.initial_margin(p, tiers_of[p.symbol], snapshot.fees) for p in cross)
    return equity, mm, im


def liquidation_price(
    snapshot: AccountSnapshot,
    position: Position,
    model: MarginModel | None = None,
    direction: Direction = "nearest",
) -> float | None:
    """Liquidation price of `position` in its pool (cross: the whole account; isolated: its own).

    In cross margin both legs of a hedged symbol share it (`direction` picks the side of the mark
    to look on; by default the nearest)."""
    model = model or model_for(snapshot.exchange)
    tiers_of = _tiers_of(snapshot)
    fees = snapshot.fees
    if position.margin_mode is MarginMode.ISOLATED:
        pool = Pool(position.isolated_margin, 0.0)
        return solve_liquidation_price([position], pool, model, tiers_of, fees, direction)
    # In cross mode both legs of a hedged symbol share one liquidation price: they move together.
    legs = [
        p for p in snapshot.positions if p.symbol == position.symbol and p.margin_mode is MarginMode.CROSS
    ]
    fixed = [
        p for p in snapshot.positions if p.symbol != position.symbol and p.margin_mode is MarginMode.CROSS
    ]
    isolated_wallets = sum(
        p.isolated_margin for p in snapshot.positions if p.margin_mode is MarginMode.ISOLATED
    )
    pool = Pool(
        fixed_equity=snapshot.wallet_balance - isolated_wallets + sum(p.unrealized_pnl for p in fixed),
        fixed_maintenance=sum(model.maintenance_margin(p, tiers_of[p.symbol], fees) for p in fixed),
    )
    return solve_liquidation_price(legs, pool, model, tiers_of, fees, direction)


def loss_side_liquidation_price(
    snapshot: AccountSnapshot, position: Position, model: MarginModel | None = None
) -> float | None:
    """The liquidation price on the side where this leg loses (below the mark for a long, above
    for a short): the one its stop must come before. For a one-way position it is its liquidation
    price; for the hedging leg of a net-short symbol there may be none (the fall that hurts the
    long helps the account)."""
    return liquidation_price(snapshot, position, model, "below" if position.side.sign > 0 else "above")


def margin_ratio_of(maintenance: float, equity: float) -> float:
    if equity <= 0:
        return math.inf
    return maintenance / equity


def measure_account(snapshot: AccountSnapshot, model: MarginModel | None = None) -> AccountFigures:
    model = model or model_for(snapshot.exchange)
    tiers_of = _tiers_of(snapshot)
    fees = snapshot.fees
    cross_equity, cross_mm, cross_im = _pool_sums(snapshot, model, tiers_of)

    rows: list[PositionFigures] = []
    liq_cache: dict[tuple[str, MarginMode], float | None] = {}
    for p in snapshot.positions:
        tiers = tiers_of[p.symbol]
        if p.margin_mode is MarginMode.CROSS:
            key = (p.symbol, p.margin_mode)
            if key not in liq_cache:
                liq_cache[key] = liquidation_price(snapshot, p, model)
            liq = liq_cache[key]
        else:
            liq = liquidation_price(snapshot, p, model)
        gap = None
        if liq is not None and p.exchange_liquidation_price:
            gap = abs(liq - p.exchange_liquidation_price) / p.exchange_liquidation_price * 100.0
        rows.append(
            PositionFigures(
                position=p,
                notional=p.notional,
                unrealized_pnl=p.unrealized_pnl,
                initial_margin=(
                    model.initial_margin(p, tiers, fees)
                    if p.margin_mode is MarginMode.CROSS
                    else p.isolated_margin
                ),
                maintenance_margin=model.maintenance_margin(p, tiers, fees),
                maintenance_rate=tier_for(tiers, p.notional, p.symbol).maintenance_margin_rate,
                liquidation_price=liq,
                liquidation_distance_pct=distance_pct(p.mark_price, liq),
                exchange_liquidation_gap_pct=gap,
            )
        )

    upnl = sum(p.unrealized_pnl for p in snapshot.positions)
    equity = snapshot.wallet_balance + upnl
    gross = sum(p.notional for p in snapshot.positions)
    net = sum(p.signed_notional for p in snapshot.positions)
    total_im = sum(r.initial_margin for r in rows)
    return AccountFigures(
        wallet_balance=snapshot.wallet_balance,
        unrealized_pnl=upnl,
        equity=equity,
        initial_margin=total_im,
        maintenance_margin=sum(r.maintenance_margin for r in rows),
        margin_ratio=margin_ratio_of(cross_mm, cross_equity),
        available_margin=max(0.0, cross_equity - cross_im),
        gross_notional=gross,
        net_notional=net,
        effective_leverage=gross / equity if equity > 0 else math.inf,
        positions=tuple(rows),
    )
