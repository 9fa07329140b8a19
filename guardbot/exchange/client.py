"""ccxt client factory: one configured `ccxt.async_support` exchange per account.

The factory is the only place that knows how an account's exchange, environment (live / testnet /
demo) and optional `base_url` (the emulator, a proxy) map onto ccxt's URL tables and options.
"""

from __future__ import annotations

import importlib
from typing import Any
from urllib.parse import urlsplit

import ccxt.async_support as ccxt

from guardbot.config import AccountConfig, Credentials
from guardbot.domain import EXCHANGES
from guardbot.exchange.errors import ExchangeSetupError
from guardbot.exchange.keccak import install as install_keccak

SUPPORTED = EXCHANGES  # the one list (guardbot.domain), also the CLI's --exchange choices
# Where URL keys we never use are pointed when a base_url is set, so a request that would leak to
# the real exchange fails loudly (connection refused) instead.
DEAD_URL = "http://127.0.0.1:9"


_CREDENTIAL_KEYS = {
    "binanceusdm": ("apiKey", "secret", "password"),
    "bybit": ("apiKey", "secret", "password"),
    # Aster (EIP-712) and Hyperliquid sign with a wallet key, not an API key/secret pair.
    "aster": ("privateKey", "walletAddress"),
    "hyperliquid": ("privateKey", "walletAddress"),
}


def _credential_config(exchange: str, credentials: Credentials | None) -> dict[str, str]:
    if credentials is None:
        return {}
    plain = credentials.as_ccxt()
    return {k: v for k, v in plain.items() if k in _CREDENTIAL_KEYS[exchange] and v}


def missing_credentials(client: ccxt.Exchange) -> list[str]:
    """The ccxt credential fields this client needs and does not have (empty = ready)."""
    required: dict[str, bool] = client.requiredCredentials
    if client.id == "aster":  # ccxt lists only privateKey; the signer also needs the wallet address
        required = {**required, "walletAddress": True}
    return [k for k, needed in required.items() if needed and not getattr(client, k, None)]


def _rewrite_base_url(client: ccxt.Exchange, base_url: str) -> None:
    base = base_url.rstrip("/")
    api: dict[str, Any] = client.urls["api"]

    def to_base(url: str) -> str:
        return base + urlsplit(url).path

    if client.id == "binanceusdm":
        for key, url in list(api.items()):
            # Only the USDⓈ-M API and the key's own permissions (sapi v1, read at start) are
            # served; dapi/eapi/papi/spot keys go to a dead port.
            served = key.startswith("fapi") or key == "sapi"
            api[key] = to_base(url) if served and isinstance(url, str) else DEAD_URL
        if client.has.get("ws"):
            # ccxt.pro: USDⓈ-M streams from the same host (ccxt adds /market, /public, /private)
            api["ws"] = {"linear": "ws" + base.removeprefix("http") + "/ws", "ws-api": {}}
        # ccxt picks the error table by URL prefix; on a custom host `-2022 ReduceOnly rejected`
        # would otherwise surface as a plain ExchangeError instead of InvalidOrder.
        client.exceptions["exact"].update(client.exceptions["linear"]["exact"])
    elif client.id == "aster":
        for key, url in list(api.items()):
            api[key] = to_base(url) if isinstance(url, str) else DEAD_URL
        if client.has.get("ws"):
            # ccxt.pro: the futures streams from the same host (/stream for market data, ccxt
            # adds /<listenKey> to the private /ws); the spot streams go to a dead port
            ws, dead = "ws" + base.removeprefix("http"), "ws" + DEAD_URL.removeprefix("http")
            api["ws"] = {
                "public": {"spot": dead, "swap": ws + "/stream"},
                "private": {"spot": dead, "swap": ws + "/ws"},
            }
            # ccxt.pro tells spot from futures messages by "fstream" in the host name, which a
            # base_url lacks (a futures ACCOUNT_UPDATE would then fail on the spot balance)
            client.get_account_type_from_url = lambda url: "swap"
    elif client.id in ("bybit", "hyperliquid"):
        for key in list(api):
            api[key] = base if key in ("public", "private") else DEAD_URL
        if client.id == "bybit" and client.has.get("ws"):
            # ccxt.pro: the linear public stream and the private stream from the same host; the
            # streams the emulator lacks (spot, inverse, option, order entry) go to a dead port
            ws, dead = "ws" + base.removeprefix("http"), "ws" + DEAD_URL.removeprefix("http")
            public = {kind: dead for kind in ("spot", "inverse", "option")}
            private = {"spot": {"unified": dead, "nonUnified": dead}, "usdc": dead, "trade": dead}
            api["ws"] = {
                "public": {**public, "linear": ws + "/v5/public/linear"},
                "private": {**private, "contract": ws + "/v5/private"},
            }
        if client.id == "hyperliquid" and client.has.get("ws"):
            # ccxt.pro: one websocket, /ws, for market and user data alike (as on Hyperliquid)
            api["ws"] = {"public": "ws" + base.removeprefix("http") + "/ws"}


