"""Resting entries and their stops end to end: a bracket's stop is not an orphan, and flatten means
flat (the orders that could re-open a position are cancelled too)."""

from __future__ import annotations

import pytest
from venue_spec import GUARD_VENUES

from guardbot.exchange.ids import client_order_id
from guardbot.operator.journal import describe
from guardbot.sim import OrderRequest
from guardbot.store.rows import OrderState

from .conftest import GuardRig, RigFactory, limits

pytestmark = pytest.mark.parametrize("exchange", GUARD_VENUES, indirect=True)


def bracket(rig: GuardRig, limit: float = 90_000.0, stop: float = 88_000.0) -> tuple[int, int]:
    """A flat account's resting limit buy 0.1 BTC and its reduce-only sell stop (the trader's)."""
    key = rig.acct.api_key
    entry = rig.engine.place_order(
        key, OrderRequest("BTCUSDT", "BUY", "LIMIT", quantity=0.1, price=limit, time_in_force="GTC")
    )
    stop_order = rig.engine.place_algo_order(
        key,
        OrderRequest(
            "BTCUSDT",
            "SELL",
            "STOP_MARKET",
            quantity=0.1,
            trigger_price=stop,
            reduce_only=True,
            working_type="MARK_PRICE",
        ),
    )
    return entry.order_id, stop_order.algo_id


def _stress(rig: GuardRig) -> None:
    """Three longs bought higher: margin ratio between flatten (0.9) and liquidation, under the
    venue's own margin model (its BTC entry is in venue_spec: Bybit counts the fee to close in
    maintenance, Hyperliquid half the initial margin at max leverage)."""
    key = rig.acct.api_key
    rig.engine.open_position(key, "ETHUSDT", "long", 10, leverage=20, entry_price=3_500)
    rig.engine.open_position(key, "SOLUSDT", "long", 100, leverage=20, entry_price=190)
    rig.engine.open_position(key, "BTCUSDT", "long", 1, leverage=20, entry_price=rig.venue.stressed_btc_entry)
    assert 0.9 < rig.engine.account_figures(key).margin_ratio < 1.0


async def test_the_stop_of_a_resting_entry_is_kept_and_protects_the_fill(make_rig: RigFactory) -> None:
    """Before: the stop was cancelled as an orphan after the grace period, the limit then filled in
    the crash with no stop for a grace period, and got a default 5 % stop instead of the trader's."""
    rig = make_rig(limits(new_position_grace_s=30, default_stop_pct=5.0))
    entry_id, stop_id = bracket(rig)
    await rig.start()
    await rig.cycles(6, every_s=10)  # a minute: twice the grace period
    assert rig.server.mutating_requests() == []
    assert rig.acct.algo_orders[stop_id].is_open

    rig.engine.set_mark("BTCUSDT", 89_500.0)  # the crash: the limit fills at 90,000
    assert rig.acct.orders[entry_id].status == "FILLED"
    await rig.cycles(6, every_s=10)
    # the trader's stop protects the new position from the first instant; the guard adds nothing
    assert rig.server.mutating_requests() == []
    assert rig.acct.algo_orders[stop_id].is_open
    rig.engine.set_mark("BTCUSDT", 87_900.0)
    assert rig.qty("BTCUSDT") == 0.0  # and it fires


async def test_a_bracket_stop_whose_entry_is_gone_is_an_orphan_again(make_rig: RigFactory) -> None:
    rig = make_rig(limits(new_position_grace_s=30))
    entry_id, stop_id = bracket(rig)
    await rig.start()
    await rig.cycles(2)
    rig.engine.cancel_order(rig.acct.api_key, "BTCUSDT", entry_id)  # the trader drops the entry
    await rig.cycles(5, every_s=10)
    assert not rig.acct.algo_orders[stop_id].is_open
    assert rig.mutations() == [("cancel", "stop")]


