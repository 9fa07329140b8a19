"""The journal's single writer, and the read-only reader the CLI uses.

sqlite3 connections are bound to the thread that made them, and SQLite allows one writer at a time,
so `Journal` owns its connection inside a one-thread executor: every call is queued there in order,
the event loop never blocks on disk, and there is exactly one writer in the process. The loop's
calls queued while the thread is busy share one transaction (group_commit.py). Each operation
exists twice: `await journal.record_snapshot(...)` for the daemon's loop and
`journal.record_snapshot_sync(...)` for scripts and the CLI (never call a *_sync method from inside
the event loop: it would block it).

`JournalReader` opens its own read-only connection; with WAL it reads the last committed state
without waiting for (or blocking) the daemon's writes.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from sqlite_utils import Database

from guardbot.store import intents, queries, requests, snapshots, writes
from guardbot.store.group_commit import GroupCommit
from guardbot.store.journal_snapshots import SnapshotOps
from guardbot.store.sampling import DEFAULT_POLICY, SamplingPolicy
from guardbot.store.schema import JournalError, connect_reader, connect_writer

P = ParamSpec("P")
T = TypeVar("T")
Op = Callable[Concatenate[Database, P], T]


def _named(call: Callable[..., Any], fn: Callable[..., Any]) -> Callable[..., Any]:
    # Name and docstring of the operation, but not functools.wraps: its signature starts with `db`.
    call.__name__ = call.__qualname__ = fn.__name__
    call.__doc__ = fn.__doc__
    return call


class _AsyncOp(Generic[P, T]):
    """`journal.name(...)` -> coroutine that runs `fn(db, ...)` on the writer thread."""

    def __init__(self, fn: Op[P, T]) -> None:
        self._fn = fn
        self.__doc__ = fn.__doc__

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> _AsyncOp[P, T]: ...
    @overload
    def __get__(self, obj: Journal, owner: type[Any]) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, obj: Journal | None, owner: type[Any]) -> Any:
        if obj is None:
            return self
        fn = self._fn

        async def call(*args: P.args, **kwargs: P.kwargs) -> T:
            return await obj._queue(fn, *args, **kwargs)  # type: ignore[no-any-return]

        return _named(call, fn)


class _SyncOp(Generic[P, T]):
    """`journal.name_sync(...)` -> runs `fn(db, ...)` on the writer thread and waits for it."""

    def __init__(self, fn: Op[P, T]) -> None:
        self._fn = fn
        self.__doc__ = fn.__doc__

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> _SyncOp[P, T]: ...
    @overload
    def __get__(self, obj: Journal, owner: type[Any]) -> Callable[P, T]: ...
    def __get__(self, obj: Journal | None, owner: type[Any]) -> Any:
        if obj is None:
            return self
        fn = self._fn

        def call(*args: P.args, **kwargs: P.kwargs) -> T:
            return obj._submit(fn, *args, **kwargs).result()

        return _named(call, fn)


class _ReadOp(Generic[P, T]):
    """`reader.name(...)` -> `fn(reader_db, ...)` on the caller's thread."""

    def __init__(self, fn: Op[P, T]) -> None:
        self._fn = fn
        self.__doc__ = fn.__doc__

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> _ReadOp[P, T]: ...
    @overload
    def __get__(self, obj: JournalReader, owner: type[Any]) -> Callable[P, T]: ...
    def __get__(self, obj: JournalReader | None, owner: type[Any]) -> Any:
        if obj is None:
            return self
        return functools.partial(self._fn, obj._database())


def _close_db(db: Database) -> None:
    # Fold the WAL back into the main file so a copied journal is complete on its own.
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def _discard(fut: Future[Database]) -> None:
    if not fut.cancelled() and fut.exception() is None:
        fut.result().close()


def _abandon(executor: ThreadPoolExecutor, fut: Future[Database]) -> None:
    # Opening failed or was cancelled: close a connection that may still get made, on its own thread.
    executor.submit(_discard, fut)
    executor.shutdown(wait=False)


