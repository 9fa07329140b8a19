"""The order gateway over real HTTP on every venue: stops, reductions, entries, cancels, hedge mode
and dry-run against guardbot.sim. What reached the exchange is read through the venue's spec
(venue_spec); retries and idempotency are in test_exchange_gateway_retries.py."""

from __future__ import annotations

import ccxt.async_support as ccxt
import pytest
from gateway_support import algo_orders, btc_qty
from venue_spec import VENUES, VenueSpec

from guardbot.exchange import ActionResult, OrderGateway, TiersCache, read_snapshot
from guardbot.exchange.ids import is_ours
from guardbot.sim import SimAccount, SimServer

pytestmark = pytest.mark.parametrize("exchange", VENUES, indirect=True)


# ------------------------------------------------------------------ stops


async def test_stop_is_a_reduce_only_conditional_order_on_mark_below_a_long(
    sim: SimServer,
    venue: VenueSpec,
    sim_account: SimAccount,
    gw: OrderGateway,
    long_btc: float,
    btc: str,
) -> None:
    result = await gw.place_stop(
        btc, "long", 0.5, long_btc * 0.95 + 0.037, rule="auto_stop", episode=4, mark_price=long_btc
    )
    assert result.status == "confirmed" and result.exchange_order_id
    assert result.trigger_price == venue.btc_price(long_btc * 0.95 + 0.037)  # through price_to_precision
    assert result.client_order_id == gw.client_id("auto_stop", btc, 4)
    assert is_ours(result.client_order_id)  # gb-autostop-…; Hyperliquid: a 0x6762… cloid
    assert venue.mutations(sim) == [("place", "stop")]
    [sent] = venue.stops(sim)
    assert (sent.path, sent.type, sent.side, sent.qty) == (venue.stop_path, "MARKET", "SELL", 0.5)
    assert sent.mark_trigger and sent.reduce_only and sent.trigger == result.trigger_price
    assert sent.client_id == result.client_order_id
    [order] = algo_orders(sim, sim_account)
    assert order.trigger_price == result.trigger_price and order.quantity == pytest.approx(0.5)

    # It protects: the mark falls through the trigger and the position is closed.
    sim.engine.set_mark("BTCUSDT", long_btc * 0.94)
    assert btc_qty(sim_account) == 0.0


async def test_a_stop_for_a_short_is_a_buy_above_mark(
    sim: SimServer,
    venue: VenueSpec,
    sim_account: SimAccount,
    gw: OrderGateway,
    eth: str,
) -> None:
    sim.engine.open_position(sim_account.api_key, "ETHUSDT", "short", 2.0, leverage=5)
    mark = sim.engine.marks["ETHUSDT"]
    amount = None if venue.close_position_stops else 2.0  # Binance: closePosition, without an amount
    result = await gw.place_stop(
        eth, "short", amount, mark * 1.05, rule="auto_stop", episode=1, mark_price=mark
    )
    assert result.status == "confirmed" and result.amount == amount and result.side == "buy"
    [order] = algo_orders(sim, sim_account)
    assert order.side == "BUY" and order.trigger_price > mark
    assert order.close_position is (amount is None)


async def test_a_stop_without_an_amount_is_refused_where_the_venue_has_no_close_position_stop(
    sim: SimServer,
    venue: VenueSpec,
    gw: OrderGateway,
    long_btc: float,
    btc: str,
) -> None:
    result = await gw.place_stop(btc, "long", None, long_btc * 0.9, rule="s", episode=1)
    if venue.close_position_stops:
        assert result.status == "confirmed" and result.amount is None
    else:
        assert result.status == "rejected" and "needs an amount" in result.reason
        assert sim.mutating_requests() == []


@pytest.mark.parametrize(("side", "factor"), [("long", 1.01), ("short", 0.99)])
async def test_stop_on_the_wrong_side_of_mark_is_refused_before_sending(
    sim: SimServer,
    gw: OrderGateway,
    long_btc: float,
    side: str,
    factor: float,
    btc: str,
) -> None:
    result = await gw.place_stop(btc, side, 0.1, long_btc * factor, rule="s", episode=1, mark_price=long_btc)
    assert result.status == "rejected" and "must trigger" in result.reason
    assert sim.mutating_requests() == []


# ------------------------------------------------------------------ reductions


