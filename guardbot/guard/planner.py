"""The least-damage deleverage planner: which cuts bring the cross margin ratio back to a target.

Every search runs over whole lot steps (the cut is rounded *down* to the step by construction, and
the smallest number of steps that reaches the goal is taken: "one more step" when rounding down
alone would miss it). A cut never exceeds the position, and never grows a symbol's net exposure:
symbols are cut net side first, and the hedges of a hedged symbol only last, together with the
leg they hedge (see symbol_cuts.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from guardbot.domain import AccountSnapshot, MarginMode, Position, Side
from guardbot.guard.decisions import pct, short
from guardbot.guard.protection import has_stop
from guardbot.guard.symbol_cuts import LegCut, apply_symbol_cut, legs_of, smallest_symbol_cut
from guardbot.guard.whatif import (
    apply_cut,
    cross_margin_ratio,
    fee_rate,
    find_position,
    lot_step,
    sendable_cut,
)
from guardbot.risk.account import measure_account
from guardbot.risk.margin import MarginModel, model_for
from guardbot.risk.precision import round_down

_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Cut:
    """Reduce `symbol`/`side` by `contracts` (rounded down to the lot step, <= the position)."""

    symbol: str
    side: Side
    contracts: float
    fraction: float  # of the position's contracts
    why: str  # the reason this leg was chosen ("unprotected", "ρ 0.91 with the book", ...)
    closes: bool = False  # the whole position goes

    def label(self) -> str:
        tag = f" ({self.why})" if self.why else ""
        return f"{short(self.symbol)} {self.fraction * 100:.0f}%{tag}"


@dataclass(frozen=True, slots=True)
class ReductionPlan:
    cuts: tuple[Cut, ...]
    target_ratio: float
    ratio_before: float
    ratio_after: float  # margin ratio of the account after every cut, at the same marks
    feasible: bool  # ratio_after <= target_ratio

    def __iter__(self) -> Iterator[Cut]:
        return iter(self.cuts)

    def __len__(self) -> int:
        return len(self.cuts)

    def summary(self) -> str:
        legs = ", ".join(c.label() for c in self.cuts) or "nothing to cut"
        tail = "" if self.feasible else f" (target {pct(self.target_ratio)} not reachable)"
        return f"cut {legs} → expected {pct(self.ratio_after)}{tail}"


def apply_cuts(snapshot: AccountSnapshot, cuts: Iterable[Cut], taker_fee: float) -> AccountSnapshot:
    for c in cuts:
        snapshot = apply_cut(snapshot, c.symbol, c.side, c.contracts, taker_fee)
    return snapshot


# --- planner -------------------------------------------------------------------------------------


def _corr(correlations: Mapping[tuple[str, str], float], a: str, b: str) -> float | None:
    if a == b:
        return 1.0
    v = correlations.get((a, b))
    return correlations.get((b, a)) if v is None else v


def correlation_scores(
    positions: Sequence[Position],
    correlations: Mapping[tuple[str, str], float] | None,
    betas: Mapping[str, float] | None = None,
) -> dict[tuple[str, Side], float]:
    """How much each position moves *with* the rest of the book (signed, notional-weighted).

    +1: it is the same bet as everything else (cutting it removes concentrated risk); negative:
    it hedges the book (cutting it adds risk). Without correlations, betas give a proxy: the
    position's beta if it points the same way as the rest of the book's beta-weighted net.
    """
    scores: dict[tuple[str, Side], float] = {}
    for p in positions:
        others = [q for q in positions if q is not p]
        total = math.fsum(q.notional for q in others)
        score = 0.0
        if correlations and total > 0:
            acc = 0.0
            for q in others:
                c = _corr(correlations, p.symbol, q.symbol)
                if c is not None:
                    acc += c * p.side.sign * q.side.sign * q.notional
            score = acc / total
        elif betas:
            rest = math.fsum(betas.get(q.symbol, 1.0) * q.signed_notional for q in others)
            if rest != 0:
                score = betas.get(p.symbol, 1.0) * (1.0 if (rest > 0) == (p.side is Side.LONG) else -1.0)
        scores[p.key] = score
    return scores


def plan_reduction(
    snapshot: AccountSnapshot,
    target_ratio: float,
    priority: Sequence[str] = ("unprotected", "correlated", "maintenance"),
    betas: Mapping[str, float] | None = None,
    correlations: Mapping[tuple[str, str], float] | None = None,
    *,
    taker_fee: float | None = None,
    dust_notional: float = 0.0,
    model: MarginModel | None = None,
    skip: Callable[[str], bool] | None = None,
) -> ReductionPlan:
    """The cuts that bring the cross margin ratio down to `target_ratio` with the least damage.

    Legs are taken in `priority` order (unprotected first, then the most correlated with the rest
    of the book, then the largest maintenance-margin contributors), and each leg is cut by the
    fewest lot steps that reach the target; only when closing it entirely is not enough does the
    plan move to the next leg. Cross positions only (cutting an isolated one does not lower the
    cross ratio much and moves its own liquidation price not at all); dust is left alone.
    """
    model = model or model_for(snapshot.exchange)
    fee = fee_rate(snapshot, taker_fee)
    before = cross_margin_ratio(snapshot, model)

    def ok(s: AccountSnapshot) -> bool:
        return cross_margin_ratio(s, model) <= target_ratio

    if before <= target_ratio:
        return ReductionPlan((), target_ratio, before, before, True)

    cross = [p for p in snapshot.positions if p.margin_mode is MarginMode.CROSS and p.contracts > 0]
    corr = correlation_scores(cross, correlations, betas)
    mm = {p.key: model.maintenance_margin(p, snapshot.tiers[p.symbol], snapshot.fees) for p in cross}
    unprotected = {p.key: not has_stop(snapshot, p) for p in cross}
    # one unit per symbol: its net side (the larger leg); a hedge leg is never a unit of its own
    net_legs = []
    for symbol in dict.fromkeys(p.symbol for p in cross):
        net = legs_of(_cross_only(snapshot), symbol).net
        if net is not None and net.notional >= dust_notional and not (skip and skip(symbol)):
            net_legs.append(net)

    def sort_key(p: Position) -> tuple[float, ...]:
        parts: list[float] = []
        for item in priority:
            if item == "unprotected":
                parts.append(1.0 if unprotected[p.key] else 0.0)
            elif item == "correlated":
                parts.append(round(corr[p.key], 6))
            elif item == "maintenance":
                parts.append(mm[p.key])
        parts.append(p.notional)  # then the biggest leg, for a deterministic order
        return tuple(-x for x in parts)

    ordered = sorted(net_legs, key=lambda p: (sort_key(p), p.symbol, p.side.value))
    work = snapshot
    taken: dict[tuple[str, Side], float] = {}
    why_of: dict[tuple[str, Side], str] = {}

    def take(symbol: str, cuts: list[LegCut], why: str) -> None:
        nonlocal work
        for side, contracts in cuts:
            taken[(symbol, side)] = taken.get((symbol, side), 0.0) + contracts
            why_of.setdefault((symbol, side), why)
        work = apply_symbol_cut(work, symbol, cuts, fee)

    # 1. each symbol's net excess, in priority order
    for leg in ordered:
        if ok(work):
            break
        cuts, _ = smallest_symbol_cut(work, leg.symbol, ok, fee, net_only=True)
        take(leg.symbol, cuts, _why(priority, unprotected[leg.key], corr[leg.key], mm[leg.key]))
    # 2. hedged pairs last: both legs together, biggest maintenance first
    hedged = [p for p in ordered if legs_of(work, p.symbol).hedge is not None]
    for leg in sorted(hedged, key=lambda p: -sum(v for k, v in mm.items() if k[0] == p.symbol)):
        if ok(work):
            break
        cuts, _ = smallest_symbol_cut(work, leg.symbol, ok, fee)
        take(leg.symbol, cuts, "hedged pair, cut together")

    plan: list[Cut] = []
    for (symbol, side), contracts in taken.items():
        original = find_position(snapshot, symbol, side)
        assert original is not None
        # one leg may be cut in both phases: the sum, on the lot grid, never past the position
        contracts = min(original.contracts, round_down(contracts, lot_step(snapshot, original)))
        # the rounding must not take a cut back under the venue's minimum value for reducing orders
        contracts = sendable_cut(snapshot, original, contracts)
        if contracts <= 0:
            continue
        closes = contracts >= original.contracts * (1 - _EPS)
        plan.append(
            Cut(symbol, side, contracts, contracts / original.contracts, why_of[(symbol, side)], closes)
        )
    # the search used the fast ratio; the reported one is the account model's own
    after = measure_account(work, model).margin_ratio if work.positions else cross_margin_ratio(work, model)
    return ReductionPlan(tuple(plan), target_ratio, before, after, after <= target_ratio)


def _cross_only(snapshot: AccountSnapshot) -> AccountSnapshot:
    return snapshot.with_positions(tuple(p for p in snapshot.positions if p.margin_mode is MarginMode.CROSS))


def _why(priority: Sequence[str], unprotected: bool, corr: float, mm: float) -> str:
    for item in priority:
        if item == "unprotected" and unprotected:
            return "unprotected"
        if item == "correlated" and corr >= 0.5:
            return f"ρ {corr:.2f} with the book"
        if item == "maintenance":
            return f"maintenance {mm:,.0f}"
    return ""
