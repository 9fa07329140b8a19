"""The journal tells the truth about every order, under faults.

An order whose fate is unknown is journaled `unknown` and settled by a look-up in a later cycle,
never declared failed (or confirmed) by assumption; each journal row describes exactly the order
the exchange accepted; an action left open by a failed look-up is looked up again every cycle.
"""

from __future__ import annotations

import pytest
from venue_spec import GUARD_VENUES

from guardbot.exchange.gateway import ActionResult
from guardbot.store.rows import ActionStatus, OrderState

from .conftest import GuardRig, RigFactory, limits

pytestmark = pytest.mark.parametrize("exchange", GUARD_VENUES, indirect=True)


class ProcessKilled(Exception):
    pass


def protected_later(make_rig: RigFactory) -> GuardRig:
    rig = make_rig(limits(new_position_grace_s=0, default_stop_pct=5.0))
    rig.engine.open_position(rig.acct.api_key, "BTCUSDT", "long", 0.5, leverage=10)
    return rig


def assert_rows_match_the_exchange(rig: GuardRig) -> None:
    """Every confirmed stop row is the exchange's order: same id, trigger and quantity."""
    algos = {str(a.algo_id): a for a in rig.acct.algo_orders.values()}
    for row in rig.actions():
        if row.kind.value != "stop" or row.status is not ActionStatus.CONFIRMED:
            continue
        order = algos[row.exchange_order_id or ""]
        assert order.client_algo_id == row.client_order_id
        assert order.trigger_price == row.trigger_price and order.quantity == row.quantity


async def test_executed_reply_lost_and_look_ups_failing_is_unknown_then_settled(make_rig: RigFactory) -> None:
    """Before: `failed "gave up after 4 attempts"`, a final state no restart reconciles, while the
    stop was live on the exchange."""
    rig = protected_later(make_rig)
    await rig.start()
    venue, server = rig.venue, rig.server
    journal_action = rig.guard.gateway.journal_hook
    assert journal_action is not None

    async def then_look_ups_fail(result: ActionResult) -> None:
        out = journal_action(result)
        if out is not None:
            await out
        if result.status == "pending":  # the stop is placed, its reply never comes ...
            server.inject_fault("timeout_after", count=1, path=venue.stop_path)
            for path in {venue.stop_path, venue.stop_lookup[1]}:  # ... and every look-up fails
                server.inject_fault("5xx", count=10, path=path)  # (Bybit's is also its orders read)

    rig.guard.gateway.journal_hook = then_look_ups_fail
    await rig.cycle()
    rig.guard.gateway.journal_hook = journal_action
    [row] = [a for a in rig.actions() if a.kind.value == "stop"]
    assert row.status is ActionStatus.UNKNOWN, (row.status, row.reply)
    assert "fate unknown" in (row.reply or "")
    assert len(rig.algo_orders()) == 1  # the stop is live

    rig.server.clear_faults()
    rig.server.clear_log()
    await rig.cycle()  # the next cycle looks it up first, and sends nothing
    [row] = [a for a in rig.actions() if a.kind.value == "stop"]
    [live] = rig.algo_orders()
    assert row.status is ActionStatus.CONFIRMED and row.exchange_order_id == str(live.algo_id)
    assert row.order_state is OrderState.OPEN
    assert rig.server.mutating_requests() == []
    assert_rows_match_the_exchange(rig)


async def test_a_refused_stop_sent_again_at_a_new_trigger_is_a_new_row(make_rig: RigFactory) -> None:
    """Before: the first attempt was refused (-2021, would trigger immediately), the same id was sent
    later at a new trigger, and the journal kept the first trigger as confirmed."""
    rig = protected_later(make_rig)
    await rig.start()
    rig.venue.refuse(rig.server, "would_trigger", rig.venue.stop_path)
    await rig.cycle()
    [refused] = [a for a in rig.actions() if a.kind.value == "stop"]
    assert refused.status is ActionStatus.REJECTED and refused.trigger_price == 90_250.0

    rig.engine.set_mark("BTCUSDT", 94_000.0)  # the default stop moves with the mark
    await rig.cycle()
    rows = [a for a in rig.actions() if a.kind.value == "stop"]
    assert [(r.status, r.trigger_price) for r in rows] == [
        (ActionStatus.REJECTED, 90_250.0),
        (ActionStatus.CONFIRMED, 89_300.0),
    ]
    assert rows[0].client_order_id != rows[1].client_order_id
    assert_rows_match_the_exchange(rig)


async def test_the_same_refused_order_is_retried_under_its_own_row(make_rig: RigFactory) -> None:
    """Nothing was accepted under the refused id and the figures are the same: one row, updated."""
    rig = protected_later(make_rig)
    await rig.start()
    rig.venue.refuse(rig.server, "would_trigger", rig.venue.stop_path)
    await rig.cycle()
    await rig.cycle()
    [row] = [a for a in rig.actions() if a.kind.value == "stop"]
    assert row.status is ActionStatus.CONFIRMED
    assert_rows_match_the_exchange(rig)


async def test_an_action_left_open_by_a_failed_look_up_is_settled_by_a_later_cycle(
    make_rig: RigFactory,
) -> None:
    """Before: the one look-up after a restart got a 429 and the row stayed pending until the next
    restart. Now every cycle looks again."""
    rig = protected_later(make_rig)
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
    rig.server.inject_fault("429", count=1, path=rig.venue.stop_lookup[1])  # the restart's look-up
    notes = await rig.restart()
    assert len(notes) == 1 and "still open" in notes[0]
    [row] = rig.actions()
    assert row.status is ActionStatus.PENDING

    rig.server.clear_log()
    await rig.cycle()
    # looked up again: never sent, so `failed`; the same order (same figures, an id the exchange
    # never saw) is then sent under that row, and the row says what the exchange accepted
    venue = rig.venue
    sent = [
        (r.method, r.path)
        for r in rig.server.request_log
        if r.path in (venue.stop_path, venue.stop_lookup[1])
    ]
    lookups = sent[: sent.index(("POST", venue.stop_path))]
    assert lookups and set(lookups) <= {venue.stop_lookup, venue.order_lookup, ("GET", "/v5/order/history")}
    assert sent.count(("POST", venue.stop_path)) == 1
    [row] = [a for a in rig.actions() if a.kind.value == "stop"]
    assert row.status is ActionStatus.CONFIRMED
    assert len(rig.algo_orders()) == 1
    assert_rows_match_the_exchange(rig)
