"""Our client order ids: deterministic, short, and recognisable.

An id is derived from (account, rule, symbol, episode[, tag]) so that a retry, or a restart in the
middle of an episode, produces the *same* id and can find the order it already sent instead of
sending a second one. Binance (and Aster, Bybit) accept at most 36 characters from
`[.A-Z:/a-z0-9_-]`; Hyperliquid wants a 128-bit hex `cloid`, so it gets its own form.
"""

from __future__ import annotations

import hashlib
import re

from guardbot.domain import CLIENT_ID_PREFIX as PREFIX
from guardbot.domain import HEX_CLIENT_ID_PREFIX, is_guardbot_client_id

MAX_LEN = 36
ALLOWED = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_HYPERLIQUID_CLOID = re.compile(r"^0x[0-9a-f]{32}$")
_RULE_SLUG_LEN = 10
_HASH_LEN = 20  # 80 bits of sha256: collisions are not a practical concern per account


def _digest(account: str, rule: str, symbol: str, episode: int | str, tag: str) -> str:
    # "\x1f" (unit separator) cannot occur in any of the parts, so distinct tuples never collide
    # by concatenation ("a|b" + "c" vs "a" + "b|c").
    parts = [account, rule, symbol, str(episode)]
    if tag:
        parts.append(tag)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _slug(rule: str) -> str:
    return re.sub(r"[^a-z0-9]", "", rule.lower())[:_RULE_SLUG_LEN] or "x"


def client_order_id(
    account: str, rule: str, symbol: str, episode: int | str, *, tag: str = "", exchange: str = ""
) -> str:
    """The client order id for one action.

    `tag` separates several orders of the same action (an entry and its stop); it is left out of
    the hash when empty so the plain (account, rule, symbol, episode) id stays stable.

    Form: ``gb-<rule slug>-<20 hex>`` (at most 34 characters). Hyperliquid: ``0x6762<28 hex>``.
    """
    digest = _digest(account, rule, symbol, episode, tag)
    if exchange == "hyperliquid":
        return HEX_CLIENT_ID_PREFIX + digest[: 34 - len(HEX_CLIENT_ID_PREFIX)]
    return f"{PREFIX}{_slug(rule)}-{digest[:_HASH_LEN]}"


def is_ours(client_id: str | None) -> bool:
    """Whether an order was placed by guardbot (by its client order id)."""
    return is_guardbot_client_id(client_id) and (
        ALLOWED.match(client_id or "") is not None or _HYPERLIQUID_CLOID.match(client_id or "") is not None
    )


def is_valid(client_id: str, exchange: str = "") -> bool:
    if exchange == "hyperliquid":
        return _HYPERLIQUID_CLOID.match(client_id) is not None
    return ALLOWED.match(client_id) is not None
