"""What a trade proposal says: an `Intent` (symbol, side, stop, optional limit entry, optional
take-profits, optional risk, a reason). Strategies return them, the webhook builds them from a
signal, `/open` and `guardbot open` from what the trader typed.

An intent never carries a quantity: guardbot sizes it from the stop and the risk. Everything here is
validated on construction; a mistake is one line naming the field (`take_profits.0.fraction: ...`).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from guardbot.domain import Side

SIDES = {"long": Side.LONG, "buy": Side.LONG, "short": Side.SHORT, "sell": Side.SHORT}
Price = Annotated[float, Field(gt=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TakeProfit(_Model):
    """Close `fraction` of the new position (reduce-only) when the mark reaches `price`."""

    price: Price
    fraction: Annotated[float, Field(gt=0, le=1)]


class Intent(_Model):
    """A proposed trade. `entry` None means at market; `risk` (an amount in the settle currency) or
    `risk_pct` (% of equity) override the configured risk per trade; `id` names the intent for
    de-duplication (a signal id; strategies default to their bar's time)."""

    symbol: Annotated[str, Field(min_length=1, max_length=64)]
    side: Side
    stop: Price
    entry: Price | None = None
    take_profits: tuple[TakeProfit, ...] = ()
    risk: Price | None = None
    risk_pct: Annotated[float, Field(gt=0, le=100)] | None = None
    reason: Annotated[str, Field(max_length=300)] = ""
    id: Annotated[str, Field(min_length=1, max_length=128)] | None = None

    @field_validator("side", mode="before")
    @classmethod
    def _side(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in SIDES:
            return SIDES[value.strip().lower()]
        if isinstance(value, Side):
            return value
        raise ValueError(f"must be long or short (buy or sell), got {value!r}")

    @model_validator(mode="after")
    def _rules(self) -> Intent:
        if self.risk is not None and self.risk_pct is not None:
            raise ValueError("give risk (an amount) or risk_pct (% of equity), not both")
        total = sum(tp.fraction for tp in self.take_profits)
        if total > 1 + 1e-9:
            raise ValueError(f"take-profit fractions add up to {total:g}: more than the whole position (1)")
        if len(self.take_profits) > 8:
            raise ValueError(f"at most 8 take-profits, got {len(self.take_profits)}")
        for i, tp in enumerate(self.take_profits):
            if (tp.price - self.stop) * self.side.sign <= 0:
                where = "above" if self.side is Side.LONG else "below"
                raise ValueError(
                    f"take_profits.{i}: a {self.side.value}'s take-profit must be {where} its stop "
                    f"{self.stop:g}, got {tp.price:g}"
                )
        return self


def parse_take_profit(text: str) -> TakeProfit:
    """`PRICE:FRACTION` as typed on the command line or in Telegram (`190:0.5`, `190:50%`)."""
    price_text, sep, fraction_text = text.partition(":")
    if not sep:
        raise ValueError(f"take-profit {text!r}: expected PRICE:FRACTION, like 190:0.5")
    try:
        price = float(price_text.replace(",", ""))
        fraction = float(fraction_text[:-1]) / 100 if fraction_text.endswith("%") else float(fraction_text)
    except ValueError:
        raise ValueError(f"take-profit {text!r}: expected PRICE:FRACTION, like 190:0.5") from None
    if not (math.isfinite(price) and price > 0):
        raise ValueError(f"take-profit {text!r}: the price must be a positive number")
    if not (math.isfinite(fraction) and 0 < fraction <= 1):
        raise ValueError(f"take-profit {text!r}: the fraction must be in (0, 1] (0.5 or 50%)")
    return TakeProfit(price=price, fraction=fraction)


def one_line(err: ValidationError) -> str:
    """A pydantic error as one line: `field: what is wrong (got value)`, problems joined by "; "."""
    parts = []
    for e in err.errors(include_url=False):
        loc = ".".join(str(p) for p in e["loc"])
        msg = str(e["msg"]).removeprefix("Value error, ")
        got = e.get("input")
        shown = "" if isinstance(got, dict | list) or e["type"] == "missing" else f" (got {got!r})"
        parts.append(f"{loc}: {msg}{shown}" if loc else msg)
    return "; ".join(parts)
