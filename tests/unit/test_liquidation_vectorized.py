"""The fast paths agree with the straightforward reference (tests/unit/reference_risk.py).

Random books of the three margin-model families, one-way and hedge, cross and isolated, with
continuous and discontinuous tier tables, up to a dozen symbols: the array path of
`measure_account` (`measure_versions`), the batch solver in every direction, the scalar
`liquidation_price`, and shocked versions of a book solved together, all against the reference.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from book_strategies import books, cross_gap
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_risk import liquidation as ref_liquidation
from reference_risk import measure as ref_measure

from guardbot.domain import AccountSnapshot, Position, PositionMode, Side, Tier
from guardbot.risk.account import AccountFigures, liquidation_price, measure_account, measure_versions
from guardbot.risk.book import Book
from guardbot.risk.liquidation_batch import pieces_of, pools_of, solve
from guardbot.risk.margin import continuous_deductions, model_for

DIRECTIONS = ("nearest", "below", "above")


def _scale(snap: AccountSnapshot) -> float:
    return abs(snap.wallet_balance) + sum(p.notional + p.size * p.entry_price for p in snap.positions)


def _same_price(snap: AccountSnapshot, p: Position, got: float | None, want: float | None) -> None:
    """Equal within float rounding of the account's numbers, relative to the moving size."""
    if want is None or got is None:
        assert got == want, (p, got, want)
        return
    moving = sum(q.size for q in snap.positions if q.symbol == p.symbol and q.margin_mode is p.margin_mode)
    assert got == pytest.approx(want, rel=1e-12, abs=1e-12 * _scale(snap) / max(moving, 1e-300)), p


def _batch(snap: AccountSnapshot, marks: np.ndarray, direction: str = "nearest") -> np.ndarray:
    book = Book.of(snap, model_for(snap.exchange))
    pools = pools_of(book)
    return solve(book, pools, pieces_of(book, pools), book.at(marks), direction)  # type: ignore[arg-type]


def _agrees(fig: AccountFigures, snap: AccountSnapshot) -> None:
    ref = ref_measure(snap)
    # per-position figures and totals are the same float operations in the same order: same bits
    assert fig.equity == ref.equity
    assert fig.maintenance_margin == ref.maintenance_margin
    assert fig.initial_margin == ref.initial_margin
    assert fig.margin_ratio == ref.margin_ratio
    assert fig.available_margin == ref.available_margin
    assert [pf.position for pf in fig.positions] == list(snap.positions)
    for pf, want in zip(fig.positions, ref.liquidation, strict=True):
        _same_price(snap, pf.position, pf.liquidation_price, want)


@settings(max_examples=300, deadline=None)
@given(books())
def test_array_measure_and_measure_account_agree_with_the_reference(snap: AccountSnapshot) -> None:
    _agrees(measure_versions(snap, (snap,))[0], snap)
    _agrees(measure_account(snap), snap)  # whichever path it takes for this size of book


@settings(max_examples=200, deadline=None)
@given(books(), st.sampled_from(DIRECTIONS))
def test_batch_solver_and_scalar_solver_agree_with_the_reference_in_every_direction(
    snap: AccountSnapshot, direction: str
) -> None:
    batch = _batch(snap, np.array([[p.mark_price for p in snap.positions]]), direction)[0]
    for p, got in zip(snap.positions, batch.tolist(), strict=True):
        want = ref_liquidation(snap, p, direction)
        _same_price(snap, p, None if math.isnan(got) else got, want)
        _same_price(snap, p, liquidation_price(snap, p, direction=direction), want)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(books(max_symbols=6), st.lists(st.floats(-0.6, 1.5), min_size=1, max_size=4), st.data())
def test_shocked_versions_solved_together_agree_with_each_one_alone(
    snap: AccountSnapshot, shocks: list[float], data: st.DataObject
) -> None:
    symbols = snap.symbols()
    versions = []
    for x in shocks:
        betas = data.draw(st.lists(st.floats(0, 3), min_size=len(symbols), max_size=len(symbols)))
        moves = {s: max(1 + b * x, 1e-4) for s, b in zip(symbols, betas, strict=True)}
        versions.append(snap.with_marks({s: snap.mark(s) * f for s, f in moves.items()}))  # type: ignore[operator]
    for fig, version in zip(measure_versions(snap, versions), versions, strict=True):
        _agrees(fig, version)


