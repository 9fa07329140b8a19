"""Crash safety, WAL readers next to the writer, and the async API driven from an event loop."""

from __future__ import annotations

import asyncio
import gc
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from store_support import BTC, FIGURES, T0, action_args, position, raw

import guardbot
from guardbot.store import (
    ActionStatus,
    GuardStateRow,
    HistoryKind,
    Journal,
    JournalError,
    JournalReader,
)


def test_pending_action_survives_the_process_being_killed(path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal
        from guardbot.store import Journal
        j = Journal.open_sync({str(path)!r})
        j.record_snapshot_sync("main", {T0}, {FIGURES!r}, [], "ACTIVE")
        j.add_pending_action_sync("main", {T0}, rule="missing_stop", kind="stop",
                                  client_order_id="gb-crash", dry_run=False, symbol={BTC!r},
                                  side="sell", quantity=0.2, trigger_price=47500.0)
        os.kill(os.getpid(), signal.SIGKILL)  # no close, no atexit, no flush
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(guardbot.__file__).parents[1])}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    assert Path(f"{path}-wal").exists()  # the data is in the WAL, not yet checkpointed
    with Journal.open_sync(path) as j:
        [pending] = j.pending_actions_sync()
        assert (pending.client_order_id, pending.status, pending.quantity) == (
            "gb-crash",
            ActionStatus.PENDING,
            0.2,
        )
        assert len(j.latest_snapshots_sync()) == 1
    with raw(path) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert c.execute("PRAGMA foreign_key_check").fetchall() == []


def test_pending_action_survives_a_journal_dropped_without_close(path: Path) -> None:
    j = Journal.open_sync(path)
    j.add_pending_action_sync("main", T0, **action_args("gb-drop"))
    del j
    gc.collect()
    with Journal.open_sync(path) as again:
        assert [a.client_order_id for a in again.pending_actions_sync()] == ["gb-drop"]


def test_reader_sees_committed_rows_while_a_write_transaction_is_open(sj: Journal, path: Path) -> None:
    sj.record_snapshot_sync("main", T0, FIGURES, [], "ACTIVE")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # holds the write lock, uncommitted
    other.execute(
        "INSERT INTO snapshots (account, ts, equity, wallet_balance, unrealized_pnl, maintenance_margin,"
        " initial_margin, margin_ratio, effective_leverage, gross_notional, net_notional, state,"
        " positions_count) VALUES ('ghost', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'ACTIVE', 0)"
    )
    try:
        with JournalReader(path) as r:  # WAL: not blocked, and no dirty read
            assert [s.account for s in r.latest_snapshots()] == ["main"]
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_reader_connection_is_read_only(sj: Journal, path: Path) -> None:
    with JournalReader(path) as r, pytest.raises(sqlite3.OperationalError, match="readonly"):
        r._database().execute("DELETE FROM snapshots")


async def test_async_writes_keep_the_event_loop_responsive(aj: Journal, path: Path) -> None:
    # Another connection holds the write lock, so the journal's write cannot finish until the loop
    # itself releases it: this only completes if the loop keeps running while a write is in flight
    # (a write that blocked the loop would instead fail after busy_timeout with "database is locked").
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    write = asyncio.ensure_future(aj.record_snapshot("main", T0, FIGURES, [position()], "ACTIVE"))
    for _ in range(200):
        await asyncio.sleep(0)
        assert not write.done()
    other.execute("ROLLBACK")
    other.close()
    sid = await write
    assert [s.id for s in await aj.latest_snapshots()] == [sid]


async def test_concurrent_async_writes_are_queued_in_call_order(aj: Journal) -> None:
    big = [position(f"S{i}/USDT:USDT") for i in range(1000)]
    ids = await asyncio.gather(
        *(aj.record_snapshot("main", T0 + i, FIGURES, big, "ACTIVE") for i in range(5))
    )
    assert list(ids) == sorted(ids)
    assert len(await aj.positions_of(ids[-1])) == 1000


async def test_reader_reads_while_the_async_writer_works(aj: Journal, path: Path) -> None:
    await aj.record_snapshot("main", T0, FIGURES, [], "ACTIVE")
    reader = JournalReader(path)
    try:
        seen: list[int] = []
        pending = [
            asyncio.ensure_future(aj.record_snapshot("main", T0 + i, FIGURES, [position()], "ACTIVE"))
            for i in range(1, 200)
        ]
        while not all(t.done() for t in pending):
            seen.append(reader.cycles_journaled("main"))
            await asyncio.sleep(0)
        await asyncio.gather(*pending)
        seen.append(reader.cycles_journaled("main"))
    finally:
        reader.close()
    assert seen == sorted(seen) and seen[-1] == 200  # never goes backwards, counts every cycle


async def test_async_api_round_trip_and_close_flushes_queued_writes(path: Path) -> None:
    j = await Journal.open(path)
    did = await j.record_decision("main", T0, rule="r", kind="k", reason="why")
    await j.add_pending_action("main", T0, decision_id=did, **action_args("gb-a"))
    await j.update_action("gb-a", "sent", exchange_order_id="1")
    assert [a.status for a in await j.pending_actions()] == [ActionStatus.SENT]
    await j.save_guard_state(GuardStateRow(account="main", high_water_mark=1.0, updated_ts=T0))
    assert (await j.load_guard_state("main")) == GuardStateRow(
        account="main", high_water_mark=1.0, updated_ts=T0
    )
    queued = [
        asyncio.ensure_future(j.record_event("main", T0 + i, kind="tick", text=str(i))) for i in range(50)
    ]
    await asyncio.sleep(0)  # each task submits its write to the writer queue
    await j.close()
    await asyncio.gather(*queued)
    with pytest.raises(JournalError, match="closed"):
        await j.record_event("main", T0, kind="late", text="after close")
    with JournalReader(path) as r:
        assert len(r.history(0, kinds=["event"])) == 50
        assert [h.kind for h in r.history(0)] == [HistoryKind.DECISION, HistoryKind.ACTION]