async def test_reduce_rounds_down_to_the_lot_step_and_never_up(
    sim: SimServer,
    venue: VenueSpec,
    sim_account: SimAccount,
    gw: OrderGateway,
    long_btc: float,
    btc: str,
) -> None:
    result = await gw.reduce(btc, "long", 0.12399, rule="margin_reduce", episode=2)
    assert result.status == "confirmed" and result.amount == 0.123  # not 0.124
    assert result.side == "sell" and result.reduce_only
    assert venue.mutations(sim) == [("place", "order")]
    [sent] = venue.orders(sim)
    assert (sent.type, sent.side, sent.qty, sent.reduce_only) == ("MARKET", "SELL", 0.123, True)
    assert sent.client_id == result.client_order_id
    assert btc_qty(sim_account) == pytest.approx(0.377)


async def test_reduce_below_the_minimum_amount_is_refused_not_sent(
    sim: SimServer,
    sim_account: SimAccount,
    gw: OrderGateway,
    long_btc: float,
    btc: str,
) -> None:
    result = await gw.reduce(btc, "long", 0.0009, rule="margin_reduce", episode=2)
    assert result.status == "rejected"
    assert "below the minimum" in result.reason
    assert sim.mutating_requests() == []
    assert btc_qty(sim_account) == pytest.approx(0.5)


async def test_reduce_only_cannot_grow_a_position(
    sim: SimServer,
    sim_account: SimAccount,
    gw: OrderGateway,
    long_btc: float,
    btc: str,
) -> None:
    # Asking to cut more than is held flips nothing: the exchange caps a reduce-only order.
    result = await gw.reduce(btc, "long", 0.8, rule="flatten", episode=1)
    assert result.ok
    assert btc_qty(sim_account) == 0.0
    assert ("BTCUSDT", "BOTH") not in sim_account.positions


# ------------------------------------------------------------------ entries, cancels, leverage


async def test_market_entry_places_its_reduce_only_stop(
    sim: SimServer,
    sim_account: SimAccount,
    gw: OrderGateway,
    sol: str,
) -> None:
    mark = sim.engine.marks["SOLUSDT"]
    entry, stop = await gw.place_entry(
        sol, "long", 3.0, stop_price=mark * 0.95, rule="trade", episode=9, mark_price=mark
    )
    assert entry.status == "confirmed" and stop is not None and stop.status == "confirmed"
    assert entry.client_order_id != stop.client_order_id
    assert sim_account.positions[("SOLUSDT", "BOTH")].qty == pytest.approx(3.0)
    [order] = algo_orders(sim, sim_account)
    assert order.reduce_only and order.quantity == pytest.approx(3.0) and order.working_type == "MARK_PRICE"


async def test_entry_below_min_notional_is_refused(
    sim: SimServer, venue: VenueSpec, gw: OrderGateway
) -> None:
    mark = sim.engine.marks["DOGEUSDT"]  # 1 DOGE (the lot) is worth 0.32: below every venue's minimum
    entry, stop = await gw.place_entry(
        venue.sym("DOGE"), "long", 1.0, stop_price=mark * 0.9, rule="t", episode=1, mark_price=mark
    )
    assert entry.status == "rejected" and "notional" in entry.reason and stop is None
    assert sim.mutating_requests() == []


async def test_cancel_one_stop_then_cancel_all_of_a_symbol(
    sim: SimServer,
    venue: VenueSpec,
    sim_account: SimAccount,
    client: ccxt.Exchange,
    gw: OrderGateway,
    long_btc: float,
    btc: str,
) -> None:
    await gw.place_stop(btc, "long", 0.2, long_btc * 0.9, rule="a", episode=1)
    await gw.place_stop(btc, "long", 0.2, long_btc * 0.8, rule="b", episode=1)
    await gw.place_entry(
        btc, "long", 0.01, price=long_btc * 0.5, stop_price=long_btc * 0.4, rule="c", episode=1
    )
    snap = await read_snapshot(client, "main", tiers_cache=TiersCache())
    first = next(o for o in snap.open_orders if o.client_order_id == gw.client_id("a", btc, 1))

    result = await gw.cancel(first)
    assert result.status == "confirmed" and result.kind == "cancel"
    assert ("cancel", "stop") in venue.mutations(sim)
    assert gw.client_id("a", btc, 1) not in {o.client_algo_id for o in algo_orders(sim, sim_account)}

    result = await gw.cancel_all(btc)
    assert result.status == "confirmed"
    assert sim.engine.open_orders(sim_account.api_key) == []


