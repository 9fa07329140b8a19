"""Settings of the entry path: `[entries]` (checks every new trade goes through, whoever proposed it)
and `[[strategies]]` (trade-intent plug-ins, the webhook, and which accounts they trade).

A strategy's own `parameters` are validated by its parameters model when the daemon starts (a
strategy that cannot load is one error line and the guard runs without it), not here.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from guardbot.config.fields import NonEmptyStr, Problem

_MODULE = re.compile(r"^[a-z_][a-z0-9_]*$")
_SCHEDULE = re.compile(r"^(bar|[1-9][0-9]*[smhd])$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class EntriesConfig(_Section):
    confirm_tolerance_pct: Annotated[float, Field(gt=0, lt=100)] = 2.0
    max_risk_pct: Annotated[float, Field(gt=0, le=100)] = 2.0


class StrategyConfig(_Section):
    name: str
    path: NonEmptyStr | None = None
    accounts: Annotated[list[NonEmptyStr], Field(min_length=1)]
    schedule: str = "bar"
    enabled: bool = True
    parameters: dict[str, Any] = {}

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _MODULE.fullmatch(value):
            raise ValueError(
                'must be a module name: lowercase letters, digits and "_" (e.g. "donchian_breakout")'
            )
        return value

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, value: str) -> str:
        if not _SCHEDULE.fullmatch(value):
            raise ValueError(
                'must be "bar" (each close of the strategy\'s timeframe) or a period like "30s", "15m"'
            )
        return value


def strategy_problems(strategies: list[StrategyConfig], accounts: set[str]) -> list[Problem]:
    """Each strategy trades configured accounts, and appears once (its pause is kept by name)."""
    problems: list[Problem] = []
    names: dict[str, int] = {}
    known = ", ".join(sorted(accounts)) or "none configured"
    for i, strategy in enumerate(strategies):
        if strategy.name in names:
            problems.append(
                (
                    ("strategies", i, "name"),
                    f"duplicate strategy name; strategies[{names[strategy.name]}] already uses it",
                    strategy.name,
                    (),
                )
            )
        names.setdefault(strategy.name, i)
        for j, account in enumerate(strategy.accounts):
            if account not in accounts:
                problems.append(
                    (("strategies", i, "accounts", j), f"no such account (known: {known})", account, ())
                )
    return problems
