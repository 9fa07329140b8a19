"""An emulator account as each venue names it: its credentials in the guard's config, and the
account's totals as the venue itself reports them."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from guardbot.config import Credentials
from guardbot.sim.ethkeys import keccak

WALLET_VENUES = ("aster", "hyperliquid")  # accounts are Ethereum key pairs, requests EIP-712 signed


def credentials(exchange: str, api_key: str, secret: str) -> Credentials:
    """An emulator account's credentials as the guard's config gives them for its venue. A wallet
    venue's "secret" is the account's private key; any other string stands for a wrong key (a
    key derived from it, so it signs validly, as someone else)."""
    if exchange not in WALLET_VENUES:
        return Credentials(api_key=SecretStr(api_key), secret=SecretStr(secret))
    key = secret if secret.startswith("0x") and len(secret) == 66 else "0x" + keccak(secret.encode()).hex()
    return Credentials(private_key=SecretStr(key), wallet_address=api_key)


def credential_config(exchange: str, api_key: str, secret: str) -> tuple[str, dict[str, str]]:
    """TOML lines naming an account's credentials for its venue, and the environment they read."""
    if exchange in WALLET_VENUES:
        return f'private_key_env = "SIM_SECRET"\nwallet_address = "{api_key}"\n', {"SIM_SECRET": secret}
    lines = 'api_key_env = "SIM_KEY"\napi_secret_env = "SIM_SECRET"\n'
    return lines, {"SIM_KEY": api_key, "SIM_SECRET": secret}


async def account_totals(exchange: str, client: Any) -> tuple[float, float]:
    """(margin balance, maintenance margin) as the venue reports them for the account (Aster:
    its account endpoint, which ccxt's fetch_balance does not read)."""
    if exchange == "aster":
        info = await client.fapiPrivateGetV3Account()
        return float(info["totalMarginBalance"]), float(info["totalMaintMargin"])
    info = (await client.fetch_balance())["info"]
    if exchange == "hyperliquid":
        return float(info["marginSummary"]["accountValue"]), float(info["crossMaintenanceMarginUsed"])
    if exchange == "binanceusdm":
        return float(info["totalMarginBalance"]), float(info["totalMaintMargin"])
    [account] = info["result"]["list"]
    return float(account["totalMarginBalance"]), float(account["totalMaintenanceMargin"])
