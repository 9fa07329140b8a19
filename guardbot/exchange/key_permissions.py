"""What an account's API key may do, read from the venue at start.

guardbot needs to read and to trade futures, nothing else. A key that can also withdraw or move
funds between accounts turns a leaked server into lost money, so a **live** account whose key can
is refused at start (one line), unless `allow_transfer_permission = true` says the trader accepts
that. Only Binance (`GET /sapi/v1/account/apiRestrictions`) and Bybit (`GET /v5/user/query-api`)
let a key read its own permissions; Aster and Hyperliquid sign with a wallet key, which can always
move that wallet's funds, so there is nothing to read (docs/exchanges.md says how to use an agent
wallet there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ccxt.async_support as ccxt

from guardbot.config import AccountConfig


@dataclass(frozen=True, slots=True)
class KeyPermissions:
    trade: bool  # may place and cancel futures orders
    withdraw: bool  # may send funds off the exchange
    transfer: bool  # may move funds to another account or wallet (internal, universal, sub-account)
    source: str  # the venue's own names for what it may do, for the one line


def from_binance(body: dict[str, Any]) -> KeyPermissions:
    """From Binance's `GET /sapi/v1/account/apiRestrictions` (fields as its wallet API documents)."""
    granted = [
        k for k in ("enableWithdrawals", "enableInternalTransfer", "permitsUniversalTransfer") if body.get(k)
    ]
    return KeyPermissions(
        trade=bool(body.get("enableFutures")),
        withdraw=bool(body.get("enableWithdrawals")),
        transfer=bool(body.get("enableInternalTransfer") or body.get("permitsUniversalTransfer")),
        source=", ".join(granted),
    )


def from_bybit(result: dict[str, Any]) -> KeyPermissions:
    """From Bybit's `GET /v5/user/query-api` result: `readOnly` and the `permissions` lists."""
    perms = result.get("permissions") or {}
    wallet = [str(p) for p in perms.get("Wallet") or []]
    contract = [str(p) for p in perms.get("ContractTrade") or []]
    return KeyPermissions(
        trade=str(result.get("readOnly")) == "0" and "Order" in contract,
        withdraw="Withdraw" in wallet,
        transfer=any(p != "Withdraw" for p in wallet),
        source=", ".join(f"Wallet.{p}" for p in wallet),
    )


async def read_key_permissions(client: ccxt.Exchange) -> KeyPermissions | None:
    """The key's permissions, or None where the venue has no such read. Raises ccxt errors."""
    if client.id == "binanceusdm":
        return from_binance(await client.sapiGetAccountApiRestrictions())
    if client.id == "bybit":
        reply = await client.privateGetV5UserQueryApi()
        return from_bybit(reply.get("result") or {})
    return None


def permission_problems(account: AccountConfig, perms: KeyPermissions) -> list[str]:
    """One line per thing about the key that must change before guarding this account."""
    out = []
    if (
        account.environment == "live"
        and (perms.withdraw or perms.transfer)
        and not account.allow_transfer_permission
    ):
        out.append(
            f"{account.name}: the API key can move funds ({perms.source}); guardbot needs only reading "
            "and futures trading: create a key without withdrawal or transfer permission, "
            "or set allow_transfer_permission = true to accept the risk"
        )
    if not account.dry_run and not perms.trade:
        out.append(
            f"{account.name}: the API key cannot trade futures, so no stop could be placed: "
            "enable futures trading on the key, or set dry_run = true to only watch"
        )
    return out
