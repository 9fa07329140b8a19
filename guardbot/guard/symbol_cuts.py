"""Cutting one symbol without ever growing its net exposure.

In hedge mode a symbol can hold a long and a short leg at once. Cutting the larger leg (the *net*
side) shrinks the net exposure; cutting the smaller one alone (the *hedge*) grows it — long 2 /
short 1.9 BTC (net +0.1) cut to long 0.098 turns into net −1.8 BTC, a different and bigger bet.
So every cut of a symbol here is measured in whole lot steps `k` and taken in this order:

1. the net side, down to the size of the hedge (each step shrinks |net| by one step);
2. then both legs together, one step each (|net| unchanged, gross and maintenance fall).

A one-way symbol has no hedge: only the first phase exists and it is a plain cut of the position.
A symbol's cuts never make |net| grow, whatever `k`; `net_only` limits them to phase 1, for
limits on signed exposure (a cluster's net, beta-weighted net), which phase 2 would not move.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from guardbot.domain import AccountSnapshot, Position, Side
from guardbot.guard.whatif import apply_cut, lot_step, min_reduce_contracts
from guardbot.risk.precision import round_down

_VIRTUAL_STEPS = 10_000  # lot grid used when a market has no known amount step
_EPS = 1e-9

LegCut = tuple[Side, float]  # (leg, contracts to cut)


@dataclass(frozen=True, slots=True)
class SymbolLegs:
    """The legs of one symbol and its cut grid."""

    symbol: str
    net: Position | None  # the larger leg (None: flat)
    hedge: Position | None  # the smaller, opposite leg (None: one-way or unhedged)
    step: float  # lot step in contracts (a virtual one when the market has none)
    real_step: bool
    excess_steps: int  # phase 1: net - hedge, in steps
    pair_steps: int  # phase 2: the hedge, in steps

    @property
    def units(self) -> int:
        return self.excess_steps + self.pair_steps


def legs_of(snapshot: AccountSnapshot, symbol: str) -> SymbolLegs:
    legs = sorted(
        (p for p in snapshot.positions if p.symbol == symbol and p.contracts > 0),
        key=lambda p: (-p.size, p.side.value),
    )
    net = legs[0] if legs else None
    hedge = legs[1] if len(legs) > 1 else None
    real = lot_step(snapshot, net) if net is not None else 0.0
    step = real or ((net.contracts if net else 1.0) / _VIRTUAL_STEPS)
    hedge_contracts = hedge.contracts if hedge is not None else 0.0
    if net is None:
        return SymbolLegs(symbol, None, None, step, bool(real), 0, 0)
    whole = round_down(net.contracts, real) if real else net.contracts
    pairs = (
        math.floor(round_down(hedge_contracts, real) / step + _EPS) if real else round(hedge_contracts / step)
    )
    total = math.floor(whole / step + _EPS)
    return SymbolLegs(symbol, net, hedge, step, bool(real), max(0, total - pairs), min(pairs, total))


def cut_of(legs: SymbolLegs, k: int) -> list[LegCut]:
    """The contracts to cut from each leg for `k` units (0 <= k <= units)."""
    if legs.net is None or k <= 0:
        return []
    k = min(k, legs.units)
    net_steps = k
    hedge_steps = max(0, k - legs.excess_steps)
    out: list[LegCut] = [(legs.net.side, _contracts(legs, legs.net, net_steps))]
    if hedge_steps and legs.hedge is not None:
        out.append((legs.hedge.side, _contracts(legs, legs.hedge, hedge_steps)))
    return [(side, c) for side, c in out if c > 0]


def _contracts(legs: SymbolLegs, leg: Position, steps: int) -> float:
    amount = steps * legs.step
    if legs.real_step:
        amount = round_down(amount, legs.step)
    if amount >= leg.contracts * (1 - _EPS):
        # the whole leg (rounded down to the grid when the market has one)
        return round_down(leg.contracts, legs.step) if legs.real_step else leg.contracts
    return amount


def apply_symbol_cut(
    snapshot: AccountSnapshot, symbol: str, cuts: list[LegCut], fee: float
) -> AccountSnapshot:
    for side, contracts in cuts:
        snapshot = apply_cut(snapshot, symbol, side, contracts, fee)
    return snapshot


def smallest_symbol_cut(
    snapshot: AccountSnapshot,
    symbol: str,
    ok: Callable[[AccountSnapshot], bool],
    fee: float,
    *,
    net_only: bool = False,
    start: int = 0,
) -> tuple[list[LegCut], bool]:
    """The fewest units (from `start`) whose cut makes `ok(after)` hold; (cuts, reached).

    When even the most allowed cut does not reach the goal, that cut is returned with
    reached=False. The goals used here (ratio, distance, notional) improve with every unit.
    Each leg's cut is one the venue accepts: at least its minimum amount and, where reducing
    orders have a minimum value (Hyperliquid), worth that much, with more units than the goal
    needs if need be; none when the whole leg is worth less.
    """
    legs = legs_of(snapshot, symbol)
    top = legs.excess_steps if net_only else legs.units
    if legs.net is None or top <= start:
        return [], ok(snapshot)

    def good(k: int) -> bool:
        return ok(apply_symbol_cut(snapshot, symbol, cut_of(legs, k), fee))

    if good(start):
        k, reached = start, True
    elif not good(top):
        k, reached = top, False
    else:
        lo, k = start, top  # invariant: good(k), not good(lo)
        while k - lo > 1:
            mid = (lo + k) // 2
            if good(mid):
                k = mid
            else:
                lo = mid
        reached = True
    cuts = _at_least_minimum(snapshot, legs, k, top)
    if k > 0 and not cuts:
        reached = ok(snapshot)  # no order the venue accepts cuts this symbol
    return cuts, reached


def _at_least_minimum(snapshot: AccountSnapshot, legs: SymbolLegs, k: int, top: int) -> list[LegCut]:
    """The exchange refuses orders below its minimum amount, and some (Hyperliquid) reducing ones
    below its minimum value: take more units until every leg's cut reaches both (never past
    `top`). A leg that cannot reach the minimum value even at `top` gets no order: the venue would
    refuse it every cycle (its net leg: the symbol gets none, or the hedge would be cut alone)."""
    cuts = cut_of(legs, k)
    if not cuts:
        return cuts
    market = snapshot.markets.get(legs.symbol)
    min_amount = market.min_amount if market is not None else 0.0
    least = {leg.side: min_reduce_contracts(snapshot, leg) for leg in (legs.net, legs.hedge) if leg}

    def short_of(c: list[LegCut]) -> bool:
        return any(n < min_amount * (1 - _EPS) or n < least[side] * (1 - _EPS) for side, n in c)

    while k < top and short_of(cuts):
        k += 1
        cuts = cut_of(legs, k)
    kept = [(side, n) for side, n in cuts if n >= least[side] * (1 - _EPS)]
    if legs.net is not None and all(side is not legs.net.side for side, _ in kept):
        return []
    return kept
