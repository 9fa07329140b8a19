"""Group commit (store/group_commit.py): the loop's journal calls queued while the writer thread is
busy share one transaction, and each still behaves as if it ran alone: durable when it returns,
undone alone when it fails, not run when cancelled first, and ordered with direct submissions."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from store_support import T0, action_args

from guardbot.store import ActionConflictError, ActionStatus, Journal, JournalError, JournalReader


def _committed_ids(path: Path) -> list[str]:
    # A separate connection sees only committed rows: what survives a crash right now.
    with sqlite3.connect(path) as c:
        return [r[0] for r in c.execute("SELECT client_order_id FROM actions ORDER BY id")]


async def _held(path: Path) -> sqlite3.Connection:
    """Another connection holding the write lock: the writer thread waits on it, calls queue up."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


def _trace(j: Journal) -> list[str]:
    """Every statement the writer's connection runs from now on (SQLite's own trace hook)."""
    statements: list[str] = []
    j._submit(lambda db: db.conn.set_trace_callback(statements.append)).result()
    return statements


async def test_queued_calls_commit_together_and_each_is_on_disk_when_it_returns(
    aj: Journal, path: Path
) -> None:
    statements = _trace(aj)
    other = await _held(path)
    first = asyncio.ensure_future(aj.add_pending_action("main", T0, **action_args("gb-0")))
    await asyncio.sleep(0.05)  # the writer thread is now blocked on the lock with gb-0 alone
    rest = [
        asyncio.ensure_future(aj.add_pending_action("main", T0, **action_args(f"gb-{i}")))
        for i in range(1, 9)
    ]
    await asyncio.sleep(0.05)
    assert not first.done() and not any(t.done() for t in rest)
    other.execute("ROLLBACK")
    other.close()
    for task in asyncio.as_completed([first, *rest]):
        await task
        # a call that returned is committed: its pending row is on disk before its request leaves
        assert len(_committed_ids(path)) in (1, 9)
    assert _committed_ids(path) == [f"gb-{i}" for i in range(9)]  # in call order
    # two transactions: gb-0 alone, then the eight that queued behind it
    assert sum(s.strip().upper().startswith("COMMIT") for s in statements) == 2


async def test_a_failing_call_is_undone_alone_and_the_others_of_its_batch_are_written(
    aj: Journal, path: Path
) -> None:
    await aj.add_pending_action("main", T0, **action_args("gb-taken"))
    other = await _held(path)
    blocker = asyncio.ensure_future(aj.record_event("main", T0, kind="tick", text="first"))
    await asyncio.sleep(0.05)
    good = asyncio.ensure_future(aj.add_pending_action("main", T0, **action_args("gb-a")))
    # the same client id for another side: refused (a conflict), in the middle of the batch
    bad = asyncio.ensure_future(aj.add_pending_action("main", T0, **action_args("gb-taken", side="buy")))
    missing = asyncio.ensure_future(aj.update_action("gb-nobody", "sent"))
    after = asyncio.ensure_future(aj.update_action("gb-a", "confirmed", exchange_order_id="7"))
    await asyncio.sleep(0.05)
    other.execute("ROLLBACK")
    other.close()
    await blocker
    await good
    with pytest.raises(ActionConflictError, match="gb-taken"):
        await bad
    with pytest.raises(KeyError, match="gb-nobody"):
        await missing
    row = await after
    assert (row.status, row.exchange_order_id) == (ActionStatus.CONFIRMED, "7")
    with JournalReader(path) as r:
        taken = r.action_by_client_id("gb-taken")
        assert taken is not None and taken.side == "sell"  # the refused call changed nothing
        assert [a.client_order_id for a in r.pending_actions()] == ["gb-taken"]


async def test_a_call_cancelled_before_it_runs_is_not_written(aj: Journal, path: Path) -> None:
    other = await _held(path)
    blocker = asyncio.ensure_future(aj.record_event("main", T0, kind="tick", text="first"))
    await asyncio.sleep(0.05)
    doomed = asyncio.ensure_future(aj.add_pending_action("main", T0, **action_args("gb-doomed")))
    kept = asyncio.ensure_future(aj.add_pending_action("main", T0, **action_args("gb-kept")))
    await asyncio.sleep(0)
    doomed.cancel()
    other.execute("ROLLBACK")
    other.close()
    await asyncio.gather(blocker, kept)
    assert _committed_ids(path) == ["gb-kept"]


async def test_when_the_commit_fails_every_call_of_the_batch_fails_and_nothing_is_written(
    path: Path,
) -> None:
    j = await Journal.open(path)
    try:
        # The lock is never released: the batch's BEGIN IMMEDIATE gives up after busy_timeout.
        j._submit(lambda db: db.execute("PRAGMA busy_timeout=100")).result()  # not 5 s in a test
        other = await _held(path)
        first = asyncio.ensure_future(j.record_event("main", T0, kind="tick", text="first"))
        await asyncio.sleep(0.01)
        batch = [
            asyncio.ensure_future(j.add_pending_action("main", T0, **action_args(f"gb-{i}")))
            for i in range(3)
        ]
        results = await asyncio.gather(first, *batch, return_exceptions=True)
        other.execute("ROLLBACK")
        other.close()
        assert all(isinstance(r, sqlite3.OperationalError) and "locked" in str(r) for r in results), results
        assert _committed_ids(path) == []
        # the journal goes on working once the lock is free
        await j.add_pending_action("main", T0, **action_args("gb-later"))
        assert _committed_ids(path) == ["gb-later"]
    finally:
        await j.close()


async def test_a_direct_submission_runs_after_the_calls_queued_before_it(aj: Journal, path: Path) -> None:
    other = await _held(path)
    queued = [
        asyncio.ensure_future(aj.add_pending_action("main", T0, **action_args(f"gb-{i}"))) for i in range(3)
    ]
    await asyncio.sleep(0)
    # record_cycle goes to the writer directly (its own transaction), behind the queued calls
    from guardbot.store.rows import GuardStateRow

    cycle = asyncio.ensure_future(
        aj.record_cycle("main", T0, snapshot=None, guard_state=GuardStateRow(account="main", updated_ts=T0))
    )
    later = asyncio.ensure_future(aj.update_action("gb-0", "sent"))
    await asyncio.sleep(0.05)
    other.execute("ROLLBACK")
    other.close()
    await asyncio.gather(*queued, cycle, later)
    assert (await aj.action_by_client_id("gb-0")).status is ActionStatus.SENT  # type: ignore[union-attr]
    assert _committed_ids(path) == ["gb-0", "gb-1", "gb-2"]


async def test_calls_after_close_are_refused(path: Path) -> None:
    j = await Journal.open(path)
    await j.close()
    with pytest.raises(JournalError, match="closed"):
        await j.add_pending_action("main", T0, **action_args("gb-late"))
