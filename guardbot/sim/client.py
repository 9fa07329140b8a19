"""An unmodified ccxt binanceusdm client pointed at the emulator (the recipe, as code)."""

from __future__ import annotations

from typing import Any

DEAD_URL = "http://127.0.0.1:9"  # discard port: anything not rewritten fails loudly, never reaches Binance


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
