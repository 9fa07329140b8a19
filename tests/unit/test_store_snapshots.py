"""Snapshot rows on a real journal file: what is written, kept, read back and pruned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from store_support import BTC, DAY, ETH, FIGURES, T0, position, raw

from guardbot.store import (
    GuardStateRow,
    Journal,
)
from guardbot.store.cycle_writes import CycleSnapshot, Transition


def test_snapshot_with_positions_round_trips(sj: Journal) -> None:
    pos = [position(), position(ETH, "short", contracts=3.0, liquidation_price=None, stop_price=2_100.0)]
    sid = sj.record_snapshot_sync("main", T0, FIGURES, pos, "ACTIVE")
    [snap] = sj.latest_snapshots_sync()
    assert snap.id == sid and snap.account == "main" and snap.ts == T0
    assert (snap.equity, snap.margin_ratio, snap.positions_count, snap.state) == (10_500.0, 0.02, 2, "ACTIVE")
    rows = sj.positions_of_sync(sid)
    assert [(r.symbol, r.side) for r in rows] == [(BTC, "long"), (ETH, "short")]
    assert rows[0].exchange_liquidation_price == 1_010.0 and rows[0].stop_price is None
    assert rows[1].liquidation_price is None and rows[1].stop_price == 2_100.0
    assert all(r.snapshot_id == sid and r.ts == T0 and r.account == "main" for r in rows)


def test_infinite_margin_ratio_is_stored_as_infinity(sj: Journal) -> None:
    # measure_account reports margin_ratio = inf when equity <= 0: the worst case must not be lost.
    figs = {**FIGURES, "equity": -5.0, "margin_ratio": float("inf"), "effective_leverage": float("inf")}
    sj.record_snapshot_sync("main", T0, figs, [], "HALTED")
    [snap] = sj.latest_snapshots_sync()
    assert snap.margin_ratio == float("inf") and snap.positions_count == 0


def test_latest_snapshots_gives_one_row_per_account(sj: Journal) -> None:
    for i in range(5):
        sj.record_snapshot_sync("main", T0 + i * 1000, {**FIGURES, "equity": 100.0 + i}, [], "ACTIVE")
    sj.record_snapshot_sync("sub1", T0 + 500, {**FIGURES, "equity": 7.0}, [position()], "REDUCING")
    latest = sj.latest_snapshots_sync()
    assert [(s.account, s.equity, s.state) for s in latest] == [
        ("main", 104.0, "ACTIVE"),
        ("sub1", 7.0, "REDUCING"),
    ]


@pytest.mark.parametrize(
    ("figures", "positions", "state", "message"),
    [
        ({k: v for k, v in FIGURES.items() if k != "equity"}, [], "ACTIVE", "missing equity"),
        ({**FIGURES, "equity": float("nan")}, [], "ACTIVE", "figures.equity must be a finite number"),
        ({**FIGURES, "equity": "10"}, [], "ACTIVE", "figures.equity must be a number"),
        (FIGURES, [position(side="buy")], "ACTIVE", r"positions\[0\].side must be one of long, short"),
        (FIGURES, [{"symbol": BTC}], "ACTIVE", r"positions\[0\] is missing side, contracts"),
        (FIGURES, [], "PANIC", "state must be one of ACTIVE, REDUCING, HALTED"),
    ],
)
def test_bad_snapshot_input_is_refused_before_writing(
    sj: Journal, figures: dict[str, Any], positions: list[dict[str, Any]], state: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        sj.record_snapshot_sync("main", T0, figures, positions, state)
    assert sj.latest_snapshots_sync() == []


def test_timestamps_must_be_epoch_ms_ints(sj: Journal) -> None:
    with pytest.raises(ValueError, match="ts must be epoch milliseconds"):
        sj.record_snapshot_sync("main", 1_700_000_000.5, FIGURES, [], "ACTIVE")  # type: ignore[arg-type]


def test_a_refused_write_leaves_earlier_rows_as_they_were(sj: Journal, path: Path) -> None:
    first = sj.record_snapshot_sync("main", T0, FIGURES, [position()], "ACTIVE")
    # The same (symbol, side) twice in one snapshot is a caller's bug: refused before any write.
    with pytest.raises(ValueError, match="repeat a"):
        sj.record_snapshot_sync("main", T0 + 1000, FIGURES, [position(), position()], "ACTIVE")
    second = sj.record_snapshot_sync("main", T0 + 2000, FIGURES, [position()], "ACTIVE")
    with raw(path) as c:
        assert [r[0] for r in c.execute("SELECT id FROM snapshots ORDER BY id")] == [first, second]
    assert len(sj.positions_of_sync(second)) == 1


def test_prune_removes_old_snapshots_and_their_positions_but_keeps_each_latest(
    sj: Journal, path: Path
) -> None:
    now = T0 + 30 * DAY
    for d in (0, 10, 25, 29):
        sj.record_snapshot_sync("main", T0 + d * DAY, FIGURES, [position()], "ACTIVE")
    sj.record_snapshot_sync("idle", T0, FIGURES, [position()], "ACTIVE")  # only ever one, 30 days old
    removed = sj.prune_snapshots_sync(7, now_ms=now)
    assert removed == 2  # main's day 0 and day 10
    with raw(path) as c:
        kept = c.execute("SELECT account, ts FROM snapshots ORDER BY account, ts").fetchall()
        assert kept == [("idle", T0), ("main", T0 + 25 * DAY), ("main", T0 + 29 * DAY)]
        assert c.execute("SELECT COUNT(*) FROM snapshot_positions").fetchone()[0] == 3
    assert sj.prune_snapshots_sync(7, now_ms=now) == 0
    with pytest.raises(ValueError, match="older_than_days must be > 0"):
        sj.prune_snapshots_sync(0, now_ms=now)


def test_equity_series_is_ordered_and_bounded(sj: Journal) -> None:
    for i in (3, 1, 2, 0):  # written out of order
        sj.record_snapshot_sync("main", T0 + i * 1000, {**FIGURES, "equity": 100.0 + i}, [], "ACTIVE")
    sj.record_snapshot_sync("sub1", T0 + 1500, FIGURES, [], "ACTIVE")
    assert sj.equity_series_sync("main", T0 + 1000) == [
        (T0 + 1000, 101.0, 0.02),
        (T0 + 2000, 102.0, 0.02),
        (T0 + 3000, 103.0, 0.02),
    ]
    assert sj.equity_series_sync("main", T0, until_ms=T0 + 1000) == [
        (T0, 100.0, 0.02),
        (T0 + 1000, 101.0, 0.02),
    ]


# --- decisions, actions -------------------------------------------------------------------------


async def test_a_cycles_rows_commit_together_or_not_at_all(aj: Journal, path: Path) -> None:
    seen = CycleSnapshot(FIGURES, [position()], "HALTED", [("gb-1", BTC, "sell")])
    state = GuardStateRow(account="main", high_water_mark=11_000.0, trading_state="HALTED", updated_ts=T0)
    halt = {"rule": "drawdown", "kind": "set_state", "reason": "drawdown 12%"}
    went = [Transition("ACTIVE", "HALTED", "drawdown 12%")]
    sid, ids = await aj.record_cycle(
        "main", T0, snapshot=seen, guard_state=state, decisions=[halt], transitions=went
    )
    assert sid is not None and len(ids) == 1
    bad = [Transition("ACTIVE", "NOT_A_STATE", "?")]  # the last write of the cycle fails...
    with pytest.raises(ValueError, match="to_state"):
        await aj.record_cycle(
            "main", T0 + 60_000, snapshot=seen, guard_state=state, decisions=[halt], transitions=bad
        )
    with raw(path) as c:  # ... and none of that cycle's rows were written
        tables = ("snapshots", "decisions", "transitions")
        counts = [c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables]
    assert counts == [1, 1, 1]
    assert await aj.load_guard_state("main") == state
