"""One client id names one order: replacements and re-placements get their own id and journal row.

Binance client ids are unique among *open* orders only, so resending the id of a cancelled or
filled order is accepted as a second order; Bybit refuses any id it has seen. On both, these tests
drive the real guard cycle against the emulator (which follows each rule) and check that every
order the guard sends carries an id no earlier order used, and that each journal row describes
exactly one exchange order.
"""

from __future__ import annotations

import pytest
from venue_spec import GUARD_VENUES, VenueSpec

from guardbot.store.rows import ActionStatus, OrderState

from .conftest import RigFactory, limits

pytestmark = pytest.mark.parametrize("exchange", GUARD_VENUES, indirect=True)


async def test_a_replacement_stop_in_the_same_episode_gets_its_own_id_and_row(
    make_rig: RigFactory, venue: VenueSpec
) -> None:
    rig = make_rig(limits(new_position_grace_s=0))
    engine, key = rig.engine, rig.acct.api_key
    engine.open_position(key, "BTCUSDT", "long", 0.5, leverage=10)
    await rig.start()
    await rig.cycle()
    [first] = rig.algo_orders()
    assert first.quantity == 0.5

    # the trader adds before the next cycle: the stop condition never cleared, same episode
    engine.open_position(key, "BTCUSDT", "long", 0.5, leverage=10)
    await rig.cycle()

    assert first.status == "CANCELED"
    [stop] = rig.algo_orders()
    assert stop.quantity == 1.0 and stop.client_algo_id != first.client_algo_id
    stops = [a for a in rig.actions() if a.kind.value == "stop"]
    assert [(a.client_order_id, a.exchange_order_id, a.quantity) for a in stops] == [
        (first.client_algo_id, str(first.algo_id), 0.5),
        (stop.client_algo_id, str(stop.algo_id), 1.0),
    ]
    # the state the venue's acknowledgement gave (Bybit's gives only the ids: its look-up by
    # client id, right after, says it rests)
    assert all(a.status is ActionStatus.CONFIRMED and a.order_state is OrderState.OPEN for a in stops)


async def test_a_stop_the_trader_cancels_is_placed_again_under_a_new_id(make_rig: RigFactory) -> None:
    rig = make_rig(limits(new_position_grace_s=0))
    engine, key = rig.engine, rig.acct.api_key
    engine.open_position(key, "ETHUSDT", "short", 10, leverage=10)
    await rig.start()
    await rig.cycle()
    [first] = rig.algo_orders()
    engine.cancel_algo_order(key, first.algo_id)  # the trader removes it before the next cycle

    await rig.cycle()
    [again] = rig.algo_orders()
    assert again.client_algo_id != first.client_algo_id
    assert again.quantity == 10 and again.side == "BUY" and again.reduce_only
    rows = {a.client_order_id: a for a in rig.actions() if a.kind.value == "stop"}
    assert set(rows) == {first.client_algo_id, again.client_algo_id}
    assert rows[again.client_algo_id].exchange_order_id == str(again.algo_id)
    assert rows[first.client_algo_id].exchange_order_id == str(first.algo_id)

    # and once more: every re-placement is a new revision, never an id the exchange has seen
    engine.cancel_algo_order(key, again.algo_id)
    await rig.cycle()
    [third] = rig.algo_orders()
    assert third.client_algo_id not in (first.client_algo_id, again.client_algo_id)
    assert len({o.client_algo_id for o in rig.algo_orders(open_only=False)}) == 3


async def test_a_stop_already_in_place_is_not_sent_again(make_rig: RigFactory) -> None:
    """The journal says the episode's stop is confirmed and it rests on the exchange: a repeated
    decision (a restart within the episode) sends nothing."""
    rig = make_rig(limits(new_position_grace_s=0))
    engine, key = rig.engine, rig.acct.api_key
    engine.open_position(key, "BTCUSDT", "long", 0.5, leverage=10)
    await rig.start()
    outcome = await rig.cycle()
    [decision] = [d for d in outcome.decisions if d.kind == "place_stop"]
    assert outcome.snapshot is not None
    fresh = await rig.guard._read()
    assert await rig.guard.executor.episode_to_send(decision, fresh) is None
    rig.server.clear_log()
    assert await rig.guard.executor.execute(decision, fresh) == []
    assert rig.server.mutating_requests() == []
