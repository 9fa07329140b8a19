"""`redact`: exchange and Telegram error texts without URLs, query strings, signatures or tokens."""

from __future__ import annotations

import ccxt
import pytest

from guardbot.exchange.errors import describe
from guardbot.redaction import redact

SIGNED = (
    "snapshot of main: account failed: ExchangeNotAvailable: binanceusdm GET "
    "https://fapi.binance.com/fapi/v3/account?timestamp=1796180552567&recvWindow=10000"
    "&signature=d53862e1465e44cad891c0849b56c5ad07586eb25935e3c8adaf9af0e67810bf 503 Service "
    "Unavailable <html><body><h1>503 Service Unavailable</h1></body></html>"
)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (
            SIGNED,
            "snapshot of main: account failed: ExchangeNotAvailable: binanceusdm GET /fapi/v3/account "
            "503 Service Unavailable",
        ),
        (  # HTML-escaped (a Telegram message) is stripped the same way
            "RequestTimeout: binanceusdm GET http://127.0.0.1:8765/fapi/v1/order?a=1&amp;signature=ab",
            "RequestTimeout: binanceusdm GET /fapi/v1/order",
        ),
        (
            "POST https://api.telegram.org/bot123456:AAE-x_y/sendMessage failed",
            "POST /bot<token>/sendMessage failed",
        ),
        ("body: symbol=BTCUSDT&signature=abcdef", "body: symbol=BTCUSDT&signature=…"),
        ('binanceusdm {"code":-1022,"msg":"Signature for this request is not valid."}', None),
        ("drawdown 12% ≥ halt 10%: HALTED", None),
    ],
)
def test_redact(raw: str, clean: str | None) -> None:
    assert redact(raw) == (raw if clean is None else clean)


def test_an_exchange_error_described_for_a_person_carries_no_signature() -> None:
    # describe() cuts long texts at 300 characters; redacting first keeps a cut from leaving
    # the query string (and half a signature) behind
    text = describe(ccxt.ExchangeNotAvailable(SIGNED.split("ExchangeNotAvailable: ", 1)[1]), limit=120)
    assert text == "ExchangeNotAvailable: binanceusdm GET /fapi/v3/account 503 Service Unavailable"
