"""Keccak-256 at C speed for ccxt's Ethereum signing (Aster's and Hyperliquid's EIP-712).

ccxt hashes with OpenSSL's KECCAK-256 where OpenSSL (3.2 and newer) offers it, and otherwise with
a pure-Python sponge of about 0.6 ms a hash; one signed Aster request takes 9 hashes, so signing
cost 6 ms a request, most of a streamed reaction's own time (docs/performance.md). `install` puts
pycryptodome's Keccak-256 (the same function, in C) where ccxt looks it up. It changes nothing
when ccxt already uses OpenSSL's.
"""

from __future__ import annotations

from Crypto.Hash import keccak as _c_keccak


def keccak256(data: bytes | bytearray) -> bytearray:
    """Keccak-256 (Ethereum's, the pre-NIST padding), as ccxt's vendored `SHA3` returns it."""
    return bytearray(_c_keccak.new(digest_bits=256, data=bytes(data)).digest())


def install() -> None:
    """Make ccxt's Ethereum signing hash with `keccak256` (idempotent)."""
    from ccxt.static_dependencies import keccak as vendored
    from ccxt.static_dependencies.ethabi import abi, typed_data

    if vendored.SHA3 is not vendored._pure_python_sha3:
        return  # OpenSSL's (or ours, installed already)
    vendored.SHA3 = keccak256  # looked up at each call by ccxt's base exchange (`keccak.SHA3(...)`)
    abi.keccak = typed_data.keccak = keccak256  # imported by name when the modules loaded
