"""What the journal keeps of a month of cycles, on a real file: a row per minute or per change, the
latest cycle always visible, history past a week thinned without falsifying drawdown or peak, the
size bound, and every order, alert and request kept whole."""

from __future__ import annotations

import itertools
import math
import random
import sqlite3
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_support import BTC, DAY, FIGURES, T0, action_args, position

from guardbot.store import GuardStateRow, Journal, JournalReader

MIN = 60_000


def figures(equity: float, ratio: float) -> dict[str, Any]:
    return {**FIGURES, "equity": equity, "margin_ratio": ratio}


def test_a_quiet_account_keeps_a_row_a_minute_and_shows_every_cycle(sj: Journal, path: Path) -> None:
    for i in range(60):  # ten minutes of 10 s cycles, nothing moving
        sj.record_snapshot_sync("main", T0 + i * 10_000, FIGURES, [position()], "ACTIVE")
    with JournalReader(path) as r:
        [latest] = r.latest_snapshots()
        assert latest.ts == T0 + 59 * 10_000  # status shows the last cycle, not the last kept row
        assert [p.symbol for p in r.positions_of(latest.id)] == [BTC]
        assert [t for t, _, _ in r.equity_series("main", 0)] == [T0 + m * MIN for m in range(10)] + [
            latest.ts
        ]
        assert r.cycles_journaled("main") == 60


def test_a_change_is_kept_the_cycle_it_happens(sj: Journal, path: Path) -> None:
    sj.record_snapshot_sync("main", T0, FIGURES, [position()], "ACTIVE")
    sj.record_snapshot_sync("main", T0 + 10_000, FIGURES, [position(contracts=0.1)], "ACTIVE")  # cut
    sj.record_snapshot_sync("main", T0 + 20_000, FIGURES, [position(contracts=0.1)], "HALTED")
    sj.record_snapshot_sync("main", T0 + 30_000, figures(10_000.0, 0.02), [position(contracts=0.1)], "HALTED")
    sj.record_snapshot_sync("main", T0 + 40_000, figures(10_000.0, 0.05), [position(contracts=0.1)], "HALTED")
    stop = position(contracts=0.1, stop_price=40_000.0)  # a stop placed: the book changed
    sj.record_snapshot_sync("main", T0 + 50_000, figures(10_000.0, 0.05), [stop], "HALTED")
    sj.record_snapshot_sync(
        "main", T0 + 55_000, figures(10_000.0, 0.05), [stop], "HALTED", orders=[("gb-1",)]
    )
    with JournalReader(path) as r:
        assert [t - T0 for t, _, _ in r.equity_series("main", 0)] == [
            0,
            10_000,
            20_000,
            30_000,
            40_000,
            50_000,
            55_000,
        ]


def test_positions_stay_on_book_changes_and_every_five_minutes(sj: Journal, path: Path) -> None:
    for i in range(90):  # 15 minutes of 10 s cycles; the position is cut at 7 minutes
        size = 0.2 if i < 42 else 0.1
        sj.record_snapshot_sync("main", T0 + i * 10_000, FIGURES, [position(contracts=size)], "ACTIVE")
    with sqlite3.connect(path) as c:
        with_positions = [
            (t - T0) // 1000
            for (t,) in c.execute("SELECT ts FROM snapshots WHERE positions_json IS NOT NULL ORDER BY ts")
        ]
    assert with_positions == [0, 300, 420, 720, 890]  # first, +5 min, the cut, +5 min, the latest


