"""Field types of the settings (with their one-line messages) and the rules between fields.

A rule that involves several fields (``halt < reduce < flatten``) reports each field it concerns:
`raise_rules` packs them into one pydantic error that `guardbot.config.messages` expands again.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

RULES_ERROR = "guardbot_rules"

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def looks_like_a_secret(value: str) -> bool:
    """An API key or secret pasted where a variable's name belongs: long, no underscore, digits or
    mixed case (names are written like BINANCE_MAIN_KEY)."""
    if len(value) < 16 or "_" in value:
        return False
    digits = sum(c.isdigit() for c in value)
    mixed = any(c.islower() for c in value) and any(c.isupper() for c in value)
    return digits >= 3 or mixed


def _env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value) or looks_like_a_secret(value):
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


Problem = tuple[tuple[str | int, ...], str, Any, tuple[tuple[str | int, ...], ...]]
"""(location relative to the model, message, offending value, other locations involved)."""


def raise_rules(problems: list[Problem]) -> None:
    """Raise one pydantic error carrying several field-level problems; `format_errors` expands it."""
    if problems:
        summary = "; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg, _, _ in problems)
        raise PydanticCustomError(RULES_ERROR, "{summary}", {"summary": summary, "problems": problems})


def ordered(model: BaseModel, names: Sequence[str], what: str) -> list[Problem]:
    """Each level must be strictly below the next one."""
    out: list[Problem] = []
    for low, high in itertools.pairwise(names):
        lo, hi = getattr(model, low), getattr(model, high)
        if lo >= hi:
            out.append(((low,), f"must be less than {high} ({num(hi)}); {what}", lo, ((high,),)))
    return out


def num(value: Any) -> str:
    """0.0 -> "0", 0.5 -> "0.5": bounds read as a person would write them."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# Every section of the file: a typo anywhere is an error, not a silent default; values are frozen
# and never inf/nan. Each module's section base sets this (ruff and mypy then still see pydantic).
STRICT = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
