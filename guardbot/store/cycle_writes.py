"""One cycle's journal writes in one transaction: the snapshot, the guard state, the decisions and
the state transitions they cause.

A cycle used to commit each of these on its own (four to six fsync-ordered commits per account per
cycle). They belong together: a reader never sees decisions without the snapshot they were taken on,
and a crash leaves all of them or none. It all commits before a single order goes out, as before:
the orders' *pending* rows are still written one by one, each committed before its request is sent
(guardbot/execution.py), which is what exactly-once rests on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from guardbot.store import writes
from guardbot.store.rows import GuardStateRow
from guardbot.store.sampling import DEFAULT_POLICY, SamplingPolicy
from guardbot.store.snapshots import record_snapshot, write_transaction


@dataclass(frozen=True, slots=True)
class CycleSnapshot:
    """What `record_snapshot` takes, as one value."""

    figures: Mapping[str, Any]
    positions: Sequence[Mapping[str, Any]]
    state: str
    orders: Sequence[Sequence[Any]] = ()


@dataclass(frozen=True, slots=True)
class Transition:
    from_state: str | None
    to_state: str
    reason: str


def record_cycle(
    db: Database,
    account: str,
    ts: int,
    *,
    snapshot: CycleSnapshot | None,
    guard_state: GuardStateRow,
    decisions: Sequence[Mapping[str, Any]] = (),
    transitions: Sequence[Transition] = (),
    policy: SamplingPolicy = DEFAULT_POLICY,
) -> tuple[int | None, list[int]]:
    """Write a cycle's rows in one transaction; returns (snapshot row id or None, decision ids)."""
    with write_transaction(db):
        snapshot_id = None
        if snapshot is not None:
            snapshot_id = record_snapshot(
                db,
                account,
                ts,
                snapshot.figures,
                snapshot.positions,
                snapshot.state,
                orders=snapshot.orders,
                policy=policy,
            )
        writes.save_guard_state(db, guard_state)
        ids = writes.record_decisions(db, account, ts, decisions) if decisions else []
        for t in transitions:
            writes.record_transition(
                db, account, ts, from_state=t.from_state, to_state=t.to_state, reason=t.reason
            )
    return snapshot_id, ids
