"""A straightforward reference for the risk core: guardbot's original scalar liquidation solver and
account measure (one pool at a time, a dataclass copy per probed price), kept as the oracle the
fast paths are compared with. It is slow; it is meant to be obviously the published method.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from guardbot.domain import AccountSnapshot, Fees, MarginMode, Position, Tier
from guardbot.risk.margin import MarginModel, model_for, tier_for


@dataclass(frozen=True)
class RefFigures:
    equity: float
    maintenance_margin: float
    initial_margin: float
    margin_ratio: float
    available_margin: float
    liquidation: tuple[float | None, ...]  # per position, in snapshot order


def _piece(
    legs: Sequence[Position],
    base: float,
    price: float,
    model: MarginModel,
    tiers: dict[str, Sequence[Tier]],
    fees: Fees,
) -> tuple[float, float]:
    c0, c1 = base, 0.0
    for leg in legs:
        s, q = leg.side.sign, leg.size
        tier = tier_for(tiers[leg.symbol], q * price, leg.symbol)
        alpha, beta = model.maintenance_coefficients(leg.at_mark(price), tier, fees)
        c0 += -s * q * leg.entry_price - alpha
        c1 += s * q - beta * q
    return c0, c1


def solve(
    legs: Sequence[Position],
    base: float,
    model: MarginModel,
    tiers: dict[str, Sequence[Tier]],
    fees: Fees,
    direction: str = "nearest",
) -> float | None:
    legs = [leg for leg in legs if leg.size > 0]
    if not legs:
        return None
    mark = legs[0].mark_price
    c0, c1 = _piece(legs, base, mark, model, tiers, fees)
    if c0 + c1 * mark <= 0:
        return mark
    cuts = sorted(
        {t.notional_floor / leg.size for leg in legs for t in tiers[leg.symbol] if t.notional_floor > 0}
    )
    edges = [0.0, *cuts, math.inf]
    pieces = []
    for lo, hi in itertools.pairwise(edges):
        probe = (lo + hi) / 2 if math.isfinite(hi) else (lo * 2 if lo > 0 else 1.0)
        pieces.append((lo, hi, *_piece(legs, base, probe, model, tiers, fees)))
    roots = []
    for lo, hi, a0, a1 in pieces:
        if a1 == 0:
            continue
        root = -a0 / a1
        if root <= 0 or root < lo * (1 - 1e-12) or root > hi * (1 + 1e-12):
            continue
        roots.append(root)
    for (_, cut, a0, a1), (_, _, b0, b1) in itertools.pairwise(pieces):
        if (a0 + a1 * cut > 0) != (b0 + b1 * cut > 0):
            roots.append(cut)
    if direction == "below":
        roots = [r for r in roots if r <= mark]
    elif direction == "above":
        roots = [r for r in roots if r >= mark]
    return min(roots, key=lambda r: abs(r - mark), default=None)


def liquidation(snap: AccountSnapshot, position: Position, direction: str = "nearest") -> float | None:
    model = model_for(snap.exchange)
    tiers = dict(snap.tiers)
    if position.margin_mode is MarginMode.ISOLATED:
        return solve([position], position.isolated_margin, model, tiers, snap.fees, direction)
    cross = [p for p in snap.positions if p.margin_mode is MarginMode.CROSS]
    legs = [p for p in cross if p.symbol == position.symbol]
    fixed = [p for p in cross if p.symbol != position.symbol]
    iso = sum(p.isolated_margin for p in snap.positions if p.margin_mode is MarginMode.ISOLATED)
    equity = snap.wallet_balance - iso + sum(p.unrealized_pnl for p in fixed)
    mm = sum(model.maintenance_margin(p, tiers[p.symbol], snap.fees) for p in fixed)
    return solve(legs, equity - mm, model, tiers, snap.fees, direction)


def measure(snap: AccountSnapshot) -> RefFigures:
    model = model_for(snap.exchange)
    cross = [p for p in snap.positions if p.margin_mode is MarginMode.CROSS]
    iso = sum(p.isolated_margin for p in snap.positions if p.margin_mode is MarginMode.ISOLATED)
    cross_equity = snap.wallet_balance - iso + sum(p.unrealized_pnl for p in cross)
    cross_mm = sum(model.maintenance_margin(p, snap.tiers[p.symbol], snap.fees) for p in cross)
    cross_im = sum(model.initial_margin(p, snap.tiers[p.symbol], snap.fees) for p in cross)
    im = sum(
        model.initial_margin(p, snap.tiers[p.symbol], snap.fees) if p.margin_mode is MarginMode.CROSS
        else p.isolated_margin
        for p in snap.positions
    )  # fmt: skip
    return RefFigures(
        equity=snap.wallet_balance + sum(p.unrealized_pnl for p in snap.positions),
        maintenance_margin=sum(
            model.maintenance_margin(p, snap.tiers[p.symbol], snap.fees) for p in snap.positions
        ),
        initial_margin=im,
        margin_ratio=cross_mm / cross_equity if cross_equity > 0 else math.inf,
        available_margin=max(0.0, cross_equity - cross_im),
        liquidation=tuple(liquidation(snap, p) for p in snap.positions),
    )


MIN_PRICE_FACTOR = 1e-4
MOVE_RANGE = (-0.99, 10.0)


def liquidating_move(
    snap: AccountSnapshot, benchmark: str, betas: dict[str, float], direction: int
) -> float | None:
    """The original benchmark-move search: a position copy per position per evaluation, probes on
    both sides of every cut from zero outwards, then bisection of the first liquidating bracket."""
    model = model_for(snap.exchange)
    cross = [
        (p, 1.0 if p.symbol == benchmark else betas.get(p.symbol, 1.0), snap.tiers[p.symbol])
        for p in snap.positions
        if p.margin_mode is MarginMode.CROSS
    ]
    base = snap.wallet_balance - sum(
        p.isolated_margin for p in snap.positions if p.margin_mode is MarginMode.ISOLATED
    )

    def gap(move: float) -> float:
        equity, mm = base, 0.0
        for p, beta, tiers in cross:
            moved = p.at_mark(p.mark_price * max(1.0 + beta * move, MIN_PRICE_FACTOR))
            equity += moved.unrealized_pnl
            mm += model.maintenance_margin(moved, tiers, snap.fees)
        return equity - mm

    if not cross:
        return None
    if gap(0.0) <= 0:
        return 0.0
    cuts = set()
    for p, beta, tiers in cross:
        if beta == 0.0 or p.notional <= 0:
            continue
        cuts.add((MIN_PRICE_FACTOR - 1.0) / beta)
        cuts.update((t.notional_floor / p.notional - 1.0) / beta for t in tiers if t.notional_floor > 0)
    limit = MOVE_RANGE[0] if direction < 0 else MOVE_RANGE[1]
    inside = sorted((c for c in cuts if 0 < c * direction < abs(limit)), key=abs)
    probes = [x for c in inside for x in (c - direction * 1e-9, c + direction * 1e-9)]
    safe = 0.0
    for x in [*probes, limit]:
        if x * direction <= abs(safe) or x * direction > abs(limit):
            continue
        if gap(x) <= 0:
            bad = x
            while abs(bad - safe) > 1e-13 * max(1.0, abs(bad)):
                mid = (safe + bad) / 2
                if gap(mid) <= 0:
                    bad = mid
                else:
                    safe = mid
            return bad
        safe = x
    return None
