"""The client factory: environments, credentials and the base_url rewrite (no network)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import ccxt.async_support as ccxt
import pytest
from pydantic import SecretStr

from guardbot.config import AccountConfig, Credentials
from guardbot.exchange.client import DEAD_URL, make_client
from guardbot.exchange.errors import ExchangeSetupError

BASE = "http://127.0.0.1:8765"
WALLET = "0x" + "ab" * 20


@pytest.fixture
async def built() -> AsyncIterator[Callable[..., ccxt.Exchange]]:
    clients: list[ccxt.Exchange] = []

    def build(exchange: str, creds: Credentials | None = None, **fields: object) -> ccxt.Exchange:
        account = AccountConfig.model_validate({"name": "main", "exchange": exchange, **fields})
        client = make_client(account, creds, rate_limit=False)
        client.timeout_on_exit = 0  # nothing was opened; skip ccxt's 250 ms TLS grace on close
        clients.append(client)
        return client

    yield build
    for c in clients:
        await c.close()


def _keys() -> Credentials:
    return Credentials(api_key=SecretStr("k"), secret=SecretStr("s"))


async def test_binance_base_url_serves_every_fapi_key_and_kills_the_rest(
    built: Callable[..., ccxt.Exchange],
) -> None:
    client = built("binanceusdm", _keys(), base_url=BASE)
    api = client.urls["api"]
    assert api["fapiPrivateV3"] == BASE + "/fapi/v3"
    assert api["fapiPublic"] == BASE + "/fapi/v1"
    assert api["fapiData"] == BASE + "/futures/data"
    assert api["sapi"] == BASE + "/sapi/v1"  # the key's permissions, read at start
    others = [k for k in api if not k.startswith("fapi") and k != "sapi"]
    assert others and all(api[k] == DEAD_URL for k in others)  # dapi etc. can never leak to the real host
    assert client.options["fetchCurrencies"] is False
    assert client.options["fetchOpenOrders"]["warnWithoutSymbol"] is False
    # Binance's linear error table is active on a custom host: -2022 means InvalidOrder.
    assert client.exceptions["exact"]["-2022"] is ccxt.InvalidOrder
    assert client.apiKey == "k" and client.secret == "s"
    assert client.enableRateLimit is False


async def test_rate_limit_is_on_by_default(built: Callable[..., ccxt.Exchange]) -> None:
    account = AccountConfig(name="main", exchange="binanceusdm")
    client = make_client(account, _keys())
    client.timeout_on_exit = 0
    try:
        assert client.enableRateLimit is True
        # A per-minute weight budget, so one snapshot's concurrent reads are not spread out.
        assert client.tokenBucket["algorithm"] == "rollingWindow"
        assert client.throttler.config["maxWeight"] == 60_000 / client.rateLimit
    finally:
        await client.close()


async def test_the_emulator_on_loopback_is_not_throttled_a_proxy_is() -> None:
    # ccxt's rolling window counts failed requests too: against the emulator (no limit of its own)
    # an outage burned Binance's minute of weight and left the guard waiting up to 60 s, blind.
    on_emulator = make_client(AccountConfig(name="main", exchange="binanceusdm", base_url=BASE), _keys())
    proxied = make_client(
        AccountConfig(name="main", exchange="binanceusdm", base_url="https://proxy.example.com"), _keys()
    )
    try:
        assert on_emulator.enableRateLimit is False
        assert proxied.enableRateLimit is True
    finally:
        for client in (on_emulator, proxied):
            client.timeout_on_exit = 0
            await client.close()


async def test_binance_testnet_and_demo_change_hosts(built: Callable[..., ccxt.Exchange]) -> None:
    testnet = built("binanceusdm", _keys(), environment="testnet")
    demo = built("binanceusdm", _keys(), environment="demo")
    live = built("binanceusdm", _keys())
    assert "testnet" in testnet.urls["api"]["fapiPrivate"]
    assert "demo" in demo.urls["api"]["fapiPrivate"]
    assert live.urls["api"]["fapiPrivate"].startswith("https://fapi.binance.com")


@pytest.mark.parametrize(
    ("exchange", "environment"), [("aster", "demo"), ("hyperliquid", "demo"), ("aster", "testnet")]
)
def test_unsupported_environment_is_one_clear_line(exchange: str, environment: str) -> None:
    account = AccountConfig.model_validate({"name": "main", "exchange": exchange, "environment": environment})
    with pytest.raises(ExchangeSetupError) as info:
        make_client(account, None)
    message = str(info.value)
    assert "\n" not in message
    assert f"account main: {exchange} has no" in message


async def test_aster_takes_wallet_credentials_and_no_builder_fee(built: Callable[..., ccxt.Exchange]) -> None:
    creds = Credentials(
        private_key=SecretStr("0x" + "11" * 32), wallet_address=WALLET, api_key=SecretStr("x")
    )
    client = built("aster", creds, base_url=BASE)
    assert client.options["builderFee"] is False
    assert client.options["defaultType"] == "swap"
    assert client.privateKey == "0x" + "11" * 32 and client.walletAddress == WALLET
    assert not client.apiKey  # an API key is no use to Aster's EIP-712 signer
    assert client.urls["api"]["fapiPrivate"] == BASE + "/fapi"
    assert client.urls["api"]["sapiPublic"] == BASE + "/api"


async def test_bybit_and_hyperliquid_base_url(built: Callable[..., ccxt.Exchange]) -> None:
    bybit = built("bybit", _keys(), base_url=BASE, environment="demo")
    assert bybit.urls["api"]["public"] == BASE and bybit.urls["api"]["private"] == BASE
    assert bybit.options["fetchMarkets"]["types"] == ["linear"]
    assert bybit.has["fetchCurrencies"] is False
    hl = built("hyperliquid", Credentials(wallet_address=WALLET), base_url=BASE)
    assert hl.urls["api"]["public"] == BASE
    assert hl.walletAddress == WALLET