@st.composite
def jump_books(draw: st.DrawFn) -> tuple[AccountSnapshot, Position, float]:
    """A book plus a cross short whose table has no maintenance amounts, with the wallet set so the
    pool crosses zero inside the maintenance jump at one of its boundaries: that boundary is its
    liquidation price, and no piece of the price axis has a root."""
    snap = draw(books(max_symbols=6))
    n = draw(st.integers(2, 4))
    floors, rates = [0.0], [draw(st.floats(0.002, 0.02))]
    for _ in range(n - 1):
        floors.append(floors[-1] * draw(st.floats(1.5, 20)) if floors[-1] else 10 ** draw(st.floats(3, 6)))
        rates.append(min(0.5, rates[-1] * draw(st.floats(1.2, 3))))
    caps = [*floors[1:], math.inf]
    table = tuple(Tier(f, c, r, 0.0, 1 / (2 * r)) for f, c, r in zip(floors, caps, rates, strict=True))
    boundary = floors[draw(st.integers(1, n - 1))]
    size = 10 ** draw(st.floats(-2, 2))
    mark = boundary * draw(st.floats(0.5, 0.99)) / size
    short = Position("J/USDT:USDT", Side.SHORT, size, mark * draw(st.floats(0.9, 1.1)), mark, leverage=10)
    book = AccountSnapshot(
        snap.exchange,
        snap.wallet_balance,
        (*snap.positions, short),
        {**snap.tiers, short.symbol: table},
        fees=snap.fees,
        position_mode=snap.position_mode,
    )
    price = boundary / size
    below = cross_gap(book.with_marks({short.symbol: price * (1 - 1e-9)}))
    # either side of the boundary, not on it: size x (floor / size) may round below the floor
    jump = below - cross_gap(book.with_marks({short.symbol: price * (1 + 1e-9)}))
    return book.with_wallet(book.wallet_balance - below + draw(st.floats(0.05, 0.95)) * jump), short, price


@settings(max_examples=100, deadline=None)
@given(jump_books())
def test_a_crossing_inside_a_maintenance_jump_is_found_by_every_path(
    case: tuple[AccountSnapshot, Position, float],
) -> None:
    snap, short, boundary = case
    assert ref_liquidation(snap, short) == boundary
    i = snap.positions.index(short)
    marks = np.array([[p.mark_price for p in snap.positions]])
    assert _batch(snap, marks)[0, i] == boundary
    assert _batch(snap, marks, "above")[0, i] == boundary
    assert math.isnan(_batch(snap, marks, "below")[0, i])
    assert measure_versions(snap, (snap,))[0].positions[i].liquidation_price == boundary
    assert liquidation_price(snap, short) == boundary


@st.composite
def two_sided_books(draw: st.DrawFn) -> tuple[AccountSnapshot, Position]:
    """A book plus a hedged symbol whose net long fraction sits between the maintenance rates of
    its two brackets: equity - MM rises with the price in the lower bracket and falls in the upper
    one, so the symbol liquidates on a fall *and* on a rise, and the nearest must be chosen."""
    snap = draw(books(max_symbols=4))
    low = draw(st.floats(0.002, 0.01))
    high = low * draw(st.floats(3, 10))
    floor = 10 ** draw(st.floats(4, 6))
    rates = [low, high]
    table = tuple(
        Tier(f, c, r, a, 1 / (2 * r))
        for f, c, r, a in zip(
            [0.0, floor], [floor, math.inf], rates, continuous_deductions([0.0, floor], rates), strict=True
        )
    )
    mark = 10 ** draw(st.floats(-1, 4))
    size = floor * draw(st.floats(0.8, 0.999)) / mark  # each leg in the lower bracket at the mark
    net = low * draw(st.floats(1.01, 2.0))
    legs = tuple(
        Position("H/USDT:USDT", side, size * (1 + net * side.sign), mark, mark, leverage=20)
        for side in (Side.LONG, Side.SHORT)
    )
    book = AccountSnapshot(
        snap.exchange,
        snap.wallet_balance,
        (*snap.positions, *legs),
        {**snap.tiers, "H/USDT:USDT": table},
        fees=snap.fees,
        position_mode=PositionMode.HEDGE,
    )
    cushion = size * mark * draw(st.floats(0.0005, 0.05))
    return book.with_wallet(book.wallet_balance - cross_gap(book) + cushion), legs[0]


@settings(max_examples=100, deadline=None)
@given(two_sided_books())
def test_the_nearest_of_two_sides_is_chosen_by_every_path(case: tuple[AccountSnapshot, Position]) -> None:
    snap, leg = case
    i = snap.positions.index(leg)
    marks = np.array([[p.mark_price for p in snap.positions]])
    for direction in DIRECTIONS:
        want = ref_liquidation(snap, leg, direction)
        got = _batch(snap, marks, direction)[0, i]
        _same_price(snap, leg, None if math.isnan(got) else float(got), want)
        _same_price(snap, leg, liquidation_price(snap, leg, direction=direction), want)  # type: ignore[arg-type]
    _same_price(
        snap,
        leg,
        measure_versions(snap, (snap,))[0].positions[i].liquidation_price,
        ref_liquidation(snap, leg),
    )
