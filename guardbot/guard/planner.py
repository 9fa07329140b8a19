"""What-if cuts and the least-damage deleverage planner.

Cutting a position at the mark realizes its PnL into the wallet, so the account's equity at the same
marks is unchanged except for the taker fee; what changes is the maintenance margin it releases and
the notional it removes. Every search here runs over whole lot steps (the cut is rounded *down* to
the step by construction, and the smallest number of steps that reaches the goal is taken: "one
more step" when rounding down alone would miss it). A cut never exceeds the position.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from guardbot.domain import AccountSnapshot, MarginMode, Position, Side
from guardbot.guard.decisions import pct, short
from guardbot.guard.protection import has_stop
from guardbot.risk.account import liquidation_price, margin_ratio_of, measure_account
from guardbot.risk.liquidation import distance_pct
from guardbot.risk.margin import MarginModel, MissingTiersError, model_for
from guardbot.risk.precision import round_down

_VIRTUAL_STEPS = 10_000  # lot grid used when a market has no known amount step
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


# --- what-if -------------------------------------------------------------------------------------


def fee_rate(snapshot: AccountSnapshot, taker_fee: float | None) -> float:
    return snapshot.fees.taker if taker_fee is None else taker_fee


def lot_step(snapshot: AccountSnapshot, position: Position) -> float:
    market = snapshot.markets.get(position.symbol)
    return market.amount_step if market is not None and market.amount_step > 0 else 0.0


def apply_cut(
    snapshot: AccountSnapshot, symbol: str, side: Side, contracts: float, taker_fee: float
) -> AccountSnapshot:
    """The account after closing `contracts` of one position at its mark (taker fee paid)."""
    positions: list[Position] = []
    wallet = snapshot.wallet_balance
    for p in snapshot.positions:
        if p.symbol != symbol or p.side is not side or contracts <= 0:
            positions.append(p)
            continue
        cut = min(contracts, p.contracts)
        size = cut * p.contract_size
        wallet += p.side.sign * size * (p.mark_price - p.entry_price) - size * p.mark_price * taker_fee
        left = p.contracts - cut
        if left > p.contracts * _EPS:
            # an isolated position gives back its margin in proportion (it stays in the wallet)
            iso = p.isolated_margin * left / p.contracts
            positions.append(replace(p, contracts=left, isolated_margin=iso))
    return replace(snapshot, positions=tuple(positions), wallet_balance=wallet)


def apply_cuts(snapshot: AccountSnapshot, cuts: Iterable[Cut], taker_fee: float) -> AccountSnapshot:
    for c in cuts:
        snapshot = apply_cut(snapshot, c.symbol, c.side, c.contracts, taker_fee)
    return snapshot


def equity_of(snapshot: AccountSnapshot) -> float:
    return snapshot.wallet_balance + math.fsum(p.unrealized_pnl for p in snapshot.positions)


def cross_margin_ratio(snapshot: AccountSnapshot, model: MarginModel | None = None) -> float:
    """Cross maintenance / cross equity: `measure_account(...).margin_ratio` without the liquidation
    solves (the planner evaluates it many times)."""
    model = model or model_for(snapshot.exchange)
    iso = math.fsum(p.isolated_margin for p in snapshot.positions if p.margin_mode is MarginMode.ISOLATED)
    cross = [p for p in snapshot.positions if p.margin_mode is MarginMode.CROSS]
    equity = snapshot.wallet_balance - iso + math.fsum(p.unrealized_pnl for p in cross)
    mm = 0.0
    for p in cross:
        tiers = snapshot.tiers.get(p.symbol)
        if not tiers:
            raise MissingTiersError(f"no maintenance tiers for {p.symbol}")
        mm += model.maintenance_margin(p, tiers, snapshot.fees)
    return margin_ratio_of(mm, equity)


def find_position(snapshot: AccountSnapshot, symbol: str, side: Side) -> Position | None:
    for p in snapshot.positions:
        if p.symbol == symbol and p.side is side:
            return p
    return None


def smallest_cut(
    snapshot: AccountSnapshot,
    position: Position,
    ok: Callable[[AccountSnapshot], bool],
    taker_fee: float,
) -> tuple[float, bool]:
    """The fewest contracts (whole lot steps) to cut from `position` so that `ok(after)` holds.

    Returns (contracts, reached). When even closing the whole position does not satisfy `ok`, the
    whole position (rounded down to the step) is returned with reached=False. Binary search over
    steps: the goals used here (ratio, distance, notional) improve monotonically with the cut.
    """
    real_step = lot_step(snapshot, position)
    step = real_step or position.contracts / _VIRTUAL_STEPS
    whole = round_down(position.contracts, real_step) if real_step else position.contracts
    n = max(0, math.floor(whole / step + _EPS))

    def amount(k: int) -> float:
        if k >= n:
            return whole
        return round_down(k * step, real_step) if real_step else k * step

    def good(k: int) -> bool:
        return ok(
            apply_cut(snapshot, position.symbol, position.side, amount(k), taker_fee) if k else snapshot
        )

    if good(0):
        return 0.0, True
    if n == 0 or not good(n):
        return amount(n) if n else 0.0, False
    lo, hi = 0, n  # invariant: good(hi), not good(lo)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if good(mid):
            hi = mid
        else:
            lo = mid
    cut = amount(hi)
    market = snapshot.markets.get(position.symbol)
    if market is not None and market.min_amount > cut and hi < n:
        # the exchange refuses smaller orders: round the cut up to its minimum, never past the position
        cut = min(whole, round_down(math.ceil(market.min_amount / step - _EPS) * step, step))
    return cut, True


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

    legs = [
        p
        for p in snapshot.positions
        if p.margin_mode is MarginMode.CROSS and p.contracts > 0 and p.notional >= dust_notional
    ]
    corr = correlation_scores(legs, correlations, betas)
    mm = {p.key: model.maintenance_margin(p, snapshot.tiers[p.symbol], snapshot.fees) for p in legs}
    unprotected = {p.key: not has_stop(snapshot, p) for p in legs}

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

    ordered = sorted(legs, key=lambda p: (sort_key(p), p.symbol, p.side.value))
    work = snapshot
    cuts: list[Cut] = []
    for leg in ordered:
        if ok(work):
            break
        current = find_position(work, leg.symbol, leg.side)
        if current is None:
            continue
        contracts, _ = smallest_cut(work, current, ok, fee)
        if contracts <= 0:
            continue
        why = _why(priority, unprotected[leg.key], corr[leg.key], mm[leg.key])
        closes = contracts >= current.contracts - _EPS * current.contracts
        cuts.append(Cut(leg.symbol, leg.side, contracts, contracts / leg.contracts, why, closes))
        work = apply_cut(work, leg.symbol, leg.side, contracts, fee)
    # the search used the fast ratio; the reported one is the account model's own
    after = measure_account(work, model).margin_ratio if work.positions else cross_margin_ratio(work, model)
    return ReductionPlan(tuple(cuts), target_ratio, before, after, after <= target_ratio)


def _why(priority: Sequence[str], unprotected: bool, corr: float, mm: float) -> str:
    for item in priority:
        if item == "unprotected" and unprotected:
            return "unprotected"
        if item == "correlated" and corr >= 0.5:
            return f"ρ {corr:.2f} with the book"
        if item == "maintenance":
            return f"maintenance {mm:,.0f}"
    return ""


def cut_for_liquidation_distance(
    snapshot: AccountSnapshot,
    position: Position,
    min_distance_pct: float,
    taker_fee: float,
    model: MarginModel | None = None,
) -> tuple[float, bool, float | None]:
    """Contracts to cut from `position` so its cross liquidation price is at least
    `min_distance_pct` of mark away. Returns (contracts, reached, distance after)."""
    model = model or model_for(snapshot.exchange)

    def distance(s: AccountSnapshot) -> float | None:
        p = find_position(s, position.symbol, position.side)
        if p is None:
            return None
        return distance_pct(p.mark_price, liquidation_price(s, p, model))

    def ok(s: AccountSnapshot) -> bool:
        d = distance(s)
        return d is None or d >= min_distance_pct

    contracts, reached = smallest_cut(snapshot, position, ok, taker_fee)
    after = distance(apply_cut(snapshot, position.symbol, position.side, contracts, taker_fee))
    return contracts, reached, after