async def test_a_flatten_also_cancels_the_orders_that_could_reopen_a_position(make_rig: RigFactory) -> None:
    rig = make_rig(limits(margin_ratio_warn=0.5, margin_ratio_reduce=0.7, margin_ratio_flatten=0.9))
    entry_id, _ = bracket(rig, limit=80_000, stop=78_000)  # placed while the account was healthy
    _stress(rig)
    await rig.start()
    await rig.cycles(3)

    assert rig.acct.positions == {}
    assert rig.acct.orders[entry_id].status == "CANCELED"  # the trader's limit buy could re-open BTC
    assert rig.mutations().count(("cancel", "order")) == 1  # that one, and no other order
    [cancel] = [d for d in rig.decisions("halted") if d.kind == "cancel_order"]
    assert "opening order" in cancel.reason and "80,000" in cancel.reason


async def test_flatten_cancels_only_guardbots_entries_when_configured(make_rig: RigFactory) -> None:
    rig = make_rig(
        limits(
            margin_ratio_warn=0.5,
            margin_ratio_reduce=0.7,
            margin_ratio_flatten=0.9,
            flatten_cancels="guardbot",
        )
    )
    key = rig.acct.api_key
    entry_id, _ = bracket(rig, limit=80_000, stop=78_000)
    ours = rig.engine.place_order(
        key,
        OrderRequest(
            "ETHUSDT",
            "BUY",
            "LIMIT",
            quantity=1,
            price=2_000,
            time_in_force="GTC",
            client_id=client_order_id("main", "open", rig.venue.sym("ETH"), 1, exchange=rig.engine.exchange),
        ),
    )
    _stress(rig)
    await rig.start()
    await rig.cycles(3)
    assert rig.acct.positions == {}
    assert rig.acct.orders[entry_id].is_open  # the trader's entry stays
    assert rig.acct.orders[ours.order_id].status == "CANCELED"


async def test_history_says_resting_or_filled(make_rig: RigFactory) -> None:
    """A stop the guard placed rests; a reduction fills: the journal and the alert text say which."""
    rig = make_rig(limits(new_position_grace_s=0, leverage_warn=5.0, leverage_hard=8.0))
    rig.engine.open_position(rig.acct.api_key, "BTCUSDT", "long", 1, leverage=20)
    await rig.start()
    await rig.cycles(3)
    states = {a.kind.value: a.order_state for a in rig.actions() if a.status.value == "confirmed"}
    assert states == {"stop": OrderState.OPEN, "reduce": OrderState.FILLED}
    texts = "\n".join(a.text for a in rig.notifier.alerts)
    assert "[placed, resting]" in texts and "[filled]" in texts and "[done]" not in texts
    # `guardbot history` and /history read the journal through the same lines
    with rig.reader() as r:
        lines = [describe(i) for i in r.history(0, account=rig.name, kinds=["action"])]
    assert any("stop sell" in x and "[confirmed, resting]" in x for x in lines), lines
    assert any("reduce sell" in x and "[confirmed, filled]" in x for x in lines), lines


async def test_a_traders_whole_position_stop_is_protection_not_an_opening_order(make_rig: RigFactory) -> None:
    """A stop for "the whole position" (Binance closePosition, Bybit closeOnTrigger without a size,
    Hyperliquid's position TP/SL with size 0) protects the position: the guard adds no stop of its
    own, and a flatten leaves it alone. Before, on Hyperliquid, it read as a size-0 order that could
    open a position: the guard stacked its own stop on it and a flatten cancelled it."""
    rig = make_rig(limits(new_position_grace_s=0, margin_ratio_warn=0.5, margin_ratio_reduce=0.7))
    key = rig.acct.api_key
    rig.engine.open_position(key, "ETHUSDT", "long", 10, leverage=10)
    trader = rig.engine.place_algo_order(
        key,
        OrderRequest(
            "ETHUSDT",
            "SELL",
            "STOP_MARKET",
            trigger_price=3_000.0,
            close_position=True,
            working_type="MARK_PRICE",
        ),
    )
    await rig.start()
    await rig.cycles(3)
    assert rig.mutations() == []  # protected already: nothing placed, nothing cancelled
    assert trader.is_open
    rig.engine.set_mark("ETHUSDT", 2_990.0)
    assert rig.qty("ETHUSDT") == 0.0  # and it closes the whole position
