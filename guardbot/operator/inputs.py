"""What a person types, read the same way by the CLI and by Telegram: numbers and a risk.

A number may group thousands with commas ("95,000", "1,250.5"), but a comma is never a decimal
point: "2,45" is refused with a hint instead of being read as 245. A risk is an amount ("150") or a
percentage of equity ("1%"); "1%" is never read as 1 USDT.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


class InputError(ValueError):
    """A typed value that cannot be read; the message names it and says what was expected."""


def parse_number(text: str, what: str, *, positive: bool = True) -> float:
    """`text` as a float. `what` names the value in the message ("--stop", "STOP")."""
    raw = text.strip()
    label = f"{what} {text!r}" if what else repr(text)
    if "," in raw:
        if not _GROUPED.match(raw):
            hint = raw.replace(".", "").replace(",", ".", 1) if raw.count(",") == 1 else None
            tip = f" (did you mean {hint}?)" if hint else ""
            raise InputError(
                f"{label}: use a dot for decimals{tip}; a comma may only group thousands, as in 95,000"
            )
        raw = raw.replace(",", "")
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"{label}: expected a number, like 2.45") from None
    if not math.isfinite(value):
        raise InputError(f"{label}: expected a finite number")
    if positive and not value > 0:
        raise InputError(f"{label}: must be greater than 0")
    return value


@dataclass(frozen=True, slots=True)
class Risk:
    """The loss accepted at the stop: an amount in settle currency, or a percentage of equity."""

    amount: float | None = None
    pct: float | None = None


def parse_risk(text: str, what: str) -> Risk:
    """ "150" -> 150 in settle currency; "1%" -> 1 % of equity (at most 100 %)."""
    raw = text.strip()
    if raw.endswith("%"):
        pct = parse_number(raw[:-1], what)
        if pct > 100:
            raise InputError(f"{what} {text!r}: a percentage of equity must be at most 100%")
        return Risk(pct=pct)
    return Risk(amount=parse_number(raw, what))


def parse_pct(text: str, what: str) -> float:
    """A percentage, with or without its "%" sign: "1" and "1%" are both 1 %."""
    return parse_risk(text.strip().removesuffix("%") + "%", what).pct or 0.0