def _supports_demo(client: ccxt.Exchange) -> bool:
    # Binance keeps demo hosts under urls["demo"]; Bybit overrides enable_demo_trading itself.
    own = type(client).enable_demo_trading is not ccxt.Exchange.enable_demo_trading
    return bool(client.urls.get("demo")) or own


def _apply_environment(client: ccxt.Exchange, account: str, environment: str) -> None:
    if environment == "live":
        return
    if environment == "testnet":
        if not client.urls.get("test"):
            raise ExchangeSetupError(
                f"account {account}: {client.id} has no testnet in ccxt; use live or demo"
            )
        client.set_sandbox_mode(True)
    elif environment == "demo":
        if not _supports_demo(client):
            raise ExchangeSetupError(
                f"account {account}: {client.id} has no demo trading in ccxt; use testnet or live"
            )
        client.enable_demo_trading(True)
    else:
        raise ExchangeSetupError(
            f"account {account}: environment {environment!r} unknown; expected live, testnet or demo"
        )


def build_client(
    exchange: str,
    *,
    account: str = "account",
    environment: str = "live",
    base_url: str | None = None,
    credentials: Credentials | None = None,
    rate_limit: bool = True,
    timeout_ms: int | None = None,
    pro: bool = False,
) -> ccxt.Exchange:
    """A configured ccxt async client from plain arguments (see `make_client`); `pro`: the
    ccxt.pro class of the same exchange (REST and websocket streams)."""
    install_keccak()  # Aster and Hyperliquid sign with keccak: in C, not ccxt's pure-Python fallback
    if exchange not in SUPPORTED:
        raise ExchangeSetupError(
            f"account {account}: exchange {exchange!r} is not supported; "
            f"expected one of {', '.join(SUPPORTED)}"
        )
    options: dict[str, Any] = {
        # With keys set, ccxt's load_markets would first call a signed spot-wallet endpoint.
        "fetchCurrencies": False,
        # We fetch all open orders in one request on purpose (one snapshot, fewest requests).
        "fetchOpenOrders": {"warnWithoutSymbol": False},
        "warnOnFetchOpenOrdersWithoutSymbol": False,
    }
    if exchange == "aster":
        # Off: otherwise load_markets approves a third-party builder fee and every order pays it.
        # Aster's fetch_open_orders refuses to run without a symbol unless warnIfNoSymbol is off
        # (its own option name; Binance's warnWithoutSymbol does nothing there).
        options.update(
            {"builderFee": False, "defaultType": "swap", "fetchOpenOrders": {"warnIfNoSymbol": False}}
        )
    elif exchange == "bybit":
        options.update({"defaultType": "swap", "fetchMarkets": {"types": ["linear"]}})
    elif exchange == "hyperliquid":
        # builderFee off: ccxt approves its builder code at a 0 % rate (once, with the first
        # order) and tags orders with fee 0, so nothing is charged. refSet: ccxt would otherwise
        # bind the account to its own referral code on the first order; guardbot changes nothing
        # but orders, cancels and leverage.
        options.update(
            {
                "defaultType": "swap",
                "fetchMarkets": {"types": ["swap"]},
                "builderFee": False,
                "refSet": True,
            }
        )
    config: dict[str, Any] = {
        "enableRateLimit": rate_limit,
        # A rolling one-minute weight budget (ccxt's unit cost x rateLimit = the venue's limit)
        # instead of the default leaky bucket of capacity 1: the five reads of one snapshot go out
        # together, so they describe one instant, while the per-minute total stays within limits.
        "rateLimiterAlgorithm": "rollingWindow",
        "rollingWindowSize": 60_000,
        "options": options,
        **_credential_config(exchange, credentials),
    }
    if timeout_ms is not None:
        config["timeout"] = timeout_ms
    # ccxt.pro is imported only for streaming mode: it loads every ccxt.pro exchange class
    module: Any = importlib.import_module("ccxt.pro") if pro else ccxt
    client: ccxt.Exchange = getattr(module, exchange)(config)
    if exchange in ("bybit", "hyperliquid"):
        # Bybit: a signed coin query; Hyperliquid: signing the client in (builder approval) and a
        # spot token list, at every market load. Neither is needed for perpetuals.
        client.has["fetchCurrencies"] = False
    _apply_environment(client, account, environment)
    if base_url:
        _rewrite_base_url(client, base_url)
    return client


def make_client(
    account: AccountConfig,
    credentials: Credentials | None,
    *,
    rate_limit: bool = True,
    timeout_ms: int | None = None,
) -> ccxt.Exchange:
    """The ccxt client of one configured account.

    Markets are loaded on first use and kept by ccxt for the life of the client; create one client
    per account and reuse it. `rate_limit` is ccxt's own throttle to the venue's limit; it is off
    for an account on the emulator (`held_to_venue_budget`), which has no limit to keep.
    Raises `ExchangeSetupError` (one line) for an unsupported exchange/environment combination.
    """
    return build_client(
        account.exchange,
        account=account.name,
        environment=account.environment,
        base_url=account.base_url,
        credentials=credentials,
        rate_limit=rate_limit and account.held_to_venue_budget,
        timeout_ms=timeout_ms,
    )
