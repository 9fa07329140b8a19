"""The settings schema: one pydantic model per section of the file, each field with its default.

`Settings` is the whole file; `load_settings` (guardbot.config.loading) fills it from the file and the
environment. config.example.toml documents every field here (a test keeps them in step).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from guardbot.config.account import AccountConfig
from guardbot.config.fields import (
    STRICT,
    EnvVarName,
    NonEmptyStr,
    Pct,
    Positive,
    Problem,
    Url,
    num,
    ordered,
    raise_rules,
)
from guardbot.config.metrics import MetricsConfig
from guardbot.config.secrets import file_var, resolve_secret
from guardbot.config.storage import StorageConfig
from guardbot.config.strategies import EntriesConfig, StrategyConfig, strategy_problems
from guardbot.config.stream import stream_problems
from guardbot.errors import ConfigError
from guardbot.request_budget import budget_line

ENV_PREFIX = "GUARDBOT_"
NESTING = "__"
NONE_STR = "null"  # GUARDBOT_RISK__RISK_PER_TRADE_PCT=null clears an optional value

ReduceReason = Literal["unprotected", "correlated", "maintenance"]
_REDUCE_ORDER: tuple[ReduceReason, ...] = ("unprotected", "correlated", "maintenance")

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_TIMEFRAME = re.compile(r"^[1-9][0-9]*[smhdwM]$")


class _Section(BaseModel):
    model_config = STRICT


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
        raise_rules(problems)
        return self


Policy = Literal["alert", "protect", "reduce"]


class ActionsConfig(_Section):
    """How hard each rule may act: "alert" (say it), "protect" (stops only), "reduce" (cut too).
    Conservative by default: stops are placed, caps and drawdown cuts only alerted, and only the
    two emergencies (margin ratio, liquidation distance) cut positions."""

    stop: Policy = "protect"
    margin_ratio: Policy = "reduce"
    liquidation: Policy = "reduce"
    drawdown: Policy = "alert"
    leverage: Policy = "alert"
    symbol_cap: Policy = "alert"
    cluster_cap: Policy = "alert"
    sector_cap: Policy = "alert"
    net_beta: Policy = "alert"


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
    flatten_cancels: Literal["all", "guardbot"] = "all"
    leverage_warn: Positive = 5.0
    leverage_hard: Positive = 8.0
    max_symbol_notional_pct: Positive = 200.0
    reduce_priority: list[ReduceReason] = Field(default_factory=lambda: list(_REDUCE_ORDER), min_length=1)
    dust_notional: Annotated[float, Field(ge=0)] = 10.0
    actions: ActionsConfig = Field(default_factory=ActionsConfig)

    @field_validator("reduce_priority")
    @classmethod
    def _unique(cls, value: list[ReduceReason]) -> list[ReduceReason]:
        if len(set(value)) != len(value):
            raise ValueError("must not list the same reason twice")
        return value

    @model_validator(mode="after")
    def _rules(self) -> GuardConfig:
        problems = [
            *ordered(
                self,
                ("drawdown_halt_pct", "drawdown_reduce_pct", "drawdown_flatten_pct"),
                "drawdown levels must rise: halt < reduce < flatten",
            ),
            *ordered(
                self,
                ("margin_ratio_warn", "margin_ratio_reduce", "margin_ratio_flatten"),
                "margin-ratio levels must rise: warn < reduce < flatten",
            ),
            *ordered(
                self,
                ("margin_ratio_target", "margin_ratio_reduce"),
                "a reduction must bring the margin ratio below the level that triggered it",
            ),
            *ordered(
                self, ("leverage_warn", "leverage_hard"), "the soft limit must come before the hard one"
            ),
        ]
        if self.liquidation_reduce_pct >= self.liquidation_warn_pct:
            problems.append(
                (
                    ("liquidation_reduce_pct",),
                    f"must be less than liquidation_warn_pct ({num(self.liquidation_warn_pct)}); "
                    "the reduce level sits closer to liquidation than the warning level",
                    self.liquidation_reduce_pct,
                    (("liquidation_warn_pct",),),
                )
            )
        raise_rules(problems)
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
            raise_rules(
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
        secret, problem = resolve_secret(self.bot_token_env, env, "telegram.bot_token_env")
        if problem and (self.enabled or self.bot_token_env in env or file_var(self.bot_token_env) in env):
            raise ConfigError([problem])
        return secret


class ScheduleConfig(_Section):
    interval_s: Positive = 10.0
    tier_refresh_hours: Positive = 24
    ohlcv_refresh_minutes: Positive = 60


class Settings(BaseSettings):
    """The whole configuration. `load_settings` reads the file and the environment; constructing
    `Settings(...)` directly uses only the given values and the defaults (handy in tests)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=NESTING,
        env_parse_none_str=NONE_STR,
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
    entries: EntriesConfig = Field(default_factory=EntriesConfig)
    strategies: list[StrategyConfig] = []
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)

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
        # a proxy forwards to the venue, so only the emulator on loopback is exempt
        for exchange in dict.fromkeys(a.exchange for a in self.accounts if a.held_to_venue_budget):
            line = budget_line(exchange, self.schedule.interval_s)
            if line is not None:
                problems.append((("schedule", "interval_s"), line, self.schedule.interval_s, ()))
        problems += strategy_problems(self.strategies, set(seen))
        problems += stream_problems(self.accounts)
        raise_rules(problems)
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
