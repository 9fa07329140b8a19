"""Unmodified ccxt clients pointed at the emulator (each venue's recipe, as code)."""

from __future__ import annotations

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


CLIENTS = {"binanceusdm": binanceusdm_client, "bybit": bybit_client}


def ccxt_client(exchange: str, base_url: str, api_key: str, secret: str, timeout_ms: int = 10_000) -> Any:
    """The unmodified ccxt client of `exchange` on the emulator at `base_url`."""
    try:
        make = CLIENTS[exchange]
    except KeyError:
        raise ValueError(f"no ccxt recipe for {exchange!r}; expected one of {', '.join(CLIENTS)}") from None
    return make(base_url, api_key, secret, timeout_ms)
