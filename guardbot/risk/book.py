"""A snapshot's positions as arrays, and the per-position figures at one or many sets of marks.

`Book` holds what does not depend on the marks (sides, sizes, entries, tier tables and margin
coefficients), built once per snapshot; `Book.at(marks)` evaluates notional, unrealized PnL, tier,
maintenance and initial margin for S sets of marks at once (a stress test is S shocked books).

Element by element these are the same float operations, in the same order, as `Position` and the
margin models do (e.g. `sign * size * (mark - entry)`), so each figure has the same bits as the
scalar code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from guardbot.domain import AccountSnapshot, Fees, MarginMode, Position, Tier
from guardbot.risk.margin import (
    BinanceUsdmModel,
    BybitUnifiedModel,
    HyperliquidModel,
    MarginModel,
    MissingTiersError,
)
from guardbot.risk.tier_arrays import BoolArray, FloatArray, IntArray, TierArrays, tier_arrays

# initial_margin implementations that are notional / leverage (+ the close fee for Bybit)
_IM_PLAIN = (BinanceUsdmModel.initial_margin, HyperliquidModel.initial_margin)
_IM_WITH_FEE = (BybitUnifiedModel.initial_margin,)


def tiers_by_symbol(snapshot: AccountSnapshot) -> dict[str, Sequence[Tier]]:
    """Every held symbol's tiers; a held symbol without tiers is refused, never guessed."""
    out: dict[str, Sequence[Tier]] = {}
    for p in snapshot.positions:
        if p.symbol in out:
            continue
        tiers = snapshot.tiers.get(p.symbol)
        if not tiers:
            raise MissingTiersError(f"no maintenance tiers for {p.symbol}")
        out[p.symbol] = tiers
    return out


@dataclass(frozen=True, slots=True)
class Marked:
    """A book at S sets of marks: every array is (S, n)."""

    mark: FloatArray
    notional: FloatArray
    upnl: FloatArray
    maintenance: FloatArray
    initial: FloatArray  # cross positions: the model's IM; isolated: their allocated margin
    rate: FloatArray  # maintenance rate of the tier at the mark


@dataclass(frozen=True, slots=True)
class Book:
    """Positions of a snapshot as (n,) arrays, index i = snapshot.positions[i]."""

    snapshot: AccountSnapshot
    model: MarginModel
    sign: FloatArray  # +1 long, -1 short
    size: FloatArray  # contracts x contract size
    entry: FloatArray
    mark: FloatArray
    leverage: FloatArray
    isolated_margin: FloatArray
    close_fee: FloatArray
    cross: BoolArray
    symbol: IntArray  # index into `symbols`, in order of first appearance
    symbols: tuple[str, ...]
    tiers: TierArrays
    cross_wallet: float  # wallet minus the margin allocated to isolated positions

    @property
    def positions(self) -> tuple[Position, ...]:
        return self.snapshot.positions

    @classmethod
    def of(cls, snapshot: AccountSnapshot, model: MarginModel) -> Book:
        positions = snapshot.positions
        tiers_of = tiers_by_symbol(snapshot)
        fees = snapshot.fees
        symbols = tuple(tiers_of)
        index = {s: i for i, s in enumerate(symbols)}
        rows = [
            (
                float(p.side.sign),
                p.size,
                p.entry_price,
                p.mark_price,
                p.leverage,
                p.isolated_margin,
                model.close_fee(p, fees),
            )
            for p in positions
        ]
        cols = np.array(rows, dtype=np.float64).reshape(len(positions), 7).T
        close_fee = np.ascontiguousarray(cols[6])
        cross = np.array([p.margin_mode is MarginMode.CROSS for p in positions], dtype=np.bool_)
        # the same left-to-right sum as the scalar code, so the cross pool has the same bits
        isolated = sum(p.isolated_margin for p in positions if p.margin_mode is MarginMode.ISOLATED)
        symbol = np.array([index[p.symbol] for p in positions], dtype=np.intp)
        return cls(
            snapshot=snapshot,
            model=model,
            sign=np.ascontiguousarray(cols[0]),
            size=np.ascontiguousarray(cols[1]),
            entry=np.ascontiguousarray(cols[2]),
            mark=np.ascontiguousarray(cols[3]),
            leverage=np.ascontiguousarray(cols[4]),
            isolated_margin=np.ascontiguousarray(cols[5]),
            close_fee=close_fee,
            cross=cross,
            symbol=symbol,
            symbols=symbols,
            tiers=tier_arrays(positions, list(tiers_of.values()), symbol, model, fees, close_fee),
            cross_wallet=snapshot.wallet_balance - isolated,
        )

    def cross_only(self) -> Book:
        """The cross positions alone (their tables and coefficients are not rebuilt); the cross
        wallet is unchanged, it already left the isolated margin out."""
        keep = np.flatnonzero(self.cross)
        positions = tuple(self.positions[i] for i in keep.tolist())
        return Book(
            snapshot=self.snapshot.with_positions(positions),
            model=self.model,
            sign=self.sign[keep],
            size=self.size[keep],
            entry=self.entry[keep],
            mark=self.mark[keep],
            leverage=self.leverage[keep],
            isolated_margin=self.isolated_margin[keep],
            close_fee=self.close_fee[keep],
            cross=self.cross[keep],
            symbol=self.symbol[keep],
            symbols=self.symbols,
            tiers=self.tiers.rows(keep),
            cross_wallet=self.cross_wallet,
        )

    def at(self, marks: FloatArray) -> Marked:
        """Per-position figures at each row of `marks` (S, n)."""
        marks = np.atleast_2d(np.asarray(marks, dtype=np.float64))
        notional = self.size * marks
        tier = self.tiers.index(notional)
        model = type(self.model)
        if model.initial_margin in _IM_PLAIN:
            im = notional / self.leverage
        elif model.initial_margin in _IM_WITH_FEE:
            im = notional / self.leverage + self.close_fee
        else:
            im = self._per_position(marks, self.model.initial_margin)
        im = np.where(self.cross, im, self.isolated_margin)
        return Marked(
            marks,
            notional,
            self.upnl(marks),
            self.maintenance(marks, notional, tier),
            im,
            self.tiers.pick(self.tiers.rate, tier),
        )

    def upnl(self, marks: FloatArray) -> FloatArray:
        return np.asarray(self.sign * self.size * (marks - self.entry), dtype=np.float64)

    def maintenance(
        self, marks: FloatArray, notional: FloatArray, tier: IntArray | None = None
    ) -> FloatArray:
        """Maintenance margin at `marks` (S, n), `notional` being size x marks."""
        if type(self.model).maintenance_margin is not MarginModel.maintenance_margin:
            return self._per_position(marks, self.model.maintenance_margin)
        tier = self.tiers.index(notional) if tier is None else tier
        return self.tiers.pick(self.tiers.alpha, tier) + self.tiers.pick(self.tiers.beta, tier) * notional

    def _per_position(
        self, marks: FloatArray, method: Callable[[Position, Sequence[Tier], Fees], float]
    ) -> FloatArray:
        """A model that overrides a margin rule is asked position by position (exact, slower)."""
        fees, tiers = self.snapshot.fees, self.snapshot.tiers
        out = np.empty_like(marks)
        for s, row in enumerate(marks.tolist()):
            for i, (p, m) in enumerate(zip(self.positions, row, strict=True)):
                at = p if m == p.mark_price else p.at_mark(m)
                out[s, i] = method(at, tiers[p.symbol], fees)
        return out