def write_days(
    j: Journal, days: int, every_ms: int = MIN, seed: int = 3
) -> dict[int, tuple[float, float, float]]:
    """A random walk, one spike of margin ratio and one dip of equity a day; per day, what was written:
    (worst margin ratio, lowest equity, highest equity)."""
    rng = random.Random(seed)
    equity, seen = 10_000.0, defaultdict(lambda: (0.0, math.inf, -math.inf))
    for i in range(days * DAY // every_ms):
        ts = T0 + i * every_ms
        day = (ts - T0) // DAY
        equity *= math.exp(rng.gauss(0, 0.001))
        ratio = 0.02 * 10_000.0 / equity
        if i % (DAY // every_ms) == rng.randrange(DAY // every_ms):
            ratio, equity = ratio * rng.uniform(2, 4), equity * 0.97  # a bad minute
        worst, low, high = seen[day]
        seen[day] = (max(worst, ratio), min(low, equity), max(high, equity))
        j.record_snapshot_sync("main", ts, figures(equity, ratio), [position()], "ACTIVE")
    return dict(seen)


def per_day(r: JournalReader) -> dict[int, tuple[float, float, float]]:
    out: dict[int, tuple[float, float, float]] = defaultdict(lambda: (0.0, math.inf, -math.inf))
    for ts, equity, ratio in r.equity_series("main", 0):
        worst, low, high = out[(ts - T0) // DAY]
        out[(ts - T0) // DAY] = (max(worst, ratio), min(low, equity), max(high, equity))
    return dict(out)


def test_ten_days_of_history_keep_each_days_worst_margin_ratio_and_equity_extremes(
    sj: Journal, path: Path
) -> None:
    written = write_days(sj, 10)
    before = sj.cycles_journaled_sync("main")
    sj.downsample_sync(T0 + 10 * DAY)
    with JournalReader(path) as r:
        assert per_day(r) == written  # drawdown and peak of every day are the ones that happened
        assert r.cycles_journaled("main") == before  # every cycle still counted
        old = [t for t, _, _ in r.equity_series("main", 0, T0 + 3 * DAY - 1)]
        recent = [t for t, _, _ in r.equity_series("main", T0 + 3 * DAY)]
    assert len(old) <= 3 * 96 * 5  # thinned: at most 5 rows per 15-minute bucket
    assert len(recent) == 7 * 1440  # the last week untouched


def test_a_restart_after_downsampling_restores_the_same_high_water_mark(path: Path) -> None:
    with Journal.open_sync(path) as j:
        write_days(j, 9)
        peak = max(e for _, e, _ in j.equity_series_sync("main", 0))
        j.save_guard_state_sync(GuardStateRow(account="main", high_water_mark=peak, updated_ts=T0 + 9 * DAY))
        j.downsample_sync(T0 + 9 * DAY)
    with Journal.open_sync(path) as j:  # the daemon restarting
        row = j.load_guard_state_sync("main")
        assert row is not None and row.high_water_mark == peak
        assert max(e for _, e, _ in j.equity_series_sync("main", 0)) == peak  # the peak is still on the chart


def test_downsampling_is_incremental_and_never_touches_orders_alerts_or_requests(
    sj: Journal, path: Path
) -> None:
    did = sj.record_decision_sync("main", T0, rule="r", kind="k", reason="why")
    sj.add_pending_action_sync("main", T0, decision_id=did, **action_args("gb-a"))
    sj.record_alert_sync("main", T0, level="info", key="k", text="hello")
    sj.add_operator_request_sync("main", T0, action="pause", requested_by="test")
    write_days(sj, 8)
    with sqlite3.connect(path) as c:
        counts = [
            c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("decisions", "actions", "alerts")
        ]
    steps = []
    while (done := sj.downsample_sync(T0 + 8 * DAY, max_buckets=8, max_steps=1)) > 0:
        steps.append(done)
    assert steps and max(steps) <= 8 and sum(steps) == 96  # one day past the week, 8 buckets at a time
    assert sj.downsample_sync(T0 + 8 * DAY) == 0  # caught up: nothing more to do
    with sqlite3.connect(path) as c:
        assert [
            c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("decisions", "actions", "alerts")
        ] == counts
        assert c.execute("SELECT COUNT(*) FROM operator_requests").fetchone()[0] == 1


def test_a_month_of_fifty_positions_stays_under_fifty_megabytes(path: Path) -> None:
    # A month at 50 positions, downsampled as the daemon does it (hourly). The last week holds what a
    # 10 s cycle keeps when nothing happens: a row a minute, positions every five. The three weeks
    # before are written every five minutes (cheaper to run, and downsampling leaves at most five rows
    # per 15 minutes either way). The figures with a realistic walk at 10 s are measured in bench/.
    rng = random.Random(5)
    marks = [100.0 + k for k in range(50)]
    stamps = [T0 + i * 5 * MIN for i in range(23 * 288)] + [T0 + 23 * DAY + i * MIN for i in range(7 * 1440)]
    with Journal.open_sync(path) as j:
        for n, ts in enumerate(stamps):
            marks = [m * math.exp(rng.gauss(0, 0.002)) for m in marks]
            legs = [
                position(f"S{k:02d}/USDT:USDT", mark_price=m, notional=m * 3, unrealized_pnl=m - 100.0 - k)
                for k, m in enumerate(marks)
            ]
            j.record_snapshot_sync("main", ts, figures(10_000.0 + sum(marks), 0.02), legs, "ACTIVE")
            if n % 60 == 0:
                j.downsample_sync(ts)
        j.downsample_sync(T0 + 30 * DAY)
    with sqlite3.connect(path) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        used = c.execute(
            "SELECT (page_count - freelist_count) * page_size"
            " FROM pragma_page_count, pragma_freelist_count, pragma_page_size"
        ).fetchone()[0]
    assert used <= 50_000_000
    assert path.stat().st_size <= 50_000_000


cycle_steps = st.lists(
    st.tuples(
        st.integers(min_value=1_000, max_value=40_000),  # time to the next cycle
        st.floats(min_value=-0.01, max_value=0.01),  # equity move
        st.booleans(),  # the position is resized
        st.sampled_from(["ACTIVE", "ACTIVE", "ACTIVE", "HALTED"]),
    ),
    min_size=1,
    max_size=80,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cycle_steps)
def test_any_run_of_cycles_keeps_the_latest_and_every_change(tmp_path: Path, steps: list[Any]) -> None:
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "journal.sqlite"  # a fresh file per example
    ts, equity, size, written = T0, 10_000.0, 0.2, []
    with Journal.open_sync(path) as j:
        for dt, move, resize, state in steps:
            ts, equity = ts + dt, equity * (1 + move)
            size = round(size + 0.1, 1) if resize else size
            j.record_snapshot_sync("main", ts, figures(equity, 0.02), [position(contracts=size)], state)
            written.append((ts, equity, size, state))
    with JournalReader(path) as r:
        [latest] = r.latest_snapshots()
        rows = r.equity_series("main", 0)
        assert (latest.ts, latest.equity) == written[-1][:2]  # status shows the last cycle
        assert [p.contracts for p in r.positions_of(latest.id)] == [written[-1][2]]
        assert r.cycles_journaled("main") == len(written)
    kept = {t for t, _, _ in rows}
    for (_, _, size0, state0), (t1, _, size1, state1) in itertools.pairwise(written):
        if (size0, state0) != (size1, state1):
            assert t1 in kept  # every change of the book or the state is in the journal
    # between two kept rows, no cycle a minute or more after the first was dropped
    for a, b in itertools.pairwise(sorted(kept)):
        assert not [t for t, *_ in written[:-1] if a + 60_000 <= t < b]


def test_an_idle_accounts_last_picture_keeps_its_positions_through_thinning_and_a_restart(
    sj: Journal, path: Path
) -> None:
    # two minutes of cycles across a bucket boundary (T0 is 100 s before one), then ten idle days
    for i in range(12):
        sj.record_snapshot_sync("idle", T0 + i * 10_000, FIGURES, [position()], "ACTIVE")
    sj.downsample_sync(T0 + 10 * DAY)
    sj.record_snapshot_sync("idle", T0 + 10 * DAY, FIGURES, [position()], "ACTIVE")  # the guard is back
    sql = "SELECT COUNT(*) FROM snapshots WHERE ts < ? AND positions_json IS NOT NULL"
    with sqlite3.connect(path) as c:
        assert c.execute(sql, [T0 + DAY]).fetchone()[0] == 2  # each old bucket still shows what was held
