"""Aster's wire as the emulator serves it to the unmodified ccxt client: EIP-712 request signing
checked for real, booleans as ccxt sends them, and no builder fee (guardbot's client options)."""

from __future__ import annotations

import ccxt.async_support as ccxt
import pytest
from gateway_support import FAST, client_for

from guardbot.exchange import OrderGateway
from guardbot.sim import SimAccount, SimServer
from guardbot.sim.client import aster_client
from guardbot.sim.ethkeys import address_of, new_private_key

pytestmark = pytest.mark.parametrize("exchange", ["aster"], indirect=True)
BTC = "BTC/USDT:USDT"


async def test_a_request_whose_signature_is_not_the_signers_is_refused(
    sim: SimServer, sim_account: SimAccount
) -> None:
    # signed with another key while naming the account's wallet as signer: the EIP-712 signature
    # recovers another address (-1022); the account's own key is accepted
    forged = aster_client(sim.base_url, sim_account.api_key, new_private_key(), timeout_ms=2_000)
    forged.options["signerAddress"] = sim_account.api_key
    good = aster_client(sim.base_url, sim_account.api_key, sim_account.secret, timeout_ms=2_000)
    try:
        with pytest.raises(ccxt.AuthenticationError, match="-1022"):
            await forged.fetch_balance()
        assert (await good.fetch_balance())["USDT"]["total"] == 10_000
    finally:
        await forged.close()
        await good.close()
    [refused, accepted] = [r for r in sim.request_log if r.path == "/fapi/v3/balance"]
    assert (refused.status, accepted.status) == (400, 200)
    assert accepted.params["user"] == accepted.params["signer"] == sim_account.api_key
    assert int(accepted.params["nonce"]) > 10**15  # microseconds


async def test_a_stale_nonce_is_refused(sim: SimServer, sim_account: SimAccount) -> None:
    client = aster_client(sim.base_url, sim_account.api_key, sim_account.secret, timeout_ms=2_000)
    client.milliseconds = lambda: 1_000_000_000_000  # 2001: ccxt's nonce is milliseconds x 1000
    try:
        with pytest.raises(ccxt.InvalidNonce):
            await client.fetch_balance()
    finally:
        await client.close()


async def test_guard_orders_send_booleans_as_aster_reads_them_and_no_builder_fee(
    sim: SimServer, sim_account: SimAccount
) -> None:
    sim.engine.open_position(sim_account.api_key, "BTCUSDT", "long", 0.5, leverage=10)
    client = client_for(sim, sim_account)  # guardbot's own client: builderFee off
    try:
        gw = OrderGateway(client, "main", dry_run=False, retry=FAST)
        stop = await gw.place_stop(BTC, "long", 0.5, 90_000.0, rule="auto_stop", episode=1)
        close = await gw.place_stop(BTC, "long", None, 85_000.0, rule="backstop", episode=1)
        cut = await gw.reduce(BTC, "long", 0.1, rule="r", episode=1)
    finally:
        await client.close()
    assert stop.ok and close.ok and cut.ok
    posted = [r.params for r in sim.request_log if (r.method, r.path) == ("POST", "/fapi/v3/order")]
    assert [p.get("reduceOnly") for p in posted] == ["True", None, "True"]  # Python's str(True)
    assert posted[1]["closePosition"] == "True" and posted[0]["type"] == "STOP_MARKET"
    [a, b] = sorted(sim_account.algo_orders.values(), key=lambda o: o.algo_id)
    assert a.reduce_only and not a.close_position and b.close_position
    # no builder approved, none charged
    assert not [r for r in sim.request_log if "builder" in r.path.lower()]
    assert not [p for p in posted if "builder" in p or "feeRate" in p]
    assert address_of(sim_account.secret) == sim_account.api_key
