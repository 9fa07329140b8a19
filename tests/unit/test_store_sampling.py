"""The pure rules of what the journal keeps: which cycle becomes a row, which rows keep their
positions, and which rows survive downsampling (examples, then properties with hypothesis)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardbot.store.sampling import (
    BucketRow,
    Sample,
    SamplingPolicy,
    book_fingerprint,
    keeps_positions,
    should_keep,
    survivors,
)

P = SamplingPolicy()
BASE = Sample(ts=1_000_000, equity=10_000.0, margin_ratio=0.10, state="ACTIVE", book="b1")


def later(s: Sample = BASE, dt_ms: int = 10_000, **over: object) -> Sample:
    fields = {"ts": s.ts + dt_ms, "equity": s.equity, "margin_ratio": s.margin_ratio, "state": s.state}
    fields["book"] = s.book
    fields.update(over)
    return Sample(**fields)  # type: ignore[arg-type]


def test_the_first_cycle_is_always_kept() -> None:
    assert should_keep(None, BASE, P)


def test_a_quiet_cycle_is_not_kept_until_a_minute_has_passed() -> None:
    assert not should_keep(BASE, later(dt_ms=10_000, equity=10_010.0), P)
    assert not should_keep(BASE, later(dt_ms=59_999), P)
    assert should_keep(BASE, later(dt_ms=60_000), P)


@pytest.mark.parametrize(
    "change",
    [
        {"state": "HALTED"},
        {"book": "b2"},  # a position opened, resized or closed, a stop or an order moved
        {"equity": 10_000.0 * (1 - 0.0026)},  # more than 0.25% down
        {"equity": 10_000.0 * (1 + 0.0026)},
        {"margin_ratio": 0.1026},  # more than 0.25 points
        {"margin_ratio": math.inf},  # equity went to zero
    ],
)
def test_a_meaningful_change_is_kept_at_once(change: dict[str, object]) -> None:
    assert should_keep(BASE, later(dt_ms=1_000, **change), P)


def test_moves_within_the_thresholds_are_not_news() -> None:
    assert not should_keep(BASE, later(equity=10_024.0, margin_ratio=0.1024), P)


def test_a_clock_that_went_back_keeps_the_row() -> None:
    assert should_keep(BASE, later(dt_ms=-5_000), P)


def test_positions_are_kept_on_book_changes_and_every_few_minutes() -> None:
    assert keeps_positions(None, BASE, P)
    assert not keeps_positions(BASE, later(dt_ms=60_000), P)
    assert keeps_positions(BASE, later(dt_ms=60_000, book="b2"), P)
    assert keeps_positions(BASE, later(dt_ms=300_000), P)


def test_the_book_fingerprint_ignores_marks_but_not_sizes_stops_or_orders() -> None:
    leg = {"symbol": "BTC/USDT:USDT", "side": "long", "contracts": 0.2, "stop_price": 47_000.0}
    fp = book_fingerprint([leg])
    assert book_fingerprint([{**leg, "mark_price": 1.0}]) == fp
    assert book_fingerprint([{**leg, "contracts": 0.3}]) != fp
    assert book_fingerprint([{**leg, "stop_price": 47_500.0}]) != fp
    assert book_fingerprint([leg], [("gb-1", "sell", 0.2, None, 47_000.0)]) != fp
    other = {**leg, "symbol": "ETH/USDT:USDT"}
    assert book_fingerprint([leg, other]) == book_fingerprint([other, leg])  # order of legs is not news


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="every_ms"):
        SamplingPolicy(every_ms=0)
    with pytest.raises(ValueError, match="equity_move"):
        SamplingPolicy(equity_move=math.nan)


def row(i: int, equity: float, ratio: float, *, positions: bool = False, cycles: int = 1) -> BucketRow:
    return BucketRow(
        id=i, ts=i * 10_000, equity=equity, margin_ratio=ratio, cycles=cycles, has_positions=positions
    )


def test_a_bucket_keeps_its_extremes_its_last_row_and_one_row_with_positions() -> None:
    rows = [
        row(1, 100.0, 0.10, positions=True),
        row(2, 90.0, 0.12),  # lowest equity
        row(3, 95.0, 0.30),  # worst margin ratio
        row(4, 120.0, 0.05, positions=True),  # peak, and the last row with positions
        row(5, 110.0, 0.06),
        row(6, 105.0, 0.07),  # last
    ]
    kept = survivors(rows)
    assert kept.keep == (2, 3, 4, 6)
    assert kept.positions_on == 4
    assert kept.cycles == {2: 2, 3: 1, 4: 1, 6: 2}  # row 1 counted in row 2, row 5 in row 6


def test_an_empty_bucket_keeps_nothing() -> None:
    assert survivors([]).keep == ()


rows_strategy = st.lists(
    st.tuples(
        st.floats(min_value=-1e6, max_value=1e7, allow_nan=False),
        st.one_of(st.floats(min_value=0, max_value=5, allow_nan=False), st.just(math.inf)),
        st.booleans(),
        st.integers(min_value=1, max_value=50),
    ),
    min_size=1,
    max_size=60,
).map(lambda xs: [row(i + 1, e, m, positions=p, cycles=c) for i, (e, m, p, c) in enumerate(xs)])


@given(rows_strategy)
def test_downsampling_never_falsifies_the_bucket(rows: list[BucketRow]) -> None:
    kept = survivors(rows)
    left = [r for r in rows if r.id in kept.keep]
    # drawdown and peak read from what is left are the ones that happened
    assert max(r.margin_ratio for r in left) == max(r.margin_ratio for r in rows)
    assert min(r.equity for r in left) == min(r.equity for r in rows)
    assert max(r.equity for r in left) == max(r.equity for r in rows)
    assert rows[-1].id in kept.keep  # the state the bucket ended in
    assert len(kept.keep) <= 5
    assert sum(kept.cycles.values()) == sum(r.cycles for r in rows)  # every cycle still counted
    assert set(kept.cycles) == set(kept.keep)
    if any(r.has_positions for r in rows):
        assert kept.positions_on in kept.keep
        assert kept.positions_on == max(r.id for r in rows if r.has_positions)
    else:
        assert kept.positions_on is None


@given(rows_strategy)
def test_downsampling_twice_changes_nothing(rows: list[BucketRow]) -> None:
    first = survivors(rows)
    left = [
        BucketRow(r.id, r.ts, r.equity, r.margin_ratio, first.cycles[r.id], r.id == first.positions_on)
        for r in rows
        if r.id in first.keep
    ]
    again = survivors(left)
    assert again.keep == first.keep
    assert again.cycles == first.cycles


samples = st.builds(
    Sample,
    ts=st.integers(min_value=0, max_value=10**9),
    equity=st.floats(min_value=1, max_value=1e7, allow_nan=False),
    margin_ratio=st.floats(min_value=0, max_value=2, allow_nan=False),
    state=st.sampled_from(["ACTIVE", "REDUCING", "HALTED"]),
    book=st.sampled_from(["a", "b"]),
)


@given(samples, samples)
def test_a_dropped_cycle_is_always_close_to_the_kept_row_before_it(anchor: Sample, new: Sample) -> None:
    if not should_keep(anchor, new, P):
        assert 0 <= new.ts - anchor.ts < P.every_ms
        assert (new.state, new.book) == (anchor.state, anchor.book)
        assert abs(new.equity - anchor.equity) <= P.equity_move * anchor.equity
        assert abs(new.margin_ratio - anchor.margin_ratio) <= P.margin_ratio_move
