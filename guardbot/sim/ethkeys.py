"""Ethereum keys and EIP-712 for the emulator: what Aster and Hyperliquid check on every signed
request, written from the specifications (EIP-712, EIP-191, MessagePack) rather than taken from
the client that signs, so a client that encodes differently is caught.

The primitives are keccak-256 (pycryptodome's; see the known-answer test) and secp256k1
public-key recovery (coincurve, the library ccxt itself signs with).
"""

from __future__ import annotations

import secrets
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import coincurve

from guardbot.exchange.keccak import keccak256

ZERO_ADDRESS = "0x" + "00" * 20


def keccak(data: bytes) -> bytes:
    return bytes(keccak256(data))


def new_private_key() -> str:
    return "0x" + secrets.token_hex(32)


def address_of(private_key: str) -> str:
    """The lower-case 0x address of a hex private key."""
    key = coincurve.PrivateKey(bytes.fromhex(private_key.removeprefix("0x")))
    return "0x" + keccak(key.public_key.format(compressed=False)[1:])[-20:].hex()


def sign_digest(digest: bytes, private_key: str) -> tuple[bytes, bytes, int]:
    """(r, s, v) with v = 27 or 28 (for tests that sign as a client would)."""
    key = coincurve.PrivateKey(bytes.fromhex(private_key.removeprefix("0x")))
    sig = key.sign_recoverable(digest, hasher=None)
    return sig[:32], sig[32:64], 27 + sig[64]


def recover(digest: bytes, r: bytes, s: bytes, v: int) -> str | None:
    """The address that signed `digest`, or None when the signature is malformed."""
    if v >= 27:
        v -= 27
    if v not in (0, 1) or len(r) != 32 or len(s) != 32:
        return None
    try:
        pub = coincurve.PublicKey.from_signature_and_message(r + s + bytes([v]), digest, hasher=None)
    except Exception:
        return None
    return "0x" + keccak(pub.format(compressed=False)[1:])[-20:].hex()


# ---- EIP-712 (only the member types the venues use: string, bytes32, address, uint) ----


def _type_string(name: str, fields: Sequence[tuple[str, str]]) -> str:
    return f"{name}(" + ",".join(f"{t} {n}" for n, t in fields) + ")"


def _encode_value(kind: str, value: Any) -> bytes:
    if kind == "string":
        return keccak(str(value).encode())
    if kind == "bytes32":
        raw = value if isinstance(value, bytes) else bytes.fromhex(str(value).removeprefix("0x"))
        if len(raw) != 32:
            raise ValueError("bytes32 must be 32 bytes")
        return raw
    if kind == "address":
        return bytes(12) + bytes.fromhex(str(value).removeprefix("0x").rjust(40, "0"))
    if kind.startswith("uint"):
        return int(value).to_bytes(32, "big")
    if kind == "bool":
        return int(bool(value)).to_bytes(32, "big")
    raise ValueError(f"EIP-712 type {kind} is not supported here")


def struct_hash(name: str, fields: Sequence[tuple[str, str]], values: Mapping[str, Any]) -> bytes:
    """hashStruct(s) = keccak(typeHash ‖ encodeData(s)) for a struct of atomic members."""
    type_hash = keccak(_type_string(name, fields).encode())
    return keccak(type_hash + b"".join(_encode_value(t, values[n]) for n, t in fields))


DOMAIN_FIELDS = (
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
)


def typed_data_digest(
    domain: Mapping[str, Any], name: str, fields: Sequence[tuple[str, str]], values: Mapping[str, Any]
) -> bytes:
    """keccak(0x19 0x01 ‖ domainSeparator ‖ hashStruct(message)): what an EIP-712 signer signs."""
    separator = struct_hash("EIP712Domain", DOMAIN_FIELDS, domain)
    return keccak(b"\x19\x01" + separator + struct_hash(name, fields, values))


# ---- MessagePack (the subset a JSON object can hold) ----


def msgpack(obj: Any) -> bytes:
    """MessagePack of a JSON value, keys in their given order, integers in their smallest form
    (the MessagePack specification's rule, which Hyperliquid's action hash relies on)."""
    if obj is None:
        return b"\xc0"
    if obj is True:
        return b"\xc3"
    if obj is False:
        return b"\xc2"
    if isinstance(obj, int):
        return _pack_int(obj)
    if isinstance(obj, float):
        return b"\xcb" + struct.pack(">d", obj)
    if isinstance(obj, str):
        raw = obj.encode()
        n = len(raw)
        if n < 32:
            return bytes([0xA0 | n]) + raw
        if n < 0x100:
            return b"\xd9" + bytes([n]) + raw
        if n < 0x10000:
            return b"\xda" + struct.pack(">H", n) + raw
        return b"\xdb" + struct.pack(">I", n) + raw
    if isinstance(obj, (list, tuple)):
        head = _container(len(obj), 0x90, b"\xdc", b"\xdd")
        return head + b"".join(msgpack(v) for v in obj)
    if isinstance(obj, Mapping):
        head = _container(len(obj), 0x80, b"\xde", b"\xdf")
        return head + b"".join(msgpack(k) + msgpack(v) for k, v in obj.items())
    raise TypeError(f"cannot pack {type(obj).__name__}")


def _container(n: int, fix: int, c16: bytes, c32: bytes) -> bytes:
    if n < 16:
        return bytes([fix | n])
    if n < 0x10000:
        return c16 + struct.pack(">H", n)
    return c32 + struct.pack(">I", n)


def _pack_int(n: int) -> bytes:
    if 0 <= n < 0x80:
        return bytes([n])
    if -32 <= n < 0:
        return struct.pack(">b", n)
    if n >= 0:
        for code, fmt, top in ((0xCC, ">B", 0x100), (0xCD, ">H", 0x10000), (0xCE, ">I", 1 << 32)):
            if n < top:
                return bytes([code]) + struct.pack(fmt, n)
        return b"\xcf" + struct.pack(">Q", n)
    for code, fmt, low in ((0xD0, ">b", -0x80), (0xD1, ">h", -0x8000), (0xD2, ">i", -(1 << 31))):
        if n >= low:
            return bytes([code]) + struct.pack(fmt, n)
    return b"\xd3" + struct.pack(">q", n)
