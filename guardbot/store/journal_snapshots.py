"""The journal's snapshot operations, which sample with the journal's policy (a mixin of `Journal`).

Unlike the other operations (plain functions of the writer's connection, wrapped one to one), these
take the journal's `SamplingPolicy`, so callers (the cycle, the daemon's hourly job) never pass it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from guardbot.store import codec, cycle_writes, snapshots
from guardbot.store.rows import GuardStateRow
from guardbot.store.sampling import SamplingPolicy


class SnapshotOps:
    sampling: SamplingPolicy

    def _submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:  # Journal's
        raise NotImplementedError

    def _record(
        self,
        account: str,
        ts: int,
        figures: Mapping[str, Any],
        positions: Sequence[Mapping[str, Any]],
        state: str,
        orders: Sequence[Sequence[Any]] | None,
    ) -> Future[Any]:
        return self._submit(
            snapshots.record_snapshot,
            account,
            ts,
            figures,
            positions,
            state,
            orders=orders,
            policy=self.sampling,
        )

    async def record_snapshot(
        self,
        account: str,
        ts: int,
        figures: Mapping[str, Any],
        positions: Sequence[Mapping[str, Any]],
        state: str,
        *,
        orders: Sequence[Sequence[Any]] | None = None,
    ) -> int:
        """One cycle of one account (see snapshots.record_snapshot); returns the row's id."""
        return int(await asyncio.wrap_future(self._record(account, ts, figures, positions, state, orders)))

    def record_snapshot_sync(
        self,
        account: str,
        ts: int,
        figures: Mapping[str, Any],
        positions: Sequence[Mapping[str, Any]],
        state: str,
        *,
        orders: Sequence[Sequence[Any]] | None = None,
    ) -> int:
        return int(self._record(account, ts, figures, positions, state, orders).result())

    async def downsample(
        self, now_ms: int | None = None, *, max_buckets: int = 16, max_steps: int = 300
    ) -> int:
        """Thin history past the policy's age, a few buckets per transaction, yielding between them so
        the cycles' writes queue in between (the daemon runs this hourly). Returns buckets thinned."""
        total = 0
        for _ in range(max_steps):
            now = codec.now_ms() if now_ms is None else now_ms
            fut = self._submit(snapshots.downsample_snapshots, now, self.sampling, max_buckets)
            done = int(await asyncio.wrap_future(fut))
            total += done
            if done == 0:
                break
        return total

    def downsample_sync(
        self, now_ms: int | None = None, *, max_buckets: int = 16, max_steps: int = 300
    ) -> int:
        total = 0
        for _ in range(max_steps):
            now = codec.now_ms() if now_ms is None else now_ms
            done = int(self._submit(snapshots.downsample_snapshots, now, self.sampling, max_buckets).result())
            total += done
            if done == 0:
                break
        return total

    async def record_cycle(
        self,
        account: str,
        ts: int,
        *,
        snapshot: cycle_writes.CycleSnapshot | None,
        guard_state: GuardStateRow,
        decisions: Sequence[Mapping[str, Any]] = (),
        transitions: Sequence[cycle_writes.Transition] = (),
    ) -> tuple[int | None, list[int]]:
        """A cycle's snapshot, guard state, decisions and transitions in one transaction
        (cycle_writes.record_cycle); returns (snapshot row id, decision ids)."""
        fut = self._submit(
            cycle_writes.record_cycle,
            account,
            ts,
            snapshot=snapshot,
            guard_state=guard_state,
            decisions=decisions,
            transitions=transitions,
            policy=self.sampling,
        )
        snapshot_id, ids = await asyncio.wrap_future(fut)
        return snapshot_id, list(ids)
