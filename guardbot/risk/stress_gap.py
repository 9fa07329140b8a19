"""The benchmark move that liquidates the cross pool, on arrays.

gap(move) = cross equity - cross maintenance margin once the benchmark moved by `move` and every
cross position's mark by max(1 + beta x move, MIN_PRICE_FACTOR); <= 0 means liquidation. The search
is the one `stress.liquidating_move` has always done: probe both sides of every cut (a leg changing
tier or hitting the price floor) from zero outwards, take the first probe that liquidates and
bisect back to the safe probe before it, so the first crossing is found even for books whose risk
is not monotonic in the move.

What changed is the cost. Each leg is linear in the move between its own cuts, so the whole gap is
known as exact linear pieces (`Lines`) from one sort and one cumulative sum over all legs' cuts, and
every probe is read off them at once: O(legs x tiers), not O(probes x legs). The bracket found is
then checked on the gap itself, and inside a piece the line's root leaves only a few tolerances to
bisect. A margin model whose maintenance is not linear per tier, or a probe whose sign the pieces
and the direct sum disagree on (a gap within rounding of zero), takes the direct path: every probe
evaluated for every position, in chunks, and a full bisection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from guardbot.domain import AccountSnapshot, MarginMode
from guardbot.risk.book import Book
from guardbot.risk.margin import MarginModel
from guardbot.risk.tier_arrays import FloatArray, IntArray

MOVE_RANGE = (-0.99, 10.0)  # benchmark moves searched by `liquidating_move` (-99 % .. +1000 %)
MIN_PRICE_FACTOR = 1e-4  # a shocked mark stays >= 0.01 % of the current mark
_PROBE = 1e-9  # probe this far (in move) either side of a cut, to see both tiers of a jump
_BISECT_TOL = 1e-13
_CHUNK = 128  # probes evaluated per array operation while scanning outwards


class CrossGap:
    """gap(move) of a snapshot's cross pool for a benchmark and betas (see the module docstring)."""

    def __init__(
        self,
        snapshot: AccountSnapshot,
        benchmark: str,
        betas: Mapping[str, float],
        model: MarginModel,
        book: Book | None = None,
    ) -> None:
        """`book`, when given, is `Book.of(snapshot, model)` already built (a stress report shares
        one); otherwise one of the cross positions is (a cross symbol without tiers raises
        MissingTiersError; an isolated position plays no part here)."""
        if book is None:
            cross = tuple(p for p in snapshot.positions if p.margin_mode is MarginMode.CROSS)
            book = Book.of(snapshot.with_positions(cross), model)
            isolated = (p.isolated_margin for p in snapshot.positions if p.margin_mode is MarginMode.ISOLATED)
            self.base = snapshot.wallet_balance - sum(isolated)
        else:
            self.base = book.cross_wallet
        self.book = book.cross_only()
        self.beta = np.array(
            [1.0 if p.symbol == benchmark else betas.get(p.symbol, 1.0) for p in self.book.positions],
            dtype=np.float64,
        )

    @property
    def empty(self) -> bool:
        return self.beta.size == 0

    def values(self, moves: FloatArray) -> FloatArray:
        """gap at each of `moves` (K,), summed in the scalar order: base, then position by position."""
        book = self.book
        marks = book.mark * np.maximum(1.0 + self.beta * moves[:, None], MIN_PRICE_FACTOR)
        start = np.full((moves.size, 1), self.base)
        equity = np.cumsum(np.concatenate((start, book.upnl(marks)), axis=1), axis=1)[:, -1]
        maintenance = book.maintenance(marks, book.size * marks)
        return np.asarray(equity - np.cumsum(maintenance, axis=1)[:, -1], dtype=np.float64)

    def __call__(self, move: float) -> float:
        return float(self.values(np.array([move], dtype=np.float64))[0])

    def cut_matrix(self) -> FloatArray:
        """(n, 1 + T) moves at which each leg hits the price floor (column 0) or a tier floor;
        NaN where it never does (beta 0, no notional, no such floor)."""
        tiers, beta = self.book.tiers, self.beta[:, None]
        notional = (self.book.size * self.book.mark)[:, None]
        moving = (beta != 0.0) & (notional > 0)
        real = (np.arange(tiers.floor.shape[1]) <= tiers.last[:, None]) & (tiers.floor > 0) & moving
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # a beta of 1e-300
            at_price_floor = np.where(moving, (MIN_PRICE_FACTOR - 1.0) / beta, np.nan)
            at_floor = np.where(real, (tiers.floor / notional - 1.0) / beta, np.nan)
        return np.concatenate((at_price_floor, at_floor), axis=1)

    def lines(self, direction: int) -> Lines | None:
        """The gap on one side of zero as exact linear pieces, or None for a margin model whose
        maintenance is not `alpha + beta x notional` per tier (then only `values` is used)."""
        if type(self.book.model).maintenance_margin is not MarginModel.maintenance_margin:
            return None
        limit = abs(MOVE_RANGE[0] if direction < 0 else MOVE_RANGE[1])
        n = self.beta.size
        with np.errstate(invalid="ignore"):
            reach = self.cut_matrix() * direction
            reach = np.sort(np.where((reach > 0) & (reach < limit), reach, np.inf), axis=1)
        # each leg's own pieces between its own cuts; its line is read at a move inside each
        lo = np.concatenate((np.zeros((n, 1)), reach), axis=1)
        hi = np.minimum(np.concatenate((reach, np.full((n, 1), np.inf)), axis=1), limit)
        live = lo < limit
        c0, c1 = self._leg_lines(np.where(live, (lo + hi) / 2, 0.0).T * direction)
        # a leg's line changes at each of its cuts; all changes in scan order, summed up
        cut = live[:, 1:].T
        order = np.argsort(reach.T[cut], kind="stable")
        d0 = (c0[1:] - c0[:-1])[cut][order]
        d1 = (c1[1:] - c1[:-1])[cut][order]
        return Lines(
            reach=reach.T[cut][order],
            c0=self.base + c0[0].sum() + np.concatenate(([0.0], np.cumsum(d0))),
            c1=c1[0].sum() + np.concatenate(([0.0], np.cumsum(d1))),
            direction=direction,
        )

    def _leg_lines(self, moves: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Each leg's upnl - MM as c0 + c1 x move around `moves` (P, n), with the tier and the
        price floor as they are at those moves."""
        book, beta = self.book, self.beta
        raw = 1.0 + beta * moves
        floored = raw < MIN_PRICE_FACTOR
        notional = book.size * book.mark * np.maximum(raw, MIN_PRICE_FACTOR)
        tier = book.tiers.index(notional)
        rate = book.tiers.pick(book.tiers.beta, tier)
        slope = (book.sign - rate) * book.size * book.mark  # per unit of the mark's factor
        const = -book.sign * book.size * book.entry - book.tiers.pick(book.tiers.alpha, tier)
        c0 = np.where(floored, slope * MIN_PRICE_FACTOR + const, slope + const)
        return c0, np.where(floored, 0.0, slope * beta)


@dataclass(frozen=True, slots=True)
class Lines:
    """gap = c0[j] + c1[j] x move after the j-th cut (in distance from zero `reach`), exact up to
    rounding: every leg is linear in the move between its own tier and price-floor cuts."""

    reach: FloatArray  # (J,) ascending
    c0: FloatArray  # (J + 1,)
    c1: FloatArray
    direction: int

    def piece(self, moves: FloatArray) -> IntArray:
        return np.searchsorted(self.reach, moves * self.direction, side="right")

    def values(self, moves: FloatArray) -> FloatArray:
        j = self.piece(moves)
        return np.asarray(self.c0[j] + self.c1[j] * moves, dtype=np.float64)


def liquidating_move(gap: CrossGap, direction: int) -> float | None:
    """Smallest benchmark move in `direction` (-1 down, +1 up) at which gap <= 0 (see the module)."""
    if gap.empty:
        return None
    if gap(0.0) <= 0:
        return 0.0
    limit = MOVE_RANGE[0] if direction < 0 else MOVE_RANGE[1]
    cuts = gap.cut_matrix().ravel()
    with np.errstate(invalid="ignore"):
        inside = np.unique(cuts[(cuts * direction > 0) & (cuts * direction < abs(limit))])
    inside = inside[np.argsort(np.abs(inside), kind="stable")]
    probes = np.stack((inside - direction * _PROBE, inside + direction * _PROBE), axis=1).ravel()
    probes = np.append(probes, limit)
    # A probe is skipped when it is not beyond every safe probe before it (two cuts closer than the
    # probe offset) or beyond the range; all probes before the first liquidating one are safe.
    reach = probes * direction
    kept = np.where(reach <= abs(limit), reach, 0.0)
    before = np.concatenate(([0.0], np.maximum.accumulate(kept)[:-1]))
    probes = probes[(reach > np.maximum(before, 0.0)) & (reach <= abs(limit))]

    lines = gap.lines(direction)
    if lines is not None:
        # every probe from the linear pieces at once; the bracket found is checked on the gap itself
        bad = np.flatnonzero(lines.values(probes) <= 0)
        if bad.size == 0:
            return None
        k = int(bad[0])
        safe = float(probes[k - 1]) if k else 0.0
        g_safe, g_bad = gap.values(np.array([safe, probes[k]]))
        if g_safe > 0 and g_bad <= 0:
            return _refine(gap, lines, safe, float(probes[k]), float(g_safe), float(g_bad))
    for start in range(0, probes.size, _CHUNK):  # a model without lines, or a rounding tie
        chunk = probes[start : start + _CHUNK]
        bad = np.flatnonzero(gap.values(chunk) <= 0)
        if bad.size:
            k = start + int(bad[0])
            return _bisect(gap, float(probes[k - 1]) if k else 0.0, float(probes[k]))
    return None


def _refine(gap: CrossGap, lines: Lines, safe: float, bad: float, g_safe: float, g_bad: float) -> float:
    """The crossing in [safe, bad]: where no cut lies between them the gap is one line, so its root
    is computed and only a bracket a few tolerances wide around it is bisected."""
    if lines.piece(np.array([safe]))[0] == lines.piece(np.array([bad]))[0]:
        root = safe + (bad - safe) * g_safe / (g_safe - g_bad)
        step = 2 * _BISECT_TOL * max(1.0, abs(root))
        lo, hi = sorted((safe, bad))
        near = np.clip(np.array([root - step, root + step]), lo, hi)
        if bad < safe:
            near = near[::-1]
        g_near = gap.values(near)
        if g_near[0] > 0 and g_near[1] <= 0:
            return _bisect(gap, float(near[0]), float(near[1]))
    return _bisect(gap, safe, bad)


def _bisect(gap: CrossGap, safe: float, bad: float) -> float:
    """Narrow [safe, bad] to the crossing; returns the liquidating end (never an early answer)."""
    while abs(bad - safe) > _BISECT_TOL * max(1.0, abs(bad)):
        mid = (safe + bad) / 2
        if gap(mid) <= 0:
            bad = mid
        else:
            safe = mid
    return bad
