"""The order gateway's retries and idempotency over real HTTP on every venue: an ambiguous failure
(executed, reply lost) is looked up before anything is sent again, retryable faults are retried
within bounds, final refusals are not."""

from __future__ import annotations

import ccxt.async_support as ccxt
import pytest
from gateway_support import FAST, algo_orders, btc_qty, client_for
from venue_spec import VENUES, VenueSpec

from guardbot.exchange import OrderGateway
from guardbot.sim import SimAccount, SimServer

pytestmark = pytest.mark.parametrize("exchange", VENUES, indirect=True)


# ------------------------------------------------------------------ retries and idempotency


@pytest.mark.parametrize("kind", ["timeout_after", "drop_after"])
async def test_ambiguous_failure_finds_the_placed_stop_instead_of_doubling_it(
    sim: SimServer,
    venue: VenueSpec,
    sim_account: SimAccount,
    client: ccxt.Exchange,
    gw: OrderGateway,
    long_btc: float,
    kind: str,
    btc: str,
) -> None:
    client.timeout = 300  # ms: the emulator stalls for seconds after placing the order
    sim.inject_fault(kind, path=venue.stop_path)
    result = await gw.place_stop(btc, "long", 0.5, long_btc * 0.9, rule="auto_stop", episode=1)
    assert result.status == "confirmed" and result.reason == "found after retry"
    assert result.attempts == 2 and result.exchange_order_id
    assert len(algo_orders(sim, sim_account)) == 1  # exactly one order on the exchange
    assert venue.mutations(sim) == [("place", "stop")]
    assert [r for r in venue.reads(sim) if r != venue.price_read] == [venue.stop_lookup]


@pytest.mark.parametrize("kind", ["timeout_after", "drop_after"])
async def test_ambiguous_failure_on_a_reduction_reduces_once(
    sim: SimServer,
    venue: VenueSpec,
    sim_account: SimAccount,
    client: ccxt.Exchange,
    gw: OrderGateway,
    long_btc: float,
    kind: str,
    btc: str,
) -> None:
    client.timeout = 300
    sim.inject_fault(kind, path=venue.order_path)
    result = await gw.reduce(btc, "long", 0.2, rule="margin_reduce", episode=1)
    assert result.status == "confirmed" and result.reason == "found after retry"
    assert result.order_state == "filled"
    assert btc_qty(sim_account) == pytest.approx(0.3)  # not 0.1
    assert venue.mutations(sim) == [("place", "order")]


@pytest.mark.parametrize("kind", ["drop", "timeout"])
async def test_request_that_never_arrived_is_looked_up_then_sent_again_once(
    sim: SimServer,
    venue: VenueSpec,
    sim_account: SimAccount,
    client: ccxt.Exchange,
    gw: OrderGateway,
    long_btc: float,
    kind: str,
    btc: str,
) -> None:
    client.timeout = 300
    sim.inject_fault(kind, path=venue.order_path)
    result = await gw.reduce(btc, "long", 0.2, rule="margin_reduce", episode=1)
    assert result.status == "confirmed" and result.attempts == 2
    assert btc_qty(sim_account) == pytest.approx(0.3)
    # POST (lost) -> look-up by client id (no such order) -> POST (-> what became of it, where
    # the acknowledgement does not say)
    requests = [(r.method, r.path) for r in sim.request_log if (r.method, r.path) != venue.price_read]
    if venue.state_lookup is not None:
        assert requests.pop() == venue.state_lookup
    assert requests[0] == requests[-1] == ("POST", venue.order_path)
    assert requests[1] == venue.order_lookup and len(requests) == 2 + venue.lookup_miss


async def test_a_cancelled_order_found_by_the_look_up_is_not_counted_as_placed(
    sim: SimServer,
    venue: VenueSpec,
    sim_account: SimAccount,
    client: ccxt.Exchange,
    gw: OrderGateway,
    long_btc: float,
    btc: str,
) -> None:
    """The look-up after an ambiguous failure finds an older order with the same client id, but
    cancelled: it protects nothing, so the stop is sent again. Binance accepts a closed order's id
    again; Bybit refuses it (orderLinkId is "always unique"), which is why the guard gives a
    re-placed order a new revision of its id (see tests/e2e/test_replacement_ids.py)."""
    client.timeout = 300
    first = await gw.place_stop(btc, "long", 0.5, long_btc * 0.9, rule="auto_stop", episode=7)
    assert first.exchange_order_id is not None
    sim.engine.cancel_algo_order(sim_account.api_key, int(first.exchange_order_id))  # the trader
    sim.clear_log()
    sim.inject_fault("drop", path=venue.stop_path)
    again = await gw.place_stop(btc, "long", 0.5, long_btc * 0.9, rule="auto_stop", episode=7)
    # POST (dropped) -> look-up finds the cancelled one -> POST again
    assert venue.mutations(sim) == [("place", "stop"), ("place", "stop")]
    if venue.reuses_closed_client_ids:
        assert again.status == "confirmed" and again.exchange_order_id != first.exchange_order_id
        assert again.order_state == "open"
        [live] = algo_orders(sim, sim_account)
        assert str(live.algo_id) == again.exchange_order_id
    else:
        assert again.status == "rejected" and "duplicate" in again.reason.lower()
        assert algo_orders(sim, sim_account) == []