class Journal(SnapshotOps):
    """The one writer. Create with `await Journal.open(path)` (or `Journal.open_sync(path)`)."""

    def __init__(
        self,
        path: Path,
        executor: ThreadPoolExecutor,
        db: Database,
        sampling: SamplingPolicy = DEFAULT_POLICY,
    ) -> None:
        self.path = path
        self._executor = executor
        self._db = db
        self._closed = False
        self._group = GroupCommit(executor, db)
        self.sampling = sampling  # which snapshots are kept, and how history is thinned (sampling.py)

    @staticmethod
    def _start(path: str | os.PathLike[str]) -> tuple[Path, ThreadPoolExecutor, Future[Database]]:
        p = Path(path)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="guardbot-journal")
        return p, executor, executor.submit(connect_writer, p)

    @classmethod
    async def open(cls, path: str | os.PathLike[str], sampling: SamplingPolicy = DEFAULT_POLICY) -> Journal:
        """Open or create the journal file and migrate it forward to the current schema."""
        p, executor, fut = cls._start(path)
        try:
            db = await asyncio.wrap_future(fut)
        except BaseException:
            _abandon(executor, fut)
            raise
        return cls(p, executor, db, sampling)

    @classmethod
    def open_sync(cls, path: str | os.PathLike[str], sampling: SamplingPolicy = DEFAULT_POLICY) -> Journal:
        p, executor, fut = cls._start(path)
        try:
            db = fut.result()
        except BaseException:
            _abandon(executor, fut)
            raise
        return cls(p, executor, db, sampling)

    def _submit(self, fn: Op[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Run `fn` on the writer thread on its own (its own transactions, if it takes any)."""
        if self._closed:
            raise JournalError(f"journal {self.path} is closed")
        self._group.close_batch()
        return self._executor.submit(fn, self._db, *args, **kwargs)

    def _queue(self, fn: Op[P, T], /, *args: P.args, **kwargs: P.kwargs) -> asyncio.Future[Any]:
        """Run `fn` on the writer thread together with the other calls queued meanwhile, in one
        transaction (group_commit.py)."""
        if self._closed:
            raise JournalError(f"journal {self.path} is closed")
        return self._group.call(fn, *args, **kwargs)

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        """Wait for queued writes, checkpoint the WAL and close. Idempotent."""
        if self._closed:
            return
        fut = self._submit(_close_db)
        self._closed = True
        try:
            await asyncio.wrap_future(fut)
        finally:
            self._executor.shutdown(wait=True)

    def close_sync(self) -> None:
        if self._closed:
            return
        fut = self._submit(_close_db)
        self._closed = True
        try:
            fut.result()
        finally:
            self._executor.shutdown(wait=True)

    async def __aenter__(self) -> Journal:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close_sync()

    # writes
    record_decision = _AsyncOp(writes.record_decision)
    record_decisions = _AsyncOp(writes.record_decisions)
    add_pending_action = _AsyncOp(writes.add_pending_action)
    update_action = _AsyncOp(writes.update_action)
    record_alert = _AsyncOp(writes.record_alert)
    update_alert_delivery = _AsyncOp(writes.update_alert_delivery)
    record_transition = _AsyncOp(writes.record_transition)
    save_guard_state = _AsyncOp(writes.save_guard_state)
    record_event = _AsyncOp(writes.record_event)
    prune_snapshots = _AsyncOp(snapshots.prune_snapshots)
    # reads (on the writer's connection: they see every write queued before them)
    pending_actions = _AsyncOp(queries.pending_actions)
    resting_actions = _AsyncOp(queries.resting_actions)
    action_by_client_id = _AsyncOp(queries.action_by_client_id)
    load_guard_state = _AsyncOp(queries.load_guard_state)
    last_alert = _AsyncOp(queries.last_alert)
    latest_snapshots = _AsyncOp(queries.latest_snapshots)
    positions_of = _AsyncOp(queries.positions_of)
    history = _AsyncOp(queries.history)
    equity_series = _AsyncOp(queries.equity_series)
    cycles_journaled = _AsyncOp(queries.cycles_journaled)
    actions_for = _AsyncOp(queries.actions_for)
    # operator requests (the CLI asking the daemon)
    add_operator_request = _AsyncOp(requests.add_operator_request)
    move_operator_request = _AsyncOp(requests.move_operator_request)
    operator_request = _AsyncOp(requests.operator_request)
    pending_operator_requests = _AsyncOp(requests.pending_operator_requests)

    record_decision_sync = _SyncOp(writes.record_decision)
    record_decisions_sync = _SyncOp(writes.record_decisions)
    add_pending_action_sync = _SyncOp(writes.add_pending_action)
    update_action_sync = _SyncOp(writes.update_action)
    record_alert_sync = _SyncOp(writes.record_alert)
    update_alert_delivery_sync = _SyncOp(writes.update_alert_delivery)
    record_transition_sync = _SyncOp(writes.record_transition)
    save_guard_state_sync = _SyncOp(writes.save_guard_state)
    record_event_sync = _SyncOp(writes.record_event)
    prune_snapshots_sync = _SyncOp(snapshots.prune_snapshots)
    pending_actions_sync = _SyncOp(queries.pending_actions)
    resting_actions_sync = _SyncOp(queries.resting_actions)
    action_by_client_id_sync = _SyncOp(queries.action_by_client_id)
    load_guard_state_sync = _SyncOp(queries.load_guard_state)
    last_alert_sync = _SyncOp(queries.last_alert)
    latest_snapshots_sync = _SyncOp(queries.latest_snapshots)
    positions_of_sync = _SyncOp(queries.positions_of)
    history_sync = _SyncOp(queries.history)
    equity_series_sync = _SyncOp(queries.equity_series)
    cycles_journaled_sync = _SyncOp(queries.cycles_journaled)
    actions_for_sync = _SyncOp(queries.actions_for)
    # the entry path (store/intents.py): intents, brackets, strategy state
    record_intent = _AsyncOp(intents.record_intent)
    finish_intent = _AsyncOp(intents.finish_intent)
    intent_by_key = _AsyncOp(intents.intent_by_key)
    intents_for = _AsyncOp(intents.intents_for)
    record_bracket = _AsyncOp(intents.record_bracket)
    update_bracket = _AsyncOp(intents.update_bracket)
    brackets_for = _AsyncOp(intents.brackets_for)
    set_strategy_paused = _AsyncOp(intents.set_strategy_paused)
    strategy_states = _AsyncOp(intents.strategy_states)
    set_strategy_paused_sync = _SyncOp(intents.set_strategy_paused)
    strategy_states_sync = _SyncOp(intents.strategy_states)
    add_operator_request_sync = _SyncOp(requests.add_operator_request)
    move_operator_request_sync = _SyncOp(requests.move_operator_request)
    operator_request_sync = _SyncOp(requests.operator_request)
    pending_operator_requests_sync = _SyncOp(requests.pending_operator_requests)


class JournalReader:
    """Read-only view for `guardbot status` / `guardbot history`; never creates or changes the file.

    Use it from one thread (the one that created it).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._db: Database | None = connect_reader(self.path)

    def _database(self) -> Database:
        if self._db is None:
            raise JournalError(f"journal reader for {self.path} is closed")
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    latest_snapshots = _ReadOp(queries.latest_snapshots)
    positions_of = _ReadOp(queries.positions_of)
    history = _ReadOp(queries.history)
    equity_series = _ReadOp(queries.equity_series)
    cycles_journaled = _ReadOp(queries.cycles_journaled)
    actions_for = _ReadOp(queries.actions_for)
    pending_actions = _ReadOp(queries.pending_actions)
    action_by_client_id = _ReadOp(queries.action_by_client_id)
    load_guard_state = _ReadOp(queries.load_guard_state)
    last_alert = _ReadOp(queries.last_alert)
    intents_for = _ReadOp(intents.intents_for)
    brackets_for = _ReadOp(intents.brackets_for)
    strategy_states = _ReadOp(intents.strategy_states)
    last_event = _ReadOp(queries.last_event)
