"""Liquidation prices in a shared (cross) collateral pool, and in isolated margin.

The cross liquidation price of a symbol is the mark at which the *whole pool* reaches
equity == maintenance margin, every other symbol held at its mark. Other positions' unrealized
PnL and maintenance margin stay in the equation: ignoring them is the classic bug that overstates
the distance to liquidation.

Within one tier per leg, equity(P) - MM(P) is linear in P, so we cut the price axis at every tier
boundary of every moving leg and solve each piece exactly; the tier is therefore re-checked at the
liquidation price, as Binance's FAQ requires.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from guardbot.domain import Fees, Position, Tier
from guardbot.risk.margin import MarginModel, tier_for

Direction = Literal["nearest", "below", "above"]


@dataclass(frozen=True, slots=True)
class Pool:
    """Everything in a collateral pool that does not move with the solved symbol."""

    fixed_equity: float  # wallet (or isolated margin) + unrealized PnL of the fixed positions
    fixed_maintenance: float


def _breakpoints(legs: Sequence[Position], tiers_of: dict[str, Sequence[Tier]]) -> list[float]:
    points: set[float] = set()
    for leg in legs:
        if leg.size <= 0:
            continue
        for t in tiers_of[leg.symbol]:
            if t.notional_floor > 0:
                points.add(t.notional_floor / leg.size)
    return sorted(points)


def _linear_piece(
    legs: Sequence[Position],
    pool: Pool,
    price: float,
    model: MarginModel,
    tiers_of: dict[str, Sequence[Tier]],
    fees: Fees,
) -> tuple[float, float]:
    """(c0, c1) with equity(P) - MM(P) = c0 + c1 * P, tiers fixed as they are at `price`."""
    c0 = pool.fixed_equity - pool.fixed_maintenance
    c1 = 0.0
    for leg in legs:
        s, q = leg.side.sign, leg.size
        tier = tier_for(tiers_of[leg.symbol], q * price, leg.symbol)
        # the coefficients do not depend on the mark (MarginModel's contract), so the leg is passed
        # as it is: copying it to each probed price was most of the solver's time
        alpha, beta = model.maintenance_coefficients(leg, tier, fees)
        c0 += -s * q * leg.entry_price - alpha
        c1 += s * q - beta * q
    return c0, c1


def solve_liquidation_price(
    legs: Sequence[Position],
    pool: Pool,
    model: MarginModel,
    tiers_of: dict[str, Sequence[Tier]],
    fees: Fees,
    direction: Direction = "nearest",
) -> float | None:
    """The mark of the legs' symbol at which pool equity equals pool maintenance margin.

    Returns the root nearest to the current mark (the first one the price can reach), the mark
    itself when the pool is already at or past liquidation, and None when no positive price
    liquidates (e.g. a fully collateralised long). `direction` "below"/"above" keeps only the roots
    on that side of the mark: a hedged symbol (long and short legs) can liquidate on a rise or on a
    fall, and each leg's stop must sit before the one on its own loss side.
    """
    legs = [leg for leg in legs if leg.size > 0]
    if not legs:
        return None
    mark = legs[0].mark_price
    c0, c1 = _linear_piece(legs, pool, mark, model, tiers_of, fees)
    if c0 + c1 * mark <= 0:
        return mark

    cuts = _breakpoints(legs, tiers_of)
    edges = [0.0, *cuts, math.inf]
    pieces: list[tuple[float, float, float, float]] = []
    for lo, hi in itertools.pairwise(edges):
        probe = (lo + hi) / 2 if math.isfinite(hi) else (lo * 2 if lo > 0 else 1.0)
        pieces.append((lo, hi, *_linear_piece(legs, pool, probe, model, tiers_of, fees)))

    roots: list[float] = []
    for lo, hi, c0, c1 in pieces:
        if c1 == 0:
            continue
        root = -c0 / c1
        # closed on both ends: a root exactly on a boundary belongs to both pieces
        if root <= 0 or root < lo * (1 - 1e-12) or root > hi * (1 + 1e-12):
            continue
        roots.append(root)
    # A table whose maintenance amounts are not continuous makes MM jump at a boundary, and the
    # pool can cross zero inside the jump with no root on either side: the boundary is the price.
    for (_, cut, a0, a1), (_, _, b0, b1) in itertools.pairwise(pieces):
        if (a0 + a1 * cut > 0) != (b0 + b1 * cut > 0):
            roots.append(cut)
    if direction == "below":
        roots = [r for r in roots if r <= mark]
    elif direction == "above":
        roots = [r for r in roots if r >= mark]
    return min(roots, key=lambda r: abs(r - mark), default=None)


def distance_pct(mark: float, liquidation_price: float | None) -> float | None:
    """How far the mark may move before liquidation, in % of mark (always >= 0)."""
    if liquidation_price is None or mark <= 0:
        return None
    return abs(mark - liquidation_price) / mark * 100.0
