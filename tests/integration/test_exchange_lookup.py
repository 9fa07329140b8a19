"""After an ambiguous failure the gateway looks its order up by client id before sending again.

On Bybit a filled market order is no longer open, and ccxt's fetch_order refuses a unified account
unless told `acknowledged`: the look-up must use Bybit's own query by `orderLinkId`, which answers
with open *and* closed orders, or a reduction whose reply was lost is sent twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import ccxt.async_support as ccxt
import pytest
from pydantic import SecretStr

from guardbot.config import AccountConfig, Credentials
from guardbot.exchange import OrderGateway, RetryPolicy
from guardbot.exchange.client import make_client
from guardbot.sim import SimAccount, SimServer

BTC = "BTC/USDT:USDT"
FAST = RetryPolicy(attempts=4, base_delay_s=0.001, max_delay_s=0.005)


pytestmark = pytest.mark.parametrize("exchange", ["bybit"], indirect=True)


@pytest.fixture
def acct(sim: SimServer, sim_account: SimAccount) -> SimAccount:
    sim.engine.open_position(sim_account.api_key, "BTCUSDT", "long", 0.5, leverage=10)
    return sim_account


@pytest.fixture
async def client(sim: SimServer, acct: SimAccount) -> AsyncIterator[ccxt.Exchange]:
    account = AccountConfig(name="main", exchange="bybit", base_url=sim.base_url)
    creds = Credentials(api_key=SecretStr(acct.api_key), secret=SecretStr(acct.secret))
    c = make_client(account, creds, rate_limit=False, timeout_ms=300)
    c.timeout_on_exit = 0
    await c.load_markets()
    await c.is_unified_enabled()  # ccxt asks once per client, before its first private call
    sim.clear_log()
    yield c
    await c.close()


@pytest.mark.parametrize("kind", ["timeout_after", "drop_after"])
async def test_a_filled_reduction_whose_reply_was_lost_is_found_not_sent_twice(
    sim: SimServer, acct: SimAccount, client: ccxt.Exchange, kind: str
) -> None:
    sim.inject_fault(kind, path="/v5/order/create")
    result = await OrderGateway(client, "main", dry_run=False, retry=FAST).reduce(
        BTC, "long", 0.2, rule="margin_reduce", episode=1
    )
    assert result.status == "confirmed" and result.reason == "found after retry", result.reason
    assert result.order_state == "filled"
    assert acct.positions[("BTCUSDT", "BOTH")].qty == pytest.approx(0.3)  # not 0.1
    assert [r.path for r in sim.mutating_requests()] == ["/v5/order/create"]
    [lookup] = [r for r in sim.request_log if r.method == "GET"]
    assert lookup.path == "/v5/order/realtime" and lookup.params["orderLinkId"] == result.client_order_id


async def test_a_stop_whose_reply_was_lost_is_found_resting(
    sim: SimServer, acct: SimAccount, client: ccxt.Exchange
) -> None:
    sim.inject_fault("timeout_after", path="/v5/order/create")
    result = await OrderGateway(client, "main", dry_run=False, retry=FAST).place_stop(
        BTC, "long", 0.5, 90_000.0, rule="auto_stop", episode=1
    )
    assert result.status == "confirmed" and result.reason == "found after retry"
    assert result.order_state == "open"
    assert [a.client_algo_id for a in acct.open_algo_orders()] == [result.client_order_id]


async def test_an_order_that_never_arrived_is_sent_once_more(
    sim: SimServer, acct: SimAccount, client: ccxt.Exchange
) -> None:
    sim.inject_fault("drop", path="/v5/order/create")
    result = await OrderGateway(client, "main", dry_run=False, retry=FAST).reduce(
        BTC, "long", 0.2, rule="margin_reduce", episode=1
    )
    assert result.status == "confirmed" and result.attempts == 2
    assert acct.positions[("BTCUSDT", "BOTH")].qty == pytest.approx(0.3)
    # POST (dropped) -> look-up by orderLinkId: open and recent closed, then history -> POST ->
    # the acknowledgement has only ids: one look-up says what became of the order
    assert [(r.method, r.path) for r in sim.request_log] == [
        ("POST", "/v5/order/create"),
        ("GET", "/v5/order/realtime"),
        ("GET", "/v5/order/history"),
        ("POST", "/v5/order/create"),
        ("GET", "/v5/order/realtime"),
    ]
