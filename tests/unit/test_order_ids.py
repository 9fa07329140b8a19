"""Client order ids: deterministic per action, distinct across actions, valid on every venue."""

from __future__ import annotations

import re

import pytest

from guardbot.exchange.ids import ALLOWED, client_order_id, is_ours, is_valid

# Binance USDⓈ-M newClientOrderId / clientAlgoId rule, from the API docs.
BINANCE_RULE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")


def test_same_action_gives_same_id_so_a_retry_finds_its_order() -> None:
    a = client_order_id("main", "auto_stop", "BTC/USDT:USDT", 7)
    b = client_order_id("main", "auto_stop", "BTC/USDT:USDT", 7)
    assert a == b
    assert client_order_id("main", "auto_stop", "BTC/USDT:USDT", "7") == a  # episode as text or int


@pytest.mark.parametrize(
    "other",
    [
        ("desk", "auto_stop", "BTC/USDT:USDT", 7),
        ("main", "margin_reduce", "BTC/USDT:USDT", 7),
        ("main", "auto_stop", "ETH/USDT:USDT", 7),
        ("main", "auto_stop", "BTC/USDT:USDT", 8),
    ],
)
def test_any_changed_part_gives_a_different_id(other: tuple[str, str, str, int]) -> None:
    assert client_order_id(*other) != client_order_id("main", "auto_stop", "BTC/USDT:USDT", 7)


def test_concatenation_of_parts_does_not_collide() -> None:
    assert client_order_id("ab", "c", "X", 1) != client_order_id("a", "bc", "X", 1)


def test_tag_separates_an_entry_from_its_stop_and_empty_tag_keeps_the_plain_id() -> None:
    plain = client_order_id("main", "trade", "SOL/USDT:USDT", 3)
    assert client_order_id("main", "trade", "SOL/USDT:USDT", 3, tag="") == plain
    entry = client_order_id("main", "trade", "SOL/USDT:USDT", 3, tag="entry")
    stop = client_order_id("main", "trade", "SOL/USDT:USDT", 3, tag="stop")
    assert len({plain, entry, stop}) == 3


@pytest.mark.parametrize(
    "rule",
    ["auto_stop", "Margin Ratio/Reduce!!", "a-very-long-rule-name-that-goes-on-and-on", "", "ÜBER"],
)
def test_ids_fit_binance_length_and_charset_and_carry_our_prefix(rule: str) -> None:
    cid = client_order_id("a-long_account-name", rule, "1000PEPE/USDT:USDT", 123456789)
    assert BINANCE_RULE.match(cid), cid
    assert ALLOWED.pattern == BINANCE_RULE.pattern
    assert len(cid) <= 36
    assert cid.startswith("gb-")
    assert is_ours(cid)
    assert is_valid(cid)


def test_rule_slug_keeps_ids_readable() -> None:
    assert client_order_id("main", "auto_stop", "BTC/USDT:USDT", 1).startswith("gb-autostop-")


def test_hyperliquid_gets_a_128_bit_hex_cloid() -> None:
    cid = client_order_id("main", "auto_stop", "BTC/USDC:USDC", 1, exchange="hyperliquid")
    assert re.fullmatch(r"0x[0-9a-f]{32}", cid)
    assert is_valid(cid, "hyperliquid")
    assert cid == client_order_id("main", "auto_stop", "BTC/USDC:USDC", 1, exchange="hyperliquid")


@pytest.mark.parametrize("cid", [None, "", "x-cvBPrNm9abc", "web_abc123", "gb-bad id with spaces"])
def test_foreign_ids_are_not_ours(cid: str | None) -> None:
    assert not is_ours(cid)


def test_hyperliquid_ids_are_recognised_as_ours() -> None:
    """The guard cancels only guardbot's own entry orders when HALTED: it must recognise the
    128-bit hex cloid form used on Hyperliquid too, and never a trader's random cloid."""
    from guardbot.domain import is_guardbot_client_id

    cid = client_order_id("main", "trade", "BTC/USDC:USDC", 1, exchange="hyperliquid")
    assert is_valid(cid, "hyperliquid") and is_ours(cid) and is_guardbot_client_id(cid)
    assert not is_guardbot_client_id("0x" + "ab" * 16)
