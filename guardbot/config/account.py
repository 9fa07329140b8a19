"""One `[[accounts]]` entry: which venue and environment, its secrets (named, never written here),
and what guardbot may do on it."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from guardbot.config.fields import STRICT, EnvVarName, NonEmptyStr, Url
from guardbot.config.secrets import NEEDED, SECRET_ENV_FIELDS, Credentials, resolve_secret
from guardbot.config.stream import StreamConfig
from guardbot.errors import ConfigError
from guardbot.request_budget import is_loopback

Exchange = Literal["binanceusdm", "aster", "bybit", "hyperliquid"]
Environment = Literal["live", "testnet", "demo"]
_ACCOUNT_NAME = re.compile(r"^[a-z0-9_-]+$")
_WALLET = re.compile(r"^0x[0-9a-fA-F]{40}$")

# The currency a venue's perpetuals settle in when an account does not name one: Hyperliquid's
# perpetuals are quoted and margined in USDC; the others' linear USDT perpetuals in USDT.
DEFAULT_SETTLE: dict[str, str] = {
    "binanceusdm": "USDT",
    "aster": "USDT",
    "bybit": "USDT",
    "hyperliquid": "USDC",
}


class _Section(BaseModel):
    model_config = STRICT


class AccountConfig(_Section):
    name: str
    exchange: Exchange
    environment: Environment = "live"
    dry_run: bool = True
    base_url: Url | None = None
    api_key_env: EnvVarName | None = None
    api_secret_env: EnvVarName | None = None
    password_env: EnvVarName | None = None
    private_key_env: EnvVarName | None = None
    wallet_address: str | None = None
    allow_transfer_permission: bool = False
    settle_currency: NonEmptyStr = "USDT"  # when not given: the venue's (DEFAULT_SETTLE)
    symbols: list[NonEmptyStr] = []
    ignore_symbols: list[NonEmptyStr] = []
    stream: StreamConfig = Field(default_factory=StreamConfig)

    @model_validator(mode="before")
    @classmethod
    def _venue_settle(cls, data: Any) -> Any:
        # settle_currency left out (or null): the currency the account's venue settles in
        if isinstance(data, dict) and data.get("settle_currency") is None:
            venue = DEFAULT_SETTLE.get(str(data.get("exchange")))
            if venue is not None:
                data = {**data, "settle_currency": venue}
        return data

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _ACCOUNT_NAME.fullmatch(value):
            raise ValueError('must be lowercase letters, digits, "_" or "-" (e.g. "main")')
        return value

    @field_validator("wallet_address")
    @classmethod
    def _check_wallet(cls, value: str | None) -> str | None:
        if value is not None and not _WALLET.fullmatch(value):
            raise ValueError('must be a 0x-prefixed address of 40 hex digits, e.g. "0x1234…abcd"')
        return value

    @property
    def held_to_venue_budget(self) -> bool:
        """Is this account throttled to, and its interval checked against, the venue's request budget?

        Yes unless `base_url` is on loopback: that is the built-in emulator (or a local test server),
        which has no budget, and throttling against Binance's limit there only blinds the guard.
        """
        return self.base_url is None or not is_loopback(self.base_url)

    def credentials(self, environ: Mapping[str, str] | None = None) -> Credentials:
        """Resolve this account's secrets from `environ` (default: the process environment).

        Raises ConfigError naming each variable that is missing or unreadable, and each credential the
        exchange needs that is not configured at all.
        """
        env = os.environ if environ is None else environ
        where = f"accounts[{self.name}]"
        problems: list[str] = []
        needed = list(NEEDED[self.exchange])
        if self.exchange == "hyperliquid" and not self.dry_run:
            needed.append("private_key_env")  # reading needs only the address; trading signs
        for key in needed:
            if getattr(self, key) is None:
                what = key.removesuffix("_env").replace("_", " ")
                hint = f'set {key} = "NAME" and export NAME' if key.endswith("_env") else f'set {key} = "0x…"'
                problems.append(f"{where}.{key}: {self.exchange} needs the {what}; {hint}")
        values: dict[str, SecretStr | None] = {}
        for key, attr in SECRET_ENV_FIELDS.items():
            name = getattr(self, key)
            values[attr] = None
            if name is not None:
                secret, problem = resolve_secret(name, env, f"{where}.{key}")
                values[attr] = secret
                if problem:
                    problems.append(problem)
        if problems:
            raise ConfigError(problems)
        return Credentials(wallet_address=self.wallet_address, **values)
