"""The benchmark move that liquidates the cross pool, on arrays.

gap(move) = cross equity - cross maintenance margin once the benchmark moved by `move` and every
cross position's mark by max(1 + beta x move, MIN_PRICE_FACTOR); <= 0 means liquidation. It is
piecewise linear in the move, cut where a leg changes tier or hits the price floor. The search is
`stress.liquidating_move`'s: probe both sides of every cut from zero outwards, take the first probe
that liquidates and bisect back to the safe probe before it, so the first crossing is found even for
books whose risk is not monotonic in the move. What changes is the cost: every probe is evaluated
for every position in one array operation (in chunks, stopping at the first chunk that
liquidates), and each bisection step is one vectorised evaluation instead of a copy per position.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from guardbot.domain import AccountSnapshot, MarginMode
from guardbot.risk.book import Book
from guardbot.risk.margin import MarginModel
from guardbot.risk.tier_arrays import FloatArray

MOVE_RANGE = (-0.99, 10.0)  # benchmark moves searched by `liquidating_move` (-99 % .. +1000 %)
MIN_PRICE_FACTOR = 1e-4  # a shocked mark stays >= 0.01 % of the current mark
_PROBE = 1e-9  # probe this far (in move) either side of a cut, to see both tiers of a jump
_BISECT_TOL = 1e-13
_CHUNK = 128  # probes evaluated per array operation while scanning outwards


class CrossGap:
    """gap(move) of a snapshot's cross pool for a benchmark and betas (see the module docstring)."""

    def __init__(
        self, snapshot: AccountSnapshot, benchmark: str, betas: Mapping[str, float], model: MarginModel
    ) -> None:
        cross = tuple(p for p in snapshot.positions if p.margin_mode is MarginMode.CROSS)
        isolated = sum(p.isolated_margin for p in snapshot.positions if p.margin_mode is MarginMode.ISOLATED)
        self.base = snapshot.wallet_balance - isolated
        # the cross positions only (a cross symbol without tiers raises MissingTiersError)
        self.book = Book.of(snapshot.with_positions(cross), model)
        self.beta = np.array(
            [1.0 if p.symbol == benchmark else betas.get(p.symbol, 1.0) for p in cross], dtype=np.float64
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

    def cuts(self) -> FloatArray:
        """Moves at which a leg changes tier or hits the price floor: the kinks and jumps of the gap."""
        tiers, notional = self.book.tiers, self.book.size * self.book.mark
        moving = (self.beta != 0.0) & (notional > 0)
        beta = self.beta[moving]
        floors = tiers.floor[moving]
        real = (np.arange(floors.shape[1]) <= tiers.last[moving][:, None]) & (floors > 0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # a beta of 1e-300
            at_floor = (floors / notional[moving][:, None] - 1.0) / beta[:, None]
            return np.concatenate(((MIN_PRICE_FACTOR - 1.0) / beta, at_floor[real]))


def liquidating_move(gap: CrossGap, direction: int) -> float | None:
    """Smallest benchmark move in `direction` (-1 down, +1 up) at which gap <= 0 (see the module)."""
    if gap.empty:
        return None
    if gap(0.0) <= 0:
        return 0.0
    limit = MOVE_RANGE[0] if direction < 0 else MOVE_RANGE[1]
    cuts = gap.cuts()
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
    for start in range(0, probes.size, _CHUNK):
        chunk = probes[start : start + _CHUNK]
        bad = np.flatnonzero(gap.values(chunk) <= 0)
        if bad.size:
            k = start + int(bad[0])
            return _bisect(gap, float(probes[k - 1]) if k else 0.0, float(probes[k]))
    return None


def _bisect(gap: CrossGap, safe: float, bad: float) -> float:
    """Narrow [safe, bad] to the crossing; returns the liquidating end (never an early answer)."""
    while abs(bad - safe) > _BISECT_TOL * max(1.0, abs(bad)):
        mid = (safe + bad) / 2
        if gap(mid) <= 0:
            bad = mid
        else:
            safe = mid
    return bad
