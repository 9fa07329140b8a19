"""A guard killed in the middle of an action, then restarted on the same journal file.

Two places to die: after the action is journaled as pending but before the request leaves, and
after the exchange executed the request but before its reply arrived. Either way the restarted
guard (`start()` reconciles, then a normal cycle) must leave exactly one order on the exchange and a
journal with no open action, each action's final status matching what the exchange holds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import pytest
from venue_spec import GUARD_VENUES, Sent

from guardbot.exchange.gateway import ActionResult
from guardbot.exchange.ids import is_ours
from guardbot.sim import SimAccount

from .conftest import GuardRig, RigFactory, limits

pytestmark = pytest.mark.parametrize("exchange", GUARD_VENUES, indirect=True)


class ProcessKilled(BaseException):
    """The process dies here (a BaseException: nothing in the guard may swallow it)."""


def _unprotected_long(make_rig: RigFactory) -> GuardRig:
    """A long without a stop and no grace: the first cycle places a stop (algo endpoint)."""
    rig = make_rig(limits(new_position_grace_s=0))
    rig.engine.open_position(rig.acct.api_key, "BTCUSDT", "long", 0.5, leverage=10)
    return rig


def _over_leveraged(make_rig: RigFactory) -> GuardRig:
    """9.85x against a hard limit of 8x, confirmed at once: the first cycle cuts BTC (plain order)."""
    rig = make_rig(limits(leverage_warn=5.0, leverage_hard=8.0, confirm_readings=1))
    key = rig.acct.api_key
    rig.engine.open_position(key, "BTCUSDT", "long", 0.5, leverage=20)
    rig.engine.open_position(key, "ETHUSDT", "long", 10, leverage=20)
    rig.engine.open_position(key, "SOLUSDT", "long", 100, leverage=20)
    return rig


CASES: dict[str, Callable[[RigFactory], GuardRig]] = {"stop": _unprotected_long, "reduce": _over_leveraged}


def _exchange_cids(acct: SimAccount, kind: str) -> list[str]:
    """Client ids of every order (open or not) of that kind the emulator holds: conditional ones
    for a stop, plain ones for a reduction."""
    if kind == "stop":
        return [o.client_algo_id for o in acct.algo_orders.values()]
    return [
        o.client_order_id
        for o in acct.orders.values()
        if o.parent_algo_id is None and not o.client_order_id.startswith("autoclose-")
    ]


def _sent(rig: GuardRig, kind: str) -> list[Sent]:
    return rig.stops_sent() if kind == "stop" else rig.orders_sent()


def _assert_consistent(rig: GuardRig, kind: str) -> None:
    """One order on the exchange; every journaled action final and agreeing with the exchange."""
    ours = [c for c in _exchange_cids(rig.acct, kind) if is_ours(c)]
    assert len(ours) == 1, ours
    assert len(_sent(rig, kind)) == 1  # across both lives of the guard
    actions = [a for a in rig.actions() if a.kind.value != "cancel"]
    cids = [a.client_order_id for a in actions]
    assert len(cids) == len(set(cids))
    with rig.reader() as r:
        assert r.pending_actions() == []
    for a in actions:
        held = ours.count(a.client_order_id)
        if a.status.value == "confirmed":
            assert held == 1 and a.exchange_order_id, a
        else:
            assert a.status.value == "failed" and held == 0, a
    assert [a.status.value for a in actions].count("confirmed") == 1


@pytest.mark.parametrize("kind", CASES)
async def test_killed_after_pending_was_written_before_the_request_left(
    make_rig: RigFactory, kind: str
) -> None:
    rig = CASES[kind](make_rig)
    await rig.start()
    journal_action = rig.guard.gateway.journal_hook
    assert journal_action is not None

    async def die_after_pending(result: ActionResult) -> None:
        out = journal_action(result)
        if out is not None:
            await out
        if result.status == "pending":
            raise ProcessKilled

    rig.guard.gateway.journal_hook = die_after_pending
    with pytest.raises(ProcessKilled):
        await rig.cycle()
    assert _sent(rig, kind) == []  # it died before sending
    with rig.reader() as r:
        [left] = r.pending_actions()
    assert left.status.value == "pending" and left.kind.value == kind

    rig.engine.advance(10)  # the restart takes a moment
    notes = await rig.restart()
    assert notes == [f"{left.client_order_id}: not on the exchange, failed"]
    await rig.cycles(2)

    _assert_consistent(rig, kind)


@pytest.mark.parametrize("kind", CASES)
async def test_killed_after_the_exchange_executed_before_the_reply_arrived(
    make_rig: RigFactory, kind: str
) -> None:
    rig = CASES[kind](make_rig)
    await rig.start()
    # the exchange executes the order, then never answers; the guard dies while it waits
    path = rig.venue.stop_path if kind == "stop" else rig.venue.order_path
    rig.server.inject_fault("timeout_after", count=1, path=path)
    cycle = asyncio.create_task(rig.cycle())
    for _ in range(300):  # bounded wait for the request to reach the emulator (not a timing claim)
        if [c for c in _exchange_cids(rig.acct, kind) if is_ours(c)] or cycle.done():
            break
        await asyncio.sleep(0.01)
    assert not cycle.done()
    cycle.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await cycle
    with rig.reader() as r:
        [left] = r.pending_actions()
    [placed] = [c for c in _exchange_cids(rig.acct, kind) if is_ours(c)]
    assert placed == left.client_order_id

    rig.engine.advance(10)
    notes = await rig.restart()
    state = "open" if kind == "stop" else "filled"
    assert notes == [f"{left.client_order_id}: found on the exchange ({state}), confirmed"]
    await rig.cycles(2)

    _assert_consistent(rig, kind)
    if kind == "reduce":  # cut once, not twice
        [cut] = rig.orders_sent()
        assert cut.qty is not None and rig.qty("BTCUSDT") == pytest.approx(0.5 - cut.qty)
