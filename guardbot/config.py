"""Settings: a TOML file overridden by GUARDBOT_* environment variables, validated up front.

The file is chosen as: explicit path (``--config``), else ``$GUARDBOT_CONFIG``, else ``./guardbot.toml``
(only that last one may be absent: then the defaults apply, with no accounts). Environment variables
``GUARDBOT_<SECTION>__<KEY>`` override single keys and keep the file's siblings.

Secrets never live in the file or in these models: the file names the environment variables that hold
them (``api_key_env = "BINANCE_MAIN_KEY"``), and they are resolved on demand into ``SecretStr`` values
(``NAME``, or the file named by ``NAME_FILE``, for Docker/Kubernetes secrets).

Every problem is reported at once, one line each:
``<file or env var>: <dotted.path>: <message> (got <value>)``.
"""

from __future__ import annotations

import difflib
import itertools
import json
import os
import re
import tomllib
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)
from pydantic_settings.sources.utils import parse_env_vars

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_FILE",
    "ENV_PREFIX",
    "MASKED",
    "UNSET",
    "AccountConfig",
    "ConfigError",
    "Credentials",
    "Environment",
    "Exchange",
    "GuardConfig",
    "RiskConfig",
    "ScheduleConfig",
    "Settings",
    "StorageConfig",
    "TelegramConfig",
    "effective_config",
    "load_settings",
    "render_effective_config",
]

ENV_PREFIX = "GUARDBOT_"
CONFIG_ENV = "GUARDBOT_CONFIG"
DEFAULT_CONFIG_FILE = "guardbot.toml"
_NESTING = "__"
_NONE_STR = "null"  # GUARDBOT_RISK__RISK_PER_TRADE_PCT=null clears an optional value
MASKED = "**********"
UNSET = "(unset)"
_RULES_ERROR = "guardbot_rules"

Exchange = Literal["binanceusdm", "aster", "bybit", "hyperliquid"]
Environment = Literal["live", "testnet", "demo"]
ReduceReason = Literal["unprotected", "correlated", "maintenance"]
_REDUCE_ORDER: tuple[ReduceReason, ...] = ("unprotected", "correlated", "maintenance")


