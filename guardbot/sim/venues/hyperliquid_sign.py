"""Hyperliquid's signed actions, checked as Hyperliquid documents them ("Signing", "Nonces and API
wallets"), with guardbot.sim.ethkeys (no code of the client that signs).

- An L1 action (order, cancel, cancelByCloid, updateLeverage, updateIsolatedMargin, setReferrer)
  is hashed: keccak(msgpack(action) ‖ nonce as 8 bytes ‖ 0x00, or 0x01 ‖ vault address
  [‖ 0x00 ‖ expiresAfter as 8 bytes]); the signer signs the EIP-712 struct
  `Agent(string source,bytes32 connectionId)` with source "a" (mainnet), domain `Exchange`,
  version 1, chainId 1337, the zero contract.
- A user-signed action (approveBuilderFee, ...) is signed as `HyperliquidTransaction:<Name>` with
  the action's own fields, domain `HyperliquidSignTransaction`, chainId = `signatureChainId`.
- The signer is the address recovered from the signature: there is no key in the request. Each
  signer's 100 highest nonces are kept; a nonce must be new, above the smallest of them, and
  within (now - 2 days, now + 1 day).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from guardbot.sim.ethkeys import ZERO_ADDRESS, keccak, msgpack, recover, typed_data_digest

L1_DOMAIN = {"name": "Exchange", "version": "1", "chainId": 1337, "verifyingContract": ZERO_ADDRESS}
AGENT_FIELDS = (("source", "string"), ("connectionId", "bytes32"))
MAINNET_SOURCE = "a"
USER_SIGNED: dict[str, tuple[tuple[str, str], ...]] = {
    "approveBuilderFee": (
        ("hyperliquidChain", "string"),
        ("maxFeeRate", "string"),
        ("builder", "address"),
        ("nonce", "uint64"),
    ),
}
USER_SIGNED_NAMES = {"approveBuilderFee": "ApproveBuilderFee"}
NONCES_KEPT = 100
DAY_MS = 86_400_000


class SignatureError(ValueError):
    """The request is not signed as Hyperliquid requires; the message is Hyperliquid's."""


def action_hash(action: Mapping[str, Any], nonce: int, vault: str | None, expires_after: int | None) -> bytes:
    data = msgpack(action) + nonce.to_bytes(8, "big")
    data += b"\x00" if vault is None else b"\x01" + bytes.fromhex(vault.removeprefix("0x"))
    if expires_after is not None:
        data += b"\x00" + expires_after.to_bytes(8, "big")
    return keccak(data)


def _rsv(signature: Any) -> tuple[bytes, bytes, int]:
    if not isinstance(signature, Mapping):
        raise SignatureError("Failed to deserialize the JSON body into the target type: signature")
    try:
        r = bytes.fromhex(str(signature["r"]).removeprefix("0x").rjust(64, "0"))
        s = bytes.fromhex(str(signature["s"]).removeprefix("0x").rjust(64, "0"))
        return r, s, int(signature["v"])
    except (KeyError, ValueError, TypeError):
        raise SignatureError("Failed to deserialize the JSON body into the target type: signature") from None


def signer_of(body: Mapping[str, Any]) -> str:
    """The lower-case address that signed an /exchange request (whoever that is)."""
    action = body.get("action")
    if not isinstance(action, Mapping) or not isinstance(body.get("nonce"), int):
        raise SignatureError("Failed to deserialize the JSON body into the target type")
    kind = str(action.get("type"))
    r, s, v = _rsv(body.get("signature"))
    if kind in USER_SIGNED:
        fields = USER_SIGNED[kind]
        try:
            chain_id = int(str(action["signatureChainId"]), 16)
            values = {name: action[name] for name, _ in fields}
        except (KeyError, ValueError):
            raise SignatureError("Failed to deserialize the JSON body into the target type") from None
        domain = {
            "name": "HyperliquidSignTransaction",
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": ZERO_ADDRESS,
        }
        name = f"HyperliquidTransaction:{USER_SIGNED_NAMES[kind]}"
        digest = typed_data_digest(domain, name, fields, values)
    else:
        vault = body.get("vaultAddress")
        expires = body.get("expiresAfter")
        expires_after = expires if isinstance(expires, int) else None
        connection = action_hash(action, int(body["nonce"]), vault, expires_after)
        digest = typed_data_digest(
            L1_DOMAIN, "Agent", AGENT_FIELDS, {"source": MAINNET_SOURCE, "connectionId": connection}
        )
    signer = recover(digest, r, s, v)
    if signer is None:
        raise SignatureError("Failed to recover the signer from the signature")
    return signer


class NonceBook:
    """Each signer's highest nonces, as Hyperliquid keeps them."""

    def __init__(self) -> None:
        self._seen: dict[str, list[int]] = {}

    def check(self, signer: str, nonce: int, now_ms: int | None = None) -> None:
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        if not now - 2 * DAY_MS < nonce < now + DAY_MS:
            raise SignatureError(f"Invalid nonce: {nonce} is outside the allowed time window")
        seen = self._seen.setdefault(signer, [])
        if nonce in seen or (len(seen) >= NONCES_KEPT and nonce <= seen[0]):
            raise SignatureError(f"Invalid nonce: {nonce} was already used or is too low")
        seen.append(nonce)
        seen.sort()
        del seen[:-NONCES_KEPT]
