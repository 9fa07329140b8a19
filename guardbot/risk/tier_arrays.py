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
    last_floor: FloatArray  # (n,) its floor

    def index(self, notional: FloatArray, rows: IntArray | None = None) -> IntArray:
        """`tier_for` on arrays: the first bracket with floor <= notional < cap; above every cap the
        last one, below the last floor with no bracket holding it the first one (same fallbacks).

        `notional` is (..., n) for all rows, or (..., len(rows)) with `rows` picking the tables.
        """
        floor, cap = (self.floor, self.cap) if rows is None else (self.floor[rows], self.cap[rows])
        last, last_floor = (
            (self.last, self.last_floor) if rows is None else (self.last[rows], self.last_floor[rows])
        )
        x = notional[..., None]
        inside = (floor <= x) & (x < cap)
        first = inside.argmax(axis=-1)
        found = np.take_along_axis(inside, first[..., None], axis=-1)[..., 0]
        fallback = np.where(notional >= last_floor, last, 0)
        return np.where(found, first, fallback)

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
    return TierArrays(floor, cap, rate, alpha, beta, last, floor[np.arange(len(positions)), last])


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