async def test_restart_in_the_same_episode_finds_the_existing_stop(
    sim: SimServer,
    sim_account: SimAccount,
    client: ccxt.Exchange,
    long_btc: float,
    btc: str,
) -> None:
    first = await OrderGateway(client, "main", dry_run=False).place_stop(
        btc, "long", 0.5, long_btc * 0.9, rule="auto_stop", episode=3
    )
    # A new gateway (a restarted daemon) repeats the action: the venue refuses the duplicate id,
    # and the gateway returns the order that is already there.
    again = await OrderGateway(client, "main", dry_run=False).place_stop(
        btc, "long", 0.5, long_btc * 0.9, rule="auto_stop", episode=3
    )
    assert again.status == "confirmed" and again.reason == "already placed"
    assert again.exchange_order_id == first.exchange_order_id
    assert len(algo_orders(sim, sim_account)) == 1


async def test_retryable_faults_are_retried_until_the_order_goes_through(
    sim: SimServer,
    venue: VenueSpec,
    sim_account: SimAccount,
    client: ccxt.Exchange,
    long_btc: float,
    btc: str,
) -> None:
    """HTTP 429 and 503, and each refusal the venue has that ccxt treats as retryable (a nonce out of
    the window, a rate limit in the venue's own codes; stated per venue in venue_spec)."""
    faults = [("429", None), ("503", None)] + [
        ("error", c) for c in ("nonce", "rate_limit") if c in venue.codes
    ]
    for episode, (kind, code) in enumerate(faults, start=1):
        number, msg = venue.codes[code][:2] if code else (None, None)
        sim.inject_fault(kind, count=2, path=venue.stop_path, code=number, msg=msg)
        gw = OrderGateway(client, "main", dry_run=False, retry=FAST)
        result = await gw.place_stop(btc, "long", 0.5, long_btc * 0.9, rule="auto_stop", episode=episode)
        assert result.status == "confirmed", (kind, code, result.reason)
        assert result.attempts >= 2, (kind, code)
        assert len(algo_orders(sim, sim_account)) == episode, (kind, code)


async def test_retries_are_bounded(
    sim: SimServer,
    venue: VenueSpec,
    sim_account: SimAccount,
    gw: OrderGateway,
    long_btc: float,
    btc: str,
) -> None:
    sim.inject_fault("429", count=50, path=venue.stop_path)
    result = await gw.place_stop(btc, "long", 0.5, long_btc * 0.9, rule="auto_stop", episode=1)
    assert result.status == "failed" and result.attempts == FAST.attempts
    assert "gave up after 4 attempts" in result.reason and venue.rate_limit_error in result.reason
    assert len(sim.mutating_requests()) == FAST.attempts
    assert algo_orders(sim, sim_account) == []


@pytest.mark.parametrize("refusal", ["margin", "reduce_only", "would_trigger", "min_notional", "symbol"])
async def test_final_rejections_are_not_retried_and_carry_the_exchange_message(
    sim: SimServer,
    venue: VenueSpec,
    gw: OrderGateway,
    long_btc: float,
    refusal: str,
    btc: str,
) -> None:
    code, msg, error = venue.codes[refusal]
    sim.inject_fault("error", path=venue.order_path, code=code, msg=msg)
    result = await gw.reduce(btc, "long", 0.1, rule="margin_reduce", episode=1)
    assert result.status == "rejected" and result.attempts == 1
    assert result.reason.startswith(error) and (msg or str(code)) in result.reason
    assert len(sim.mutating_requests()) == 1


async def test_bad_signature_is_a_final_authentication_error(
    sim: SimServer,
    venue: VenueSpec,
    sim_account: SimAccount,
    btc: str,
) -> None:
    sim.engine.open_position(sim_account.api_key, "BTCUSDT", "long", 0.5, leverage=10)
    bad = client_for(sim, sim_account, secret="wrong")
    try:
        await bad.load_markets()  # public: works
        gw = OrderGateway(bad, "main", dry_run=False, retry=FAST)
        result = await gw.reduce(btc, "long", 0.1, rule="r", episode=1)
        leverage = await gw.set_leverage(btc, 3)
    finally:
        await bad.close()
    for r in (result, leverage):
        assert r.status == "rejected" and r.attempts == 1
        assert r.reason.startswith(venue.auth_error) and venue.bad_signature in r.reason
    assert btc_qty(sim_account) == pytest.approx(0.5)