class ConfigError(Exception):
    """Bad configuration. ``problems`` holds one line per problem; ``str()`` joins them."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: list[str] = list(problems)
        super().__init__("\n".join(self.problems))

    def __str__(self) -> str:
        return "\n".join(self.problems)


# --------------------------------------------------------------------------- field types

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ACCOUNT_NAME = re.compile(r"^[a-z0-9_-]+$")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_TIMEFRAME = re.compile(r"^[1-9][0-9]*[smhdwM]$")
_WALLET = re.compile(r"^0x[0-9a-fA-F]{40}$")


def _env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        # Do not echo the value: a secret pasted here by mistake must not reach the terminal.
        raise ValueError(
            "must be the NAME of an environment variable (letters, digits and _), not the secret itself"
        )
    return value


def _url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError('must be an http:// or https:// URL, e.g. "http://127.0.0.1:8765"')
    return value.rstrip("/")


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


EnvVarName = Annotated[str, AfterValidator(_env_name)]
Url = Annotated[str, AfterValidator(_url)]
NonEmptyStr = Annotated[str, AfterValidator(_non_empty)]
Pct = Annotated[float, Field(gt=0, lt=100)]  # a percentage strictly between 0 and 100
Positive = Annotated[float, Field(gt=0)]


class _Section(BaseModel):
    # extra="forbid" on every model: a typo anywhere in the file is an error, not a silent default.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


Problem = tuple[tuple[str | int, ...], str, Any, tuple[tuple[str | int, ...], ...]]
"""(location relative to the model, message, offending value, other locations involved)."""


def _raise_rules(problems: list[Problem]) -> None:
    """Raise one pydantic error carrying several field-level problems; `_format_errors` expands it."""
    if problems:
        summary = "; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg, _, _ in problems)
        raise PydanticCustomError(_RULES_ERROR, "{summary}", {"summary": summary, "problems": problems})


def _ordered(model: BaseModel, names: Sequence[str], what: str) -> list[Problem]:
    """Each level must be strictly below the next one."""
    out: list[Problem] = []
    for low, high in itertools.pairwise(names):
        lo, hi = getattr(model, low), getattr(model, high)
        if lo >= hi:
            out.append(((low,), f"must be less than {high} ({_num(hi)}); {what}", lo, ((high,),)))
    return out


# --------------------------------------------------------------------------- models


@dataclass(frozen=True, slots=True)
class Credentials:
    """Resolved secrets of one account. SecretStr keeps them out of repr, logs and JSON."""

    api_key: SecretStr | None = None
    secret: SecretStr | None = None
    password: SecretStr | None = None
    private_key: SecretStr | None = None
    wallet_address: str | None = None

    def as_ccxt(self) -> dict[str, str]:
        """The plain-text options ccxt expects (apiKey, secret, password, privateKey, walletAddress).
        Hand the result straight to the client; never log it."""
        pairs = {
            "apiKey": self.api_key,
            "secret": self.secret,
            "password": self.password,
            "privateKey": self.private_key,
        }
        out = {k: v.get_secret_value() for k, v in pairs.items() if v is not None}
        if self.wallet_address is not None:
            out["walletAddress"] = self.wallet_address
        return out


# Which credentials each venue needs to *read* an account (and, for Hyperliquid, to trade).
_NEEDED: dict[str, tuple[str, ...]] = {
    "binanceusdm": ("api_key_env", "api_secret_env"),
    "bybit": ("api_key_env", "api_secret_env"),
    "aster": ("private_key_env", "wallet_address"),  # EIP-712 signing; key/secret are not supported
    "hyperliquid": ("wallet_address",),
}
_SECRET_ENV_FIELDS = {  # *_env field -> Credentials attribute
    "api_key_env": "api_key",
    "api_secret_env": "secret",
    "password_env": "password",
    "private_key_env": "private_key",
}


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
    settle_currency: NonEmptyStr = "USDT"
    symbols: list[NonEmptyStr] = []

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

    def credentials(self, environ: Mapping[str, str] | None = None) -> Credentials:
        """Resolve this account's secrets from `environ` (default: the process environment).

        Raises ConfigError naming each variable that is missing or unreadable, and each credential the
        exchange needs that is not configured at all.
        """
        env = os.environ if environ is None else environ
        where = f"accounts[{self.name}]"
        problems: list[str] = []
        needed = list(_NEEDED[self.exchange])
        if self.exchange == "hyperliquid" and not self.dry_run:
            needed.append("private_key_env")  # reading needs only the address; trading signs
        for key in needed:
            if getattr(self, key) is None:
                what = key.removesuffix("_env").replace("_", " ")
                hint = f'set {key} = "NAME" and export NAME' if key.endswith("_env") else f'set {key} = "0x…"'
                problems.append(f"{where}.{key}: {self.exchange} needs the {what}; {hint}")
        values: dict[str, SecretStr | None] = {}
        for key, attr in _SECRET_ENV_FIELDS.items():
            name = getattr(self, key)
            values[attr] = None
            if name is not None:
                secret, problem = _resolve_secret(name, env, f"{where}.{key}")
                values[attr] = secret
                if problem:
                    problems.append(problem)
        if problems:
            raise ConfigError(problems)
        return Credentials(wallet_address=self.wallet_address, **values)


class RiskConfig(_Section):
    risk_per_trade: Positive | None = None
    risk_per_trade_pct: Annotated[float, Field(gt=0, le=100)] | None = 1.0
    max_leverage: Positive = 5.0
    default_leverage: Positive = 5.0
    max_position_pct: Positive = 150.0
    taker_fee: float | None = None
    slippage_pct: Annotated[float, Field(ge=0, lt=100)] = 0.05
    benchmark: NonEmptyStr = "BTC/USDT:USDT"
    correlation_lookback: Annotated[int, Field(ge=2)] = 500
    correlation_timeframe: str = "1h"
    cluster_threshold: Annotated[float, Field(gt=0, le=1)] = 0.8
    max_cluster_pct: Positive = 300.0
    max_net_beta_pct: Positive = 400.0
    sectors: dict[str, list[NonEmptyStr]] = {}
    sector_caps: dict[str, Positive] = {}

    @model_validator(mode="before")
    @classmethod
    def _amount_replaces_pct(cls, data: Any) -> Any:
        # A fixed amount given without a percentage replaces the default percentage, so only one is used.
        if (
            isinstance(data, dict)
            and data.get("risk_per_trade") is not None
            and "risk_per_trade_pct" not in data
        ):
            return {**data, "risk_per_trade_pct": None}
        return data

    @field_validator("taker_fee")
    @classmethod
    def _check_fee(cls, value: float | None) -> float | None:
        # A fraction: 0.05 here would be a 5 % fee, almost surely a percentage typed by mistake.
        if value is not None and not 0 <= value < 0.01:
            raise ValueError("must be a fraction from 0 to 0.01 (0.0005 means 0.05 %)")
        return value

    @field_validator("correlation_timeframe")
    @classmethod
    def _check_timeframe(cls, value: str) -> str:
        if not _TIMEFRAME.fullmatch(value):
            raise ValueError('must be a ccxt timeframe such as "15m", "1h", "4h" or "1d"')
        return value

    @model_validator(mode="after")
    def _rules(self) -> RiskConfig:
        problems: list[Problem] = []
        if self.risk_per_trade is not None and self.risk_per_trade_pct is not None:
            problems.append(
                (
                    ("risk_per_trade",),
                    "set either risk_per_trade (an amount) or risk_per_trade_pct (% of equity), not both",
                    self.risk_per_trade,
                    (("risk_per_trade_pct",),),
                )
            )
        if self.risk_per_trade is None and self.risk_per_trade_pct is None:
            problems.append(
                (
                    ("risk_per_trade_pct",),
                    "set risk_per_trade or risk_per_trade_pct",
                    None,
                    (("risk_per_trade",),),
                )
            )
        known = ", ".join(sorted(self.sectors)) or "none defined"
        for sector in self.sector_caps:
            if sector not in self.sectors:
                problems.append(
                    (("sector_caps", sector), f"no such sector in risk.sectors (known: {known})", sector, ())
                )
        _raise_rules(problems)
        return self


class GuardConfig(_Section):
    drawdown_halt_pct: Pct = 10.0
    drawdown_reduce_pct: Pct = 15.0
    drawdown_flatten_pct: Pct = 20.0
    drawdown_reduce_fraction: Annotated[float, Field(gt=0, le=1)] = 0.5
    daily_loss_halt_pct: Pct = 5.0
    day_reset_hour_utc: Annotated[int, Field(ge=0, le=23)] = 0
    margin_ratio_warn: Annotated[float, Field(gt=0, lt=1)] = 0.5
    margin_ratio_reduce: Annotated[float, Field(gt=0, lt=1)] = 0.7
    margin_ratio_flatten: Annotated[float, Field(gt=0, lt=1)] = 0.9
    margin_ratio_target: Annotated[float, Field(gt=0, lt=1)] = 0.4
    liquidation_warn_pct: Pct = 15.0
    liquidation_reduce_pct: Pct = 7.5
    stop_buffer_pct: Annotated[float, Field(ge=0, lt=100)] = 1.0
    default_stop_pct: Pct = 5.0
    new_position_grace_s: Annotated[int, Field(ge=0)] = 60
    confirm_readings: Annotated[int, Field(ge=1)] = 2
    resume_cooldown_minutes: Annotated[int, Field(ge=0)] = 60
    blind_after_failures: Annotated[int, Field(ge=1)] = 3
    max_snapshot_age_s: Positive = 60
    halted_manual_position_policy: Literal["alert", "close"] = "alert"
    leverage_warn: Positive = 5.0
    leverage_hard: Positive = 8.0
    max_symbol_notional_pct: Positive = 200.0
    reduce_priority: list[ReduceReason] = Field(default_factory=lambda: list(_REDUCE_ORDER), min_length=1)
    dust_notional: Annotated[float, Field(ge=0)] = 10.0

    @field_validator("reduce_priority")
    @classmethod
    def _unique(cls, value: list[ReduceReason]) -> list[ReduceReason]:
        if len(set(value)) != len(value):
            raise ValueError("must not list the same reason twice")
        return value

    @model_validator(mode="after")
    def _rules(self) -> GuardConfig:
        problems = [
            *_ordered(
                self,
                ("drawdown_halt_pct", "drawdown_reduce_pct", "drawdown_flatten_pct"),
                "drawdown levels must rise: halt < reduce < flatten",
            ),
            *_ordered(
                self,
                ("margin_ratio_warn", "margin_ratio_reduce", "margin_ratio_flatten"),
                "margin-ratio levels must rise: warn < reduce < flatten",
            ),
            *_ordered(
                self,
                ("margin_ratio_target", "margin_ratio_reduce"),
                "a reduction must bring the margin ratio below the level that triggered it",
            ),
            *_ordered(
                self, ("leverage_warn", "leverage_hard"), "the soft limit must come before the hard one"
            ),
        ]
        if self.liquidation_reduce_pct >= self.liquidation_warn_pct:
            problems.append(
                (
                    ("liquidation_reduce_pct",),
                    f"must be less than liquidation_warn_pct ({_num(self.liquidation_warn_pct)}); "
                    "the reduce level sits closer to liquidation than the warning level",
                    self.liquidation_reduce_pct,
                    (("liquidation_warn_pct",),),
                )
            )
        _raise_rules(problems)
        return self


class TelegramConfig(_Section):
    enabled: bool = False
    bot_token_env: EnvVarName = "GUARDBOT_TELEGRAM_TOKEN"
    chat_ids: list[int] = []
    critical_chat_id: int | None = None
    allowed_user_ids: list[int] = []
    api_base_url: Url | None = None
    digest_time_utc: str = "08:00"
    heartbeat_minutes: Annotated[int, Field(gt=0)] = 360
    confirm_timeout_s: Annotated[int, Field(gt=0)] = 60

    @field_validator("digest_time_utc")
    @classmethod
    def _check_hhmm(cls, value: str) -> str:
        if not _HHMM.fullmatch(value):
            raise ValueError('must be a UTC time written HH:MM, e.g. "08:00"')
        return value

    @model_validator(mode="after")
    def _rules(self) -> TelegramConfig:
        if self.enabled and not self.chat_ids:
            _raise_rules(
                [(("chat_ids",), "needs at least one chat id when enabled = true", [], (("enabled",),))]
            )
        return self

    @property
    def digest_time(self) -> time:
        hour, minute = self.digest_time_utc.split(":")
        return time(int(hour), int(minute))

    def bot_token(self, environ: Mapping[str, str] | None = None) -> SecretStr | None:
        """The bot token from the variable named by bot_token_env (or its *_FILE).
        Missing is an error only when Telegram is enabled; otherwise it gives None."""
        env = os.environ if environ is None else environ
        secret, problem = _resolve_secret(self.bot_token_env, env, "telegram.bot_token_env")
        if problem and (self.enabled or self.bot_token_env in env or _file_var(self.bot_token_env) in env):
            raise ConfigError([problem])
        return secret


class StorageConfig(_Section):
    path: NonEmptyStr = "guardbot.db"
    snapshot_retention_days: Annotated[int, Field(gt=0)] = 30


class ScheduleConfig(_Section):
    interval_s: Positive = 10.0
    tier_refresh_hours: Positive = 24
    ohlcv_refresh_minutes: Positive = 60


class Settings(BaseSettings):
    """The whole configuration. `load_settings` reads the file and the environment; constructing
    `Settings(...)` directly uses only the given values and the defaults (handy in tests)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=_NESTING,
        env_parse_none_str=_NONE_STR,
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
    )

    accounts: list[AccountConfig] = []
    risk: RiskConfig = Field(default_factory=RiskConfig)
    guard: GuardConfig = Field(default_factory=GuardConfig)
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)

    _source: Path | None = PrivateAttr(default=None)
    _environ: Mapping[str, str] | None = PrivateAttr(default=None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings merges the file and the environment itself (it must know where each value
        # came from to name it in errors), then validates the result through here.
        return (init_settings,)

    @model_validator(mode="after")
    def _rules(self) -> Settings:
        seen: dict[str, int] = {}
        problems: list[Problem] = []
        for i, account in enumerate(self.accounts):
            if account.name in seen:
                problems.append(
                    (
                        ("accounts", i, "name"),
                        f"duplicate account name; accounts[{seen[account.name]}] already uses it",
                        account.name,
                        (),
                    )
                )
            seen.setdefault(account.name, i)
        _raise_rules(problems)
        return self

    @property
    def source(self) -> Path | None:
        """The config file that was loaded, or None when only defaults and the environment apply."""
        return self._source

    @property
    def environ(self) -> Mapping[str, str]:
        """The environment the settings were loaded from (os.environ unless `load_settings` got one);
        pass it to `AccountConfig.credentials` and `TelegramConfig.bot_token`."""
        return os.environ if self._environ is None else self._environ

    def account(self, name: str) -> AccountConfig:
        for account in self.accounts:
            if account.name == name:
                return account
        known = ", ".join(a.name for a in self.accounts)
        raise ConfigError(
            [
                f"unknown account {name!r}; known accounts: {known}"
                if known
                else f"unknown account {name!r}; "
                "no accounts are configured (add an [[accounts]] table to the config file)"
            ]
        )


# --------------------------------------------------------------------------- secrets


def _file_var(name: str) -> str:
    return f"{name}_FILE"


def _resolve_secret(name: str, environ: Mapping[str, str], field: str) -> tuple[SecretStr | None, str | None]:
    """(secret, problem). NAME wins over NAME_FILE; the file's trailing newline is dropped."""
    value = environ.get(name)
    if value is not None:
        if value == "":
            return None, f"{name}: is set but empty ({field} names it)"
        return SecretStr(value), None
    file_var = _file_var(name)
    file_path = environ.get(file_var)
    if file_path is None:
        return None, (
            f"{name}: environment variable is not set ({field} names it); "
            f"export it, or set {file_var} to a file holding it"
        )
    try:
        text = Path(file_path).read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        return None, f"{file_var}: cannot read {file_path}: {reason}"
    if not text:
        return None, f"{file_var}: {file_path} is empty"
    return SecretStr(text), None


# Keys that would hold a secret in the file, and the *_env key to use instead.
_SECRET_KEYS = {
    "api_key": "api_key_env",
    "apikey": "api_key_env",
    "api_secret": "api_secret_env",
    "secret": "api_secret_env",
    "secret_key": "api_secret_env",
    "password": "password_env",
    "passphrase": "password_env",
    "private_key": "private_key_env",
    "privatekey": "private_key_env",
    "bot_token": "bot_token_env",
    "token": "bot_token_env",
}


def _take_secrets(data: Any, loc: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Remove secret-looking keys from the raw data in place; yield (location, *_env key to use).
    Keys of user tables (risk.sectors, risk.sector_caps) are names, not settings, and are left alone."""
    if isinstance(data, dict):
        if get_origin(_unwrap(_annotation_at(loc))) is dict:
            return
        for key in list(data):
            if isinstance(key, str) and key.lower() in _SECRET_KEYS:
                del data[key]
                yield (*loc, key), _SECRET_KEYS[key.lower()]
            else:
                yield from _take_secrets(data[key], (*loc, key))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from _take_secrets(item, (*loc, i))


# --------------------------------------------------------------------------- loading


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping instead of os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._mapping = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._mapping, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


Loc = tuple[str | int, ...]


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated[...] and Optional[...]."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _annotation_at(path: Sequence[str | int]) -> Any:
    """The type at a location inside Settings (list indices and dict keys allowed), or None."""
    annotation: Any = Settings
    for part in path:
        annotation = _unwrap(annotation)
        origin = get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part).lower())
            if field is None:
                return None
            annotation = field.annotation
        elif origin is list and (isinstance(part, int) or str(part).isdigit()):
            annotation = get_args(annotation)[0]
        elif origin is dict:
            annotation = get_args(annotation)[1]
        else:
            return None
    return annotation


def _is_complex(annotation: Any) -> bool:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return get_origin(annotation) in (list, dict)


@dataclass(frozen=True, slots=True)
class _EnvVars:
    """GUARDBOT_* variables by their lower-cased path below the prefix, e.g. ("risk", "max_leverage")."""

    by_path: dict[tuple[str, ...], str]

    @classmethod
    def scan(cls, environ: Mapping[str, str]) -> _EnvVars:
        prefix = ENV_PREFIX.lower()
        return cls(
            {
                tuple(key.lower()[len(prefix) :].split(_NESTING)): key
                for key in environ
                if key.lower().startswith(prefix) and key.upper() != CONFIG_ENV
            }
        )

    def origin(self, locs: Sequence[Loc]) -> tuple[str, bool] | None:
        """(variable names, exact) for the first location set from the environment, else None.
        `exact` means the variable sets exactly that location (no dotted path needed)."""
        for loc in locs:
            key = tuple(str(part).lower() for part in loc)
            best: tuple[str, ...] | None = None
            for path in self.by_path:  # the longest variable path that contains the location
                if key[: len(path)] == path and (best is None or len(path) > len(best)):
                    best = path
            if best is not None:
                return self.by_path[best], best == key
            below = sorted(name for path, name in self.by_path.items() if path[: len(key)] == key)
            if below:
                return ", ".join(below), False
        return None


def _choose_file(path: str | Path | None, environ: Mapping[str, str]) -> tuple[Path, bool]:
    """(file, explicit). An explicit file must exist; the default one may be absent."""
    if path is not None and str(path) != "":
        return Path(path), True
    from_env = environ.get(CONFIG_ENV)
    if from_env:
        return Path(from_env), True
    return Path(DEFAULT_CONFIG_FILE), False


def _read_toml(file: Path, label: str, explicit: bool) -> dict[str, Any] | None:
    if not file.exists():
        if explicit:
            raise ConfigError([f"{label}: config file not found"])
        return None
    if file.is_dir():
        raise ConfigError([f"{label}: is a directory, expected a TOML file"])
    try:
        text = file.read_text(encoding="utf-8-sig")  # tolerate a BOM from Windows editors
    except OSError as exc:
        raise ConfigError([f"{label}: cannot read: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{label}: not a UTF-8 text file"]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{label}: invalid TOML: {exc}"]) from None


def _env_problems(environ: Mapping[str, str], env_vars: _EnvVars) -> tuple[dict[str, str], list[str]]:
    """Check GUARDBOT_* variables pydantic-settings would reject with an unhelpful message or ignore.
    Returns the environment without the bad variables, and one line per problem."""
    problems: list[str] = []
    bad: set[str] = set()
    sections = {name for name, f in Settings.model_fields.items() if _is_complex(f.annotation)}
    for path, name in env_vars.by_path.items():
        value = environ[name]
        annotation = _annotation_at(path)
        if annotation is None and len(path) == 1:
            # GUARDBOT_RISK_MAX_LEVERAGE: one underscore too few, which pydantic-settings ignores silently.
            for section in sections:
                rest = path[0].removeprefix(section + "_")
                if rest != path[0] and _annotation_at((section, rest)) is not None:
                    fix = f"{ENV_PREFIX}{section.upper()}{_NESTING}{rest.upper()}"
                    problems.append(
                        f"{name}: not a setting; did you mean {fix} (two underscores before the key)?"
                    )
        elif annotation is not None and _is_complex(annotation) and value != _NONE_STR:
            try:
                json.loads(value)
            except json.JSONDecodeError as exc:
                shape = (
                    'list, e.g. ["a", "b"]'
                    if get_origin(_unwrap(annotation)) is list
                    else 'object, e.g. {"key": 1}'
                )
                problems.append(f"{name}: must be a JSON {shape} ({exc.msg})")
                bad.add(name)
    return {k: v for k, v in environ.items() if k not in bad}, problems


def _decode_nested(data: Any, path: tuple[str, ...] = ()) -> Any:
    """JSON-decode values pydantic-settings left as text because they sit below a list index
    (GUARDBOT_ACCOUNTS__0__SYMBOLS='["BTC/USDT:USDT"]')."""
    if isinstance(data, dict):
        return {k: _decode_nested(v, (*path, k)) for k, v in data.items()}
    if isinstance(data, str) and _is_complex(_annotation_at(path)):
        try:
            return json.loads(data)
        except json.JSONDecodeError:
            return data  # pydantic reports it
    return data


def _merge(base: Any, over: Any, loc: Loc, env_vars: _EnvVars, problems: list[str]) -> Any:
    """Deep-merge environment values over file values. A dict of digit keys over a list overrides
    single items: GUARDBOT_ACCOUNTS__0__DRY_RUN=false."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge(base.get(key), value, (*loc, key), env_vars, problems)
        return out
    index_keys = isinstance(over, dict) and over and all(isinstance(k, str) and k.isdigit() for k in over)
    if index_keys and get_origin(_unwrap(_annotation_at(loc))) is list:
        items = list(base) if isinstance(base, list) else []
        for key, value in over.items():
            index = int(key)
            if index >= len(items):
                origin = env_vars.origin([(*loc, key)])
                names = origin[0] if origin else ENV_PREFIX + "…"
                problems.append(
                    f"{names}: there is no {_dotted(loc)}[{index}] to override "
                    f"(the config file defines {len(items)}); set "
                    f"{ENV_PREFIX}{_NESTING.join(map(str, loc)).upper()} to a JSON list instead"
                )
                continue
            items[index] = _merge(items[index], value, (*loc, index), env_vars, problems)
        return items
    return over


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Load and validate the configuration. Raises ConfigError listing every problem found.

    `path` is the --config argument; `environ` defaults to os.environ and is the only environment read
    (for GUARDBOT_CONFIG and the GUARDBOT_* overrides).
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    file, explicit = _choose_file(path, env)
    label = str(file)
    data = _read_toml(file, label, explicit)
    file_data: dict[str, Any] = {} if data is None else data

    env_vars = _EnvVars.scan(env)
    clean_env, problems = _env_problems(env, env_vars)
    try:
        env_data = _decode_nested(_MappingEnvSource(Settings, clean_env)())
    except SettingsError as exc:  # a case _env_problems did not foresee; still one line, no traceback
        raise ConfigError([*problems, f"environment: {exc}"]) from None

    for loc, env_key in _take_secrets(file_data):
        problems.append(
            f"{label}: {_dotted(loc)}: secrets are not read from the config file; "
            f'set {env_key} = "NAME" and export NAME'
        )
    for loc, env_key in _take_secrets(env_data):
        origin = env_vars.origin([loc])
        problems.append(
            f"{origin[0] if origin else 'environment'}: secrets are not read from {ENV_PREFIX}* settings; "
            f"put it in the variable named by {_dotted((*loc[:-1], env_key))} and export that"
        )

    merged = _merge(file_data, env_data, (), env_vars, problems)
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        problems.extend(_format_errors(exc, label if data is not None else "settings", env_vars))
    if problems or settings is None:
        raise ConfigError(problems)
    settings._source = file.absolute() if data is not None else None
    settings._environ = env
    return settings


# --------------------------------------------------------------------------- error lines


def _dotted(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else json.dumps(part)
            out += f".{text}" if out else text
    return out


def _num(value: Any) -> str:
    """0.0 -> "0", 0.5 -> "0.5": bounds read as a person would write them."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _show(value: Any, raw: bool) -> str:
    if raw and isinstance(value, str):
        return value if value else '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return _num(value)
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


_HIDE_VALUE = {"missing", "extra_forbidden", "model_type", "model_attributes_type", "dict_type"}


def _message(error: Any, loc: Loc) -> str:
    kind: str = error["type"]
    ctx: dict[str, Any] = error.get("ctx") or {}
    simple = {
        "missing": "is required",
        "finite_number": "must be a finite number",
        "float_parsing": "must be a number",
        "float_type": "must be a number",
        "int_parsing": "must be a whole number",
        "int_type": "must be a whole number",
        "int_from_float": "must be a whole number",
        "bool_parsing": "must be true or false",
        "bool_type": "must be true or false",
        "string_type": "must be a string (in quotes)",
        "dict_type": "must be a table",
        "model_type": "must be a table",
        "model_attributes_type": "must be a table",
    }
    if kind in simple:
        return simple[kind]
    if kind == "greater_than":
        return f"must be greater than {_num(ctx['gt'])}"
    if kind == "greater_than_equal":
        return f"must be at least {_num(ctx['ge'])}"
    if kind == "less_than":
        return f"must be less than {_num(ctx['lt'])}"
    if kind == "less_than_equal":
        return f"must be at most {_num(ctx['le'])}"
    if kind == "too_short":
        count = ctx.get("min_length", 1)
        return "must not be empty" if count == 1 else f"must have at least {count} items"
    if kind == "literal_error":
        return "must be one of " + str(ctx.get("expected", "")).replace("'", '"')
    if kind == "list_type":
        return (
            "must be a list of tables; write one [[accounts]] table per account"
            if loc == ("accounts",)
            else ("must be a list")
        )
    if kind == "extra_forbidden":
        parent = _annotation_at(loc[:-1])
        names: list[str] = []
        if isinstance(parent, type) and issubclass(parent, BaseModel):
            names = list(parent.model_fields)
        close = difflib.get_close_matches(str(loc[-1]), names, n=1)
        if close:
            return f'unknown key; did you mean "{close[0]}"?'
        return "unknown key" + (f"; expected one of: {', '.join(names)}" if 0 < len(names) <= 8 else "")
    message: str = error["msg"]
    message = message.removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def _format_errors(exc: ValidationError, label: str, env_vars: _EnvVars) -> list[str]:
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        loc: Loc = tuple(error["loc"])
        if error["type"] == _RULES_ERROR:
            for sub_loc, message, value, related in error["ctx"]["problems"]:
                full = (*loc, *sub_loc)
                lines.append(
                    _line(label, env_vars, full, message, value, True, [full, *((*loc, *r) for r in related)])
                )
            continue
        shown = error["type"] not in _HIDE_VALUE and not str(loc[-1] if loc else "").endswith("_env")
        lines.append(_line(label, env_vars, loc, _message(error, loc), error.get("input"), shown, [loc]))
    return lines


def _line(
    label: str, env_vars: _EnvVars, loc: Loc, message: str, value: Any, shown: bool, locs: Sequence[Loc]
) -> str:
    """One problem line, naming the environment variable when the value (or a related one) came from it."""
    own = env_vars.origin([loc])
    related = None if own else env_vars.origin(locs)
    if own is not None:
        head = own[0] if own[1] else f"{own[0]}: {_dotted(loc)}"
    elif related is not None:
        head = f"{related[0]}: {_dotted(loc)}"
    else:
        head = f"{label}: {_dotted(loc)}"
    got = f" (got {_show(value, raw=own is not None)})" if shown else ""
    return f"{head}: {message}{got}"


# --------------------------------------------------------------------------- effective config

_STATUS_KEYS = {  # *_env field -> key showing whether its secret is present
    "api_key_env": "api_key",
    "api_secret_env": "api_secret",
    "password_env": "password",
    "private_key_env": "private_key",
    "bot_token_env": "bot_token",
}


def _secret_status(name: str | None, environ: Mapping[str, str]) -> str | None:
    if name is None:
        return None
    secret, problem = _resolve_secret(name, environ, "")
    if secret is not None:
        return MASKED
    if environ.get(name) is not None or environ.get(_file_var(name)) is not None:
        return f"(unreadable: {problem.split(':')[0] if problem else name})"
    return UNSET


def _with_status(section: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in section.items():
        out[key] = value
        if key in _STATUS_KEYS and value is not None:
            out[_STATUS_KEYS[key]] = _secret_status(value, environ)
    return out


def effective_config(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The configuration in force, JSON-able. Secrets appear only as "**********" (present) or
    "(unset)", next to the names of the variables that hold them. `environ` defaults to the
    environment the settings were loaded from."""
    env = settings.environ if environ is None else environ
    data = settings.model_dump(mode="json")
    return {
        "source": str(settings.source) if settings.source else None,
        "accounts": [_with_status(a, env) for a in data["accounts"]],
        "risk": data["risk"],
        "guard": data["guard"],
        "telegram": _with_status(data["telegram"], env),
        "storage": data["storage"],
        "schedule": data["schedule"],
    }


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot render {type(value).__name__}")


def _toml_table(header: str, table: dict[str, Any], lines: list[str], array: bool = False) -> None:
    lines.append("")
    lines.append(f"[[{header}]]" if array else f"[{header}]")
    subtables = {k: v for k, v in table.items() if isinstance(v, dict) and v}
    secret_keys = set(_STATUS_KEYS.values())
    for key, value in table.items():
        if key in subtables:
            continue
        if key in secret_keys:
            lines.append(f"# {key} = {value}")  # a comment, so the output still loads as a config file
        elif value is None:
            lines.append(f"# {key} = (not set)")
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in subtables.items():
        _toml_table(f"{header}.{_toml_key(key)}", value, lines)


def render_effective_config(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    """`effective_config` as TOML text (it loads back as the same configuration)."""
    data = effective_config(settings, environ)
    source = data.pop("source")
    lines = [
        "# guardbot effective configuration",
        f"# source: {source}" if source else "# source: no config file (defaults and GUARDBOT_* variables)",
        "# secrets are never shown: ********** = present, (unset) = missing",
    ]
    if not data["accounts"]:
        lines += ["", "# no [[accounts]] configured"]
    for account in data.pop("accounts"):
        _toml_table("accounts", account, lines, array=True)
    for section, table in data.items():
        _toml_table(section, table, lines)
    return "\n".join(lines) + "\n"