async def test_cancel_of_an_unknown_order_is_rejected_with_the_exchange_message(
    sim: SimServer,
    client: ccxt.Exchange,
    gw: OrderGateway,
    long_btc: float,
    btc: str,
) -> None:
    stop = await gw.place_stop(btc, "long", 0.2, long_btc * 0.9, rule="a", episode=1)
    snap = await read_snapshot(client, "main", tiers_cache=TiersCache())
    [order] = snap.open_orders
    assert (await gw.cancel(order)).status == "confirmed"
    again = await gw.cancel(order)
    assert again.status == "rejected" and again.attempts == 1 and again.reason.startswith("OrderNotFound")
    assert stop.client_order_id == order.client_order_id


async def test_set_leverage_rounds_down_to_a_whole_number(
    sim: SimServer,
    sim_account: SimAccount,
    gw: OrderGateway,
    btc: str,
) -> None:
    result = await gw.set_leverage(btc, 7.9)
    assert result.status == "confirmed" and result.amount == 7.0
    assert sim.engine.leverage_of(sim_account, "BTCUSDT") == 7


# ------------------------------------------------------------------ hedge mode


# ------------------------------------------------------------------ dry-run and journal


async def test_dry_run_sends_nothing_and_returns_the_exact_would_be_orders(
    sim: SimServer,
    venue: VenueSpec,
    sim_account: SimAccount,
    client: ccxt.Exchange,
    long_btc: float,
    btc: str,
    sol: str,
) -> None:
    journal: list[ActionResult] = []
    dry = OrderGateway(client, "main", dry_run=True, journal_hook=journal.append)
    live = OrderGateway(client, "main", dry_run=False)
    mark_sol = sim.engine.marks["SOLUSDT"]
    entry, entry_stop = await dry.place_entry(
        sol, "short", 2.0, stop_price=mark_sol * 1.05, rule="t", episode=1, mark_price=mark_sol
    )
    assert entry_stop is not None
    results = [
        await dry.place_stop(btc, "long", 0.4999, long_btc * 0.9 + 0.04, rule="auto_stop", episode=1),
        await dry.reduce(btc, "long", 0.12399, rule="margin_reduce", episode=1),
        entry,
        entry_stop,
        await dry.set_leverage(btc, 3),
        await dry.cancel_all(btc),
    ]
    snap = await read_snapshot(client, "main", tiers_cache=TiersCache())
    stop = await live.place_stop(btc, "long", 0.1, long_btc * 0.8, rule="x", episode=1)
    sim.clear_log()
    [order] = (await read_snapshot(client, "main", tiers_cache=TiersCache())).open_orders
    results.append(await dry.cancel(order))

    assert sim.mutating_requests() == []
    assert all(r.status == "dry_run" for r in results)
    assert snap.positions[0].contracts == pytest.approx(0.5)
    stop_r, reduce_r, entry_r = results[:3]
    assert stop_r.amount == 0.499 and stop_r.trigger_price == venue.btc_price(long_btc * 0.9 + 0.04)
    assert stop_r.client_order_id == live.client_id("auto_stop", btc, 1)  # the id a live run would use
    assert reduce_r.amount == 0.123 and reduce_r.side == "sell"
    assert entry_r.side == "sell" and entry_r.amount == 2.0
    assert entry_stop.side == "buy" and entry_stop.amount == 2.0 and entry_stop.reduce_only
    assert len(journal) == len(results) and {j.status for j in journal} == {"dry_run"}  # nothing pending
    assert stop.ok and btc_qty(sim_account) == pytest.approx(0.5)


async def test_journal_hook_sees_pending_before_the_request_and_the_outcome_after(
    sim: SimServer,
    venue: VenueSpec,
    client: ccxt.Exchange,
    long_btc: float,
    btc: str,
) -> None:
    seen: list[tuple[str, int]] = []

    async def hook(result: ActionResult) -> None:
        seen.append((result.status, len(sim.mutating_requests())))

    gw = OrderGateway(client, "main", dry_run=False, journal_hook=hook)
    await gw.place_stop(btc, "long", 0.5, long_btc * 0.9, rule="auto_stop", episode=1)
    assert seen == [("pending", 0), ("confirmed", 1)]
