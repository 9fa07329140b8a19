"""Aster's v3 request signing, checked the way ccxt's `aster` signs (and Aster documents it).

Every private request carries `user` (the account's wallet), `signer` (the wallet that signs),
`nonce` (microseconds) and, last, `signature`: an EIP-712 signature over the request's parameter
string, domain `AsterSignTransaction` version 1, chainId 1666, the zero contract, type
`Message(string msg)` with `msg` = the parameters exactly as sent, up to `&signature=`.
GET sends them in the query; POST, PUT and DELETE in a form body. Booleans arrive as "True".
"""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

from guardbot.sim.ethkeys import ZERO_ADDRESS, recover, typed_data_digest
from guardbot.sim.venues.binance_codes import BinanceError

DOMAIN = {"name": "AsterSignTransaction", "version": "1", "chainId": 1666, "verifyingContract": ZERO_ADDRESS}
MESSAGE_FIELDS = (("msg", "string"),)
MANDATORY = "Mandatory parameter '{}' was not sent, was empty/null, or malformed."
NONCE_WINDOW_US = 5_000_000  # Aster: a nonce more than ~5 s from server time is refused


def signed_string(method: str, raw_query: str, raw_body: str) -> str:
    return raw_query if method == "GET" else raw_body


def verify(payload: str, now_us: int | None = None) -> tuple[str, str]:
    """(user, signer), both lower case, of a correctly signed v3 request; raises BinanceError
    -1102 (a field missing), -1021 (nonce outside the window) or -1022 (bad signature)."""
    msg, sep, signature = payload.rpartition("&signature=")
    if not sep:
        raise BinanceError(-1102, MANDATORY.format("signature"))
    params = dict(parse_qsl(msg, keep_blank_values=True))
    for field in ("user", "signer", "nonce"):
        if not params.get(field):
            raise BinanceError(-1102, MANDATORY.format(field))
    try:
        nonce = int(params["nonce"])
    except ValueError:
        raise BinanceError(-1102, "Parameter 'nonce' was malformed.") from None
    now = now_us if now_us is not None else time.time_ns() // 1000
    if abs(now - nonce) > NONCE_WINDOW_US:
        raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")
    try:
        raw = bytes.fromhex(signature.removeprefix("0x"))
    except ValueError:
        raise BinanceError(-1022) from None
    if len(raw) != 65:
        raise BinanceError(-1022)
    digest = typed_data_digest(DOMAIN, "Message", MESSAGE_FIELDS, {"msg": msg})
    signer = recover(digest, raw[:32], raw[32:64], raw[64])
    if signer is None or signer != params["signer"].lower():
        raise BinanceError(-1022)
    return params["user"].lower(), signer
