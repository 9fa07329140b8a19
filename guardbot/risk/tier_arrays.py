"""Maintenance tiers as arrays, and the vectorised twin of `margin.tier_for`.

One row per position (rows of the same symbol share the symbol's table), padded to the longest
table with brackets that can never be chosen, so the tier of every position at every price of a
batch is one comparison over a (..., positions, tiers) block instead of a Python loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from guardbot.domain import Fees, Position, Tier
from guardbot.risk.margin import MarginModel

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class TierArrays:
    """Tier tables of n positions, (n, T); padding has floor = cap = +inf (never contains a notional).

    `alpha`/`beta` are the margin model's maintenance coefficients per position and tier
    (MM = alpha + beta x notional in that tier), so the solver never calls the model per price.
    """

    floor: FloatArray
    cap: FloatArray
    rate: FloatArray
    alpha: FloatArray
    beta: FloatArray
    last: IntArray  # (n,) index of each row's last real bracket
    contiguous: bool  # every table is [floor, cap) brackets, each cap the next floor (as published)

    def index(self, notional: FloatArray, rows: IntArray | None = None) -> IntArray:
        """`tier_for` on arrays: the first bracket with floor <= notional < cap; above every cap the
        last one, below the last floor with no bracket holding it the first one (same fallbacks).

        `notional` is (..., n) for all rows, or (..., *rows.shape) with `rows` picking the tables.
        One pass per bracket column over the notional block: T small operations beat one
        (..., n, T) block by several times.
        """
        floor, cap, last = self.floor, self.cap, self.last
        if rows is not None:
            floor, cap, last = floor[rows], cap[rows], last[rows]
        width = floor.shape[-1]
        if self.contiguous:
            # brackets [floor_k, floor_k+1): the tier is how many higher floors are <= the notional
            tier = np.zeros(notional.shape, dtype=np.intp)
            for k in range(1, width):
                tier += floor[..., k] <= notional
            return np.minimum(tier, last)
        last_floor = np.take_along_axis(floor, last[..., None], axis=-1)[..., 0]
        tier = np.where(notional >= last_floor, last, 0)
        for k in reversed(range(width)):  # downwards, so the first bracket holding it wins
            tier = np.where((floor[..., k] <= notional) & (notional < cap[..., k]), k, tier)
        return tier

    def rows(self, keep: IntArray) -> TierArrays:
        """The tables of the positions `keep` (a subset stays contiguous if the whole was)."""
        return TierArrays(
            self.floor[keep],
            self.cap[keep],
            self.rate[keep],
            self.alpha[keep],
            self.beta[keep],
            self.last[keep],
            self.contiguous,
        )

    def pick(self, table: FloatArray, tier: IntArray, rows: IntArray | None = None) -> FloatArray:
        """table[row, tier] for a tier index block shaped like `index`'s result."""
        t = table if rows is None else table[rows]
        return np.asarray(t[np.arange(t.shape[0]), tier], dtype=np.float64)


def tier_arrays(
    positions: Sequence[Position],
    tables: Sequence[Sequence[Tier]],
    table_of: IntArray,
    model: MarginModel,
    fees: Fees,
    close_fee: FloatArray,
) -> TierArrays:
    """Arrays for `positions`: positions[i] has the (non-empty) tiers `tables[table_of[i]]` and the
    close fee `close_fee[i]` (its `model.close_fee`)."""
    width = max((len(t) for t in tables), default=1)
    length = np.array([len(t) for t in tables], dtype=np.intp)
    real = np.arange(width) < length[:, None]  # row-major, like the flattened columns below
    flat = np.array(
        [
            (t.notional_floor, t.notional_cap, t.maintenance_margin_rate, t.maintenance_amount)
            for table in tables
            for t in table
        ],
        dtype=np.float64,
    ).reshape(-1, 4)
    cols = []
    for k, pad in enumerate((np.inf, np.inf, 0.0, 0.0)):
        col = np.full((len(tables), width), pad)
        col[real] = flat[:, k]
        cols.append(col[table_of])
    floor, cap, rate, amount = cols
    last = length[table_of] - 1
    alpha, beta = _coefficients(
        positions, [tables[k] for k in table_of], model, fees, close_fee, rate, amount
    )
    real = real[table_of]
    below_cap = np.where(real, floor < cap, True).all()
    # each real bracket's cap is the next real bracket's floor
    chained = np.where(real[:, 1:], cap[:, :-1] == floor[:, 1:], True).all()
    return TierArrays(floor, cap, rate, alpha, beta, last, bool(below_cap and chained))


def _coefficients(
    positions: Sequence[Position],
    tables: Sequence[Sequence[Tier]],
    model: MarginModel,
    fees: Fees,
    close_fee: FloatArray,
    rate: FloatArray,
    amount: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """(alpha, beta) per position and tier, exactly as `model.maintenance_coefficients` gives them.

    The built-in models share the base rule (close fee - maintenance amount, rate), so one close
    fee per position is enough (the same subtraction, so the same bits); a model that overrides
    the rule is asked for every bracket."""
    if type(model).maintenance_coefficients is MarginModel.maintenance_coefficients:
        return close_fee[:, None] - amount, rate.copy()
    alpha, beta = np.zeros_like(rate), np.zeros_like(rate)
    for i, (p, table) in enumerate(zip(positions, tables, strict=True)):
        for k, tier in enumerate(table):
            alpha[i, k], beta[i, k] = model.maintenance_coefficients(p, tier, fees)
    return alpha, beta
