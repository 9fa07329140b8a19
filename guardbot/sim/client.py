"""Unmodified ccxt clients pointed at the emulator (each venue's recipe, as code)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DEAD_URL = "http://127.0.0.1:9"  # discard port: anything not rewritten fails loudly, never reaches a venue


def binanceusdm_client(
    base_url: str, api_key: str, secret: str, timeout_ms: int = 10_000, **options: Any
) -> Any:
    """`ccxt.async_support.binanceusdm` talking to `base_url` (e.g. "http://127.0.0.1:PORT").

    Every fapi URL is rewritten to the emulator, every other API family to a dead port; rate
    limiting is off; and the fapi ("linear") error table is merged into the generic one, because
    ccxt picks that table by URL host and would otherwise map -2019/-2022 to a plain ExchangeError.
    The caller closes it (`await client.close()`).
    """
    import ccxt.async_support as ccxt

    opts: dict[str, Any] = {"fetchCurrencies": False, "fetchOpenOrders": {"warnWithoutSymbol": False}}
    opts.update(options)
    ex = ccxt.binanceusdm(
        {
            "apiKey": api_key,
            "secret": secret,
            "enableRateLimit": False,
            "timeout": timeout_ms,
            "options": opts,
        }
    )
    api = ex.urls["api"]
    for key, url in list(api.items()):
        if not isinstance(url, str):
            continue
        if key.startswith("fapi"):
            api[key] = url.replace("https://fapi.binance.com", base_url.rstrip("/"))
        else:
            api[key] = DEAD_URL
    ex.exceptions["exact"].update(ex.exceptions["linear"]["exact"])
    ex.timeout_on_exit = 0  # ccxt waits 250 ms on close for TLS teardown; loopback is plain HTTP
    return ex


def bybit_client(base_url: str, api_key: str, secret: str, timeout_ms: int = 10_000, **options: Any) -> Any:
    """`ccxt.async_support.bybit` (unified account, linear perpetuals) talking to `base_url`.

    Only linear markets are loaded (2 requests) and the signed coin query ccxt makes first when
    currencies are on is skipped; both API families (`public`, `private`) go to the emulator, the
    rest to a dead port. The caller closes it.
    """
    import ccxt.async_support as ccxt

    opts: dict[str, Any] = {"defaultType": "swap", "fetchMarkets": {"types": ["linear"]}}
    opts.update(options)
    ex = ccxt.bybit(
        {
            "apiKey": api_key,
            "secret": secret,
            "enableRateLimit": False,
            "timeout": timeout_ms,
            "options": opts,
        }
    )
    ex.has["fetchCurrencies"] = False
    for key in list(ex.urls["api"]):
        ex.urls["api"][key] = base_url.rstrip("/") if key in ("public", "private") else DEAD_URL
    ex.timeout_on_exit = 0
    return ex


def aster_client(
    base_url: str, address: str, private_key: str, timeout_ms: int = 10_000, **options: Any
) -> Any:
    """`ccxt.async_support.aster` (perpetuals) talking to `base_url`, signing with `private_key`.

    Every API family (fapi and sapi) goes to the emulator; the builder fee is off (otherwise ccxt
    approves a third-party builder on its first private call and every order pays it), and
    fetch_open_orders may run without a symbol. The caller closes it.
    """
    import ccxt.async_support as ccxt

    from guardbot.exchange.keccak import install

    install()  # signs as guardbot's own clients do (build_client)

    opts: dict[str, Any] = {
        "builderFee": False,
        "defaultType": "swap",
        "fetchOpenOrders": {"warnIfNoSymbol": False},
    }
    opts.update(options)
    ex = ccxt.aster(
        {
            "privateKey": private_key,
            "walletAddress": address,
            "enableRateLimit": False,
            "timeout": timeout_ms,
            "options": opts,
        }
    )
    base = base_url.rstrip("/")
    for key, url in list(ex.urls["api"].items()):
        ex.urls["api"][key] = base + url[url.index("/", len("https://")) :]
    ex.timeout_on_exit = 0
    return ex


def hyperliquid_client(
    base_url: str, address: str, private_key: str, timeout_ms: int = 10_000, **options: Any
) -> Any:
    """`ccxt.async_support.hyperliquid` (perpetuals) talking to `base_url` for the wallet `address`,
    signing with `private_key`.

    Only perpetual markets are loaded and currencies are not (that would sign the client in at
    load time); ccxt's referrer is not set and its builder code carries a 0 % fee. The caller
    closes it.
    """
    import ccxt.async_support as ccxt

    from guardbot.exchange.keccak import install

    install()  # signs as guardbot's own clients do (build_client)

    opts: dict[str, Any] = {
        "defaultType": "swap",
        "fetchMarkets": {"types": ["swap"]},
        "builderFee": False,
        "refSet": True,
    }
    opts.update(options)
    ex = ccxt.hyperliquid(
        {
            "walletAddress": address,
            "privateKey": private_key,
            "enableRateLimit": False,
            "timeout": timeout_ms,
            "options": opts,
        }
    )
    ex.has["fetchCurrencies"] = False
    for key in list(ex.urls["api"]):
        ex.urls["api"][key] = base_url.rstrip("/") if key in ("public", "private") else DEAD_URL
    ex.timeout_on_exit = 0
    return ex


CLIENTS: dict[str, Callable[..., Any]] = {
    "binanceusdm": binanceusdm_client,
    "bybit": bybit_client,
    "aster": aster_client,
    "hyperliquid": hyperliquid_client,
}


def ccxt_client(exchange: str, base_url: str, api_key: str, secret: str, timeout_ms: int = 10_000) -> Any:
    """The unmodified ccxt client of `exchange` on the emulator at `base_url`."""
    try:
        make = CLIENTS[exchange]
    except KeyError:
        raise ValueError(f"no ccxt recipe for {exchange!r}; expected one of {', '.join(CLIENTS)}") from None
    return make(base_url, api_key, secret, timeout_ms)
