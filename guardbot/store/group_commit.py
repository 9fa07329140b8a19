"""Group commit: the journal calls the event loop makes while the writer thread is busy run
together, in one transaction, and wake the loop once.

A cycle that sends 50 orders makes about 150 small journal calls (the revision look-up, the
pending row before each request, the outcome after it) from up to `ORDER_CONCURRENCY` orders at
once. One thread hop and one commit each cost more than the SQL itself; queued calls now share
both. Nothing about durability changes: a call's future resolves only after the COMMIT that holds
its write, so a pending row is still committed before its request is sent.

Each call runs in its own savepoint: one that raises leaves no trace and does not disturb the
others. If the COMMIT itself fails, every call of the batch gets that error (none was written).
The executor runs batches and direct submissions in submission order, because a direct
submission closes the open batch (later calls start a new one behind it).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from guardbot.store.schema import JournalError


@dataclass(frozen=True, slots=True)
class _Call:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    future: asyncio.Future[Any]


class GroupCommit:
    """Queues a journal's async calls and runs each queue on the writer thread as one transaction."""

    def __init__(self, executor: ThreadPoolExecutor, db: Database) -> None:
        self._executor = executor
        self._db = db
        self._lock = threading.Lock()
        self._open: list[_Call] | None = None  # the batch still taking calls

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        """Queue `fn(db, *args, **kwargs)`; the future resolves after its batch commits."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        with self._lock:
            batch = self._open
            if batch is None:
                batch = self._open = []
                self._executor.submit(self._run, batch)
            batch.append(_Call(fn, args, kwargs, future))
        return future

    def close_batch(self) -> None:
        """A direct submission follows: calls queued after it must run after it, not before."""
        with self._lock:
            self._open = None

    # ---------------------------------------------------------------- the writer thread

    def _run(self, batch: list[_Call]) -> None:
        with self._lock:
            if self._open is batch:
                self._open = None
        # a call whose awaiting task was cancelled before it ran is dropped, as an executor drops a
        # cancelled future that has not started
        calls = [c for c in batch if not c.future.cancelled()]
        if not calls:
            return
        try:
            outcomes = _in_one_transaction(self._db, calls)
        except BaseException as exc:
            outcomes = [(False, exc)] * len(calls)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Call, tuple[bool, Any]]]] = {}
        for c, outcome in zip(calls, outcomes, strict=True):
            by_loop.setdefault(c.future.get_loop(), []).append((c, outcome))
        for loop, settled in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, settled)


def _in_one_transaction(db: Database, calls: list[_Call]) -> list[tuple[bool, Any]]:
    conn = db.conn
    # IMMEDIATE, even for one call: a call that reads then writes would otherwise fail at once with
    # "database is locked" while the CLI holds the lock, instead of waiting busy_timeout for it
    conn.execute("BEGIN IMMEDIATE")
    try:
        outcomes: list[tuple[bool, Any]] = []
        for c in calls:
            conn.execute("SAVEPOINT group_call")
            try:
                outcomes.append((True, c.fn(db, *c.args, **c.kwargs)))
            except Exception as exc:
                if not conn.in_transaction:
                    # the error ended the whole transaction: the calls before it are undone too
                    raise JournalError(
                        f"journal: a write aborted its batch ({exc}); nothing of it was written"
                    ) from exc
                conn.execute("ROLLBACK TO SAVEPOINT group_call")
                outcomes.append((False, exc))
            conn.execute("RELEASE SAVEPOINT group_call")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes


def _settle(settled: list[tuple[_Call, tuple[bool, Any]]]) -> None:
    for c, (ok, value) in settled:
        if c.future.cancelled():
            continue
        if ok:
            c.future.set_result(value)
        else:
            c.future.set_exception(value)
