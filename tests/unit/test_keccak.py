"""Keccak-256 for ccxt's Ethereum signing: the C function guardbot installs gives what ccxt's own
pure-Python one gives (Aster and Hyperliquid accept a request only if every hash is right), and
ccxt's signing code really calls it after `install`."""

from __future__ import annotations

from ccxt.static_dependencies import keccak as vendored
from ccxt.static_dependencies.ethabi import abi, typed_data
from hypothesis import given
from hypothesis import strategies as st

from guardbot.exchange.client import build_client
from guardbot.exchange.keccak import install, keccak256


def test_known_answers_of_ethereum_keccak_256() -> None:
    # Ethereum's Keccak-256 (not NIST SHA3-256, whose padding differs): the empty string's hash is
    # the well-known `KECCAK_EMPTY`, and the ERC-20 Transfer event topic is keccak("Transfer(...)").
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    topic = keccak256(b"Transfer(address,address,uint256)").hex()
    assert topic == "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


@given(st.binary(max_size=300))
def test_the_c_keccak_equals_ccxts_own(data: bytes) -> None:
    assert keccak256(data) == vendored._pure_python_sha3(data)
    assert isinstance(keccak256(data), bytearray)  # what ccxt's callers get from theirs


def test_building_a_client_makes_ccxt_sign_with_the_c_keccak() -> None:
    build_client("aster")
    assert vendored.SHA3 is keccak256 or vendored.SHA3 is not vendored._pure_python_sha3
    if vendored.SHA3 is keccak256:  # (where OpenSSL offers KECCAK-256, ccxt's own is kept)
        assert abi.keccak is keccak256 and typed_data.keccak is keccak256
    install()  # twice is harmless
    assert vendored.SHA3 is not vendored._pure_python_sha3
