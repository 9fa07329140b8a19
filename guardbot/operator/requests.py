"""Operator requests from the command line: `guardbot pause|resume|flatten --account NAME`.

The same code applies a request whether a daemon is running or not:

- a daemon runs (it holds the journal's lock, guardbot/runlock.py): the CLI inserts a row into the
  journal's `operator_requests` table and waits; the daemon picks pending rows up about once a
  second (`serve_pending`) and applies each under the account guard's lock, never in the middle
  of a guard cycle, then writes the outcome the CLI is waiting for;
- no daemon runs: the CLI takes the journal's lock itself, builds the account's guard the way the
  daemon does, inserts the row and applies it at once (`serve`).

Either way the actions are those of Telegram's /pause, /resume and /flatten (operator/trading.py),
and each one is journaled as a `command` event that /history and `guardbot history` show.
A request the daemon claimed is finished even if the requester stopped waiting (it says so); a
daemon that stops in the middle marks it failed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from guardbot.cycle import AccountGuard
from guardbot.execution import describe_action
from guardbot.operator import trading
from guardbot.operator.guards import GuardHost, journal_of
from guardbot.store import Journal
from guardbot.store.requests import OperatorRequestRow, RequestAction, RequestStatus

MAX_AGE_MS = 5 * 60_000  # a request nobody picked up within this is dropped, never acted on late


@dataclass(frozen=True, slots=True)
class Outcome:
    status: RequestStatus
    text: str  # one line (flatten: one line per order after the first)
    details: dict[str, Any] = field(default_factory=dict)


async def apply(host: GuardHost, guard: AccountGuard, action: RequestAction, *, episode: str) -> Outcome:
    """Pause, resume or flatten `guard`'s account (the operator actions Telegram uses)."""
    name = guard.name
    if action is RequestAction.PAUSE:
        already = await trading.pause_entries(guard)
        if already:
            return Outcome(RequestStatus.DONE, f"{name}: already paused")
        return Outcome(
            RequestStatus.DONE,
            f"{name}: entries paused; new entries are refused until `guardbot resume`, "
            "the guard keeps protecting open positions",
        )
    if action is RequestAction.RESUME:
        refused = trading.resume_refusal(guard)
        if refused is not None:
            return Outcome(RequestStatus.REFUSED, f"{name}: {refused}")
        ok, why = await trading.resume_entries(guard)
        return Outcome(RequestStatus.DONE if ok else RequestStatus.REFUSED, f"{name}: {why}")
    flat = await trading.flatten(host, guard, episode=episode)
    if not flat.seen:
        return Outcome(RequestStatus.FAILED, f"{name}: cannot see the account ({flat.error}): nothing sent")
    if not flat.results:
        return Outcome(RequestStatus.DONE, f"{name}: no open positions, nothing to close")
    lines = [describe_action(r) for r in flat.results]
    dry = " (DRY-RUN: nothing sent)" if guard.dry_run else ""
    all_ok = all(r.ok for r in flat.results)
    head = f"{name}: {'closed' if all_ok else 'tried to close'} {len(lines)} position(s){dry}"
    details = {"orders": [{"client_order_id": r.client_order_id, "status": r.status} for r in flat.results]}
    status = RequestStatus.DONE if all_ok else RequestStatus.FAILED
    return Outcome(status, "\n".join([head, *(f"  {line}" for line in lines)]), details)


async def serve(host: GuardHost, journal: Journal, row: OperatorRequestRow, now_ms: int) -> Outcome | None:
    """Claim one pending request and apply it; None if someone else claimed or expired it first."""
    if now_ms - row.ts > MAX_AGE_MS:
        too_old = f"not applied: requested {(now_ms - row.ts) // 1000}s ago, nobody was waiting any more"
        await journal.move_operator_request(
            row.id, to=RequestStatus.EXPIRED, only_from=RequestStatus.PENDING, result=too_old, done_ts=now_ms
        )
        return None
    if not await journal.move_operator_request(
        row.id, to=RequestStatus.WORKING, only_from=RequestStatus.PENDING
    ):
        return None
    try:
        guard = host.guard(row.account)
    except KeyError:
        names = ", ".join(g.name for g in host.guards)
        outcome = Outcome(
            RequestStatus.REFUSED, f"unknown account {row.account!r}; this daemon guards {names}"
        )
    else:
        try:
            outcome = await apply(host, guard, row.action, episode=f"cli-{row.id}")
        except Exception as exc:  # the requester gets one line; the daemon keeps running
            outcome = Outcome(
                RequestStatus.FAILED, f"{row.account}: {row.action} failed: {type(exc).__name__}: {exc}"
            )
    done = int(time.time() * 1000)
    await journal.move_operator_request(
        row.id,
        to=outcome.status,
        only_from=RequestStatus.WORKING,
        result=outcome.text,
        done_ts=done,
        details=outcome.details,
    )
    await journal.record_event(
        row.account,
        done,
        kind="command",
        text=f"{row.action} by {row.requested_by}: {outcome.text.splitlines()[0]}",
        details={"request": row.id, "status": outcome.status.value},
    )
    return outcome


Tell = Callable[[OperatorRequestRow, Outcome], Awaitable[None]]


class RequestServer:
    """The daemon's side: pending requests applied one at a time per account, accounts
    independently, so a guard stuck on an unanswering exchange holds up only its own requests."""

    def __init__(self, host: GuardHost, tell: Tell) -> None:
        self.host = host
        self.tell = tell
        self._running: dict[str, asyncio.Task[None]] = {}

    async def poll(self) -> None:
        """Start what is pending (the daemon calls this about once a second)."""
        journal = journal_of(self.host)
        if journal is None or journal.closed:
            return
        for row in await journal.pending_operator_requests():
            busy = self._running.get(row.account)
            if busy is None or busy.done():  # the next one of this account waits for this one
                self._running[row.account] = asyncio.create_task(self._serve(journal, row))

    async def _serve(self, journal: Journal, row: OperatorRequestRow) -> None:
        try:
            outcome = await serve(self.host, journal, row, int(time.time() * 1000))
        except asyncio.CancelledError:
            await journal.move_operator_request(
                row.id,
                to=RequestStatus.FAILED,
                only_from=RequestStatus.WORKING,
                result="the daemon stopped before it finished; check the account",
                done_ts=int(time.time() * 1000),
            )
            raise
        if outcome is not None:
            await self.tell(row, outcome)

    async def stop(self, timeout_s: float) -> None:
        """Let requests in progress finish (bounded), then cancel the rest (marked failed)."""
        tasks = [t for t in self._running.values() if not t.done()]
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=timeout_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
