"""Changing things: pause and resume new entries, flatten. (Opening a position is the entry path's:
guardbot/intents, one path for /open, `guardbot open`, strategies and the webhook.)

Each runs under the guard's lock (so never in the middle of a guard cycle) and saves a changed
guard state at once, so a restart cannot lose it. Orders go through the guard's gateway: its
client ids, its dry-run gate, its journal rows. Journaling who asked is the front end's part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from guardbot.domain import AccountSnapshot, Order, TradingState
from guardbot.guard import GuardLimits
from guardbot.guard.protection import is_our_entry, opens_side
from guardbot.guard.state import GuardState, entry_allowed, resume, set_paused

if TYPE_CHECKING:  # types only: the CLI's refusal check must not load the exchange layer (ccxt)
    from guardbot.cycle import AccountGuard
    from guardbot.exchange.gateway import ActionResult
    from guardbot.operator.guards import GuardHost


async def _save_now(guard: AccountGuard) -> None:
    # The cycle saves the state every cycle; save now too so a restart cannot lose the change.
    await guard.save_state(int(guard.clock()))


async def pause_entries(guard: AccountGuard) -> bool:
    """Refuse new entries until resumed (the guard keeps protecting). True if it was paused already."""
    async with guard.lock:
        already = guard.state.paused
        guard.state = set_paused(guard.state, True)
        await _save_now(guard)
    return already


def resumable(state: GuardState) -> bool:
    """Whether there is anything to resume: a lock, a pause or a halt."""
    return state.locked or state.paused or state.trading_state is TradingState.HALTED


def resume_refusal_of(st: GuardState, now_ms: int, limits: GuardLimits) -> str | None:
    """Why a resume of an account in state `st` would be refused now (nothing to resume, a
    cool-down not over), or None.

    Both front ends ask this before anything else: a refusal comes first, not after the user
    pressed Confirm."""
    if not resumable(st):
        return f"nothing to resume ({st.trading_state.value})"
    if st.locked or st.trading_state is TradingState.HALTED:
        ok, why, _ = resume(st, now_ms, limits)
        if not ok:
            return why
    return None


def resume_refusal(guard: AccountGuard) -> str | None:
    return resume_refusal_of(guard.state, int(guard.clock()), guard.limits)


async def resume_entries(guard: AccountGuard) -> tuple[bool, str]:
    """Lift a pause, or unlock a halt once its cool-down has passed. (done, why)"""
    async with guard.lock:
        st = guard.state
        now = int(guard.clock())
        if st.locked or st.trading_state is TradingState.HALTED:
            ok, why, new = resume(st, now, guard.limits)
            if ok:
                new = set_paused(new, False)
        elif st.paused:
            ok, why, new = True, "pause lifted: entries allowed again", set_paused(st, False)
        else:
            ok, why, new = False, f"nothing to resume ({st.trading_state.value})", st
        if ok:
            guard.state = new
            if new.trading_state is not st.trading_state:
                await guard.journal.record_transition(
                    guard.name,
                    now,
                    from_state=st.trading_state.value,
                    to_state=new.trading_state.value,
                    reason=why,
                )
            await _save_now(guard)
    return ok, why


def entry_refusal(guard: AccountGuard) -> str | None:
    """Why a new entry is refused now (halted, reducing, paused), or None."""
    allowed, why = entry_allowed(guard.state)
    return None if allowed else why


@dataclass(frozen=True, slots=True)
class Flattened:
    seen: bool  # False: the account could not be read and nothing was sent; `error` says why
    error: str | None = None
    results: tuple[ActionResult, ...] = ()


def reopeners(snapshot: AccountSnapshot, policy: str) -> list[Order]:
    """The resting orders a flatten cancels because they could open a position again: every
    opening order with `flatten_cancels = "all"`, guardbot's own entries with "guardbot"."""
    mode = snapshot.position_mode
    if policy == "all":
        return [o for o in snapshot.open_orders if opens_side(o, mode) is not None]
    return [o for o in snapshot.open_orders if is_our_entry(o, mode)]


async def flatten(host: GuardHost, guard: AccountGuard, *, episode: str) -> Flattened:
    """Close every position with reduce-only market orders, as held now (a fresh cycle runs first),
    and cancel the orders that could re-open one: flatten means flat. Then run one more cycle, so
    that the journal, /status, /positions and /chart show the book as it is after the flatten
    rather than the snapshot taken just before it."""
    await host.check_now(guard.name)  # act on what the account holds now, not a minute ago
    async with guard.lock:
        last = guard.last
        if last is None or not last.ok or last.snapshot is None:
            return Flattened(False, last.error if last else "no snapshot")
        results = []
        for o in reopeners(last.snapshot, guard.limits.flatten_cancels):
            results.append(await guard.gateway.cancel(o, rule="manual_flatten"))
        for pos in last.snapshot.positions:
            results.append(
                await guard.gateway.reduce(
                    pos.symbol, pos.side, pos.contracts, rule="manual_flatten", episode=episode
                )
            )
    if results:
        await host.check_now(guard.name)
    return Flattened(True, None, tuple(results))
