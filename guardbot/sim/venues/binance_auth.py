"""Binance HMAC-SHA256 request signing, checked the way Binance checks it.

The signature covers the *raw* query string (GET/DELETE) or the raw body (POST/PUT), exactly as the
client sent them: re-encoding a decoded query breaks on characters like ':' ',' '/' ' ' '+'.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import parse_qsl

from guardbot.sim.venues.binance_codes import BinanceError

MAX_RECV_WINDOW_MS = 60_000
DEFAULT_RECV_WINDOW_MS = 5_000


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def signed_payload(raw_query: str, raw_body: str) -> str:
    """Binance's totalParams: the query string followed directly by the body."""
    return raw_query + raw_body


def verify(secret: str, total_params: str, now_ms: int | None = None) -> None:
    """Raise BinanceError -1022 (bad/missing signature), -1021 (timestamp outside recvWindow) or
    -1102 (missing timestamp)."""
    payload, sep, signature = total_params.rpartition("&signature=")
    if not sep:
        if total_params.startswith("signature="):
            payload, signature = "", total_params[len("signature=") :]
        else:
            raise BinanceError(
                -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
            )
    if "&" in signature:  # parameters after the signature are not covered by it
        signature, _, _ = signature.partition("&")
    if not hmac.compare_digest(sign(secret, payload), signature.lower()):
        raise BinanceError(-1022)
    params = dict(parse_qsl(payload, keep_blank_values=True))
    try:
        ts = int(params["timestamp"])
    except (KeyError, ValueError):
        raise BinanceError(
            -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
        ) from None
    try:
        window = int(params.get("recvWindow", DEFAULT_RECV_WINDOW_MS))
    except ValueError:
        raise BinanceError(-1102, "Parameter 'recvWindow' is malformed.") from None
    if not 0 < window <= MAX_RECV_WINDOW_MS:
        raise BinanceError(-1102, f"recvWindow must be between 1 and {MAX_RECV_WINDOW_MS}.")
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    # Binance: reject requests from the future (more than 1 s ahead) and older than recvWindow.
    if ts >= now + 1000 or now - ts > window:
        raise BinanceError(-1021)
