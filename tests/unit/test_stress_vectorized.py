"""The array paths of the stress test and of tier lookup agree with their straightforward versions:
the liquidating benchmark move against the original search (reference_risk.py), and
`TierArrays.index` against `margin.tier_for` on every shape of table, published or not."""

from __future__ import annotations

import math

import numpy as np
import pytest
from book_strategies import books, cross_gap
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_risk import liquidating_move as ref_liquidating_move
from reference_risk import measure as ref_measure

from guardbot.domain import AccountSnapshot, Fees, Position, Side, Tier
from guardbot.risk.margin import model_for, tier_for
from guardbot.risk.stress import liquidating_move, stress_report
from guardbot.risk.tier_arrays import tier_arrays


@st.composite
def safe_books(draw: st.DrawFn) -> AccountSnapshot:
    """Books that are not liquidated now (so a liquidating move is there to find)."""
    snap = draw(books())
    gross = sum(p.notional for p in snap.positions)
    return snap.with_wallet(snap.wallet_balance - cross_gap(snap) + gross * draw(st.floats(0.001, 0.5)))


@settings(max_examples=200, deadline=None)
@given(st.one_of(books(), safe_books()), st.data(), st.sampled_from([-1, 1]))
def test_liquidating_move_agrees_with_the_original_search(
    snap: AccountSnapshot, data: st.DataObject, direction: int
) -> None:
    symbols = snap.symbols()
    benchmark = data.draw(st.sampled_from(symbols))
    betas = {s: data.draw(st.floats(-0.5, 3)) for s in symbols if data.draw(st.booleans())}
    want = ref_liquidating_move(snap, benchmark, betas, direction)
    got = liquidating_move(snap, benchmark, betas, direction)
    if want is None or got is None:
        assert got == want
    else:
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(books(), st.data())
def test_stress_rows_are_the_shocked_books_measured_one_by_one(
    snap: AccountSnapshot, data: st.DataObject
) -> None:
    symbols = snap.symbols()
    benchmark = data.draw(st.sampled_from(symbols))
    betas = {s: data.draw(st.floats(0, 3)) for s in symbols}
    shocks = data.draw(st.lists(st.floats(-0.9, 2.0), min_size=1, max_size=5))
    report = stress_report(snap, benchmark, betas, shocks)
    for row, x in zip(report.rows, shocks, strict=True):
        assert row.benchmark_move == x
        ref = ref_measure(snap.with_marks(row.marks))
        assert row.equity == ref.equity
        assert row.margin_ratio == ref.margin_ratio


@st.composite
def odd_tables(draw: st.DrawFn) -> tuple[Tier, ...]:
    """Published tables (contiguous from 0), and ones no venue publishes: gaps between brackets,
    overlaps, a first floor above 0, unsorted rows. tier_for has an answer for each."""
    n = draw(st.integers(1, 5))
    shape = draw(st.sampled_from(["contiguous", "gaps", "overlaps", "unsorted"]))
    floors = sorted(draw(st.lists(st.floats(0, 1e6), min_size=n, max_size=n, unique=True)))
    if shape == "contiguous" and draw(st.booleans()):
        floors[0] = 0.0
    caps = [*floors[1:], draw(st.sampled_from([math.inf, floors[-1] * 2 + 1]))]
    if shape == "gaps":
        caps = [f + (c - f) * draw(st.floats(0.1, 1)) for f, c in zip(floors, caps, strict=True)]
    elif shape == "overlaps":
        caps = [c * draw(st.floats(1, 3)) + 1 for c in caps]
    rows = [
        Tier(f, c, 0.01 * (k + 1), 10.0 * k, 10) for k, (f, c) in enumerate(zip(floors, caps, strict=True))
    ]
    if shape == "unsorted":
        rows = draw(st.permutations(rows))
    return tuple(rows)


@settings(max_examples=300, deadline=None)
@given(st.lists(odd_tables(), min_size=1, max_size=4), st.data())
def test_tier_index_on_arrays_is_tier_for(tables: list[tuple[Tier, ...]], data: st.DataObject) -> None:
    positions = [Position(f"S{i}", Side.LONG, 1.0, 1.0, 1.0) for i in range(len(tables))]
    arrays = tier_arrays(
        positions, tables, np.arange(len(tables)), model_for("binanceusdm"), Fees(), np.zeros(len(tables))
    )
    edges = [x for t in tables for tier in t for x in (tier.notional_floor, tier.notional_cap)]
    picks = st.one_of(st.sampled_from(edges), st.floats(0, 3e6), st.just(math.nan), st.just(math.inf))
    notional = np.array(
        [[data.draw(picks) for _ in tables] for _ in range(data.draw(st.integers(1, 6)))], dtype=np.float64
    )
    tier = arrays.index(notional)
    for row, index_row in zip(notional.tolist(), tier.tolist(), strict=True):
        for table, x, k in zip(tables, row, index_row, strict=True):
            assert table[k] is tier_for(table, x), (table, x, k)
