"""Reading Bybit v5 request parameters: numbers sent as strings or JSON numbers, category, symbol,
and Bybit's limit/cursor paging."""

from __future__ import annotations

import math
from typing import Any

from guardbot.sim.book import SimAccount
from guardbot.sim.engine import Rejection, SimError, SimExchange
from guardbot.sim.venue import Ctx
from guardbot.sim.venues.bybit_codes import BybitError


def account(c: Ctx) -> SimAccount:
    assert c.account is not None
    return c.account


def to_float(p: dict[str, Any], key: str) -> float | None:
    v = p.get(key)
    if v is None or v == "":
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise BybitError(10001, f"params error: {key} invalid") from None
    if not math.isfinite(x):
        raise BybitError(10001, f"params error: {key} invalid")
    return x


def to_int(p: dict[str, Any], key: str, default: int | None = None) -> int | None:
    v = p.get(key)
    if v is None or v == "":
        return default
    try:
        return int(v)
    except (TypeError, ValueError):
        raise BybitError(10001, f"params error: {key} invalid") from None


def to_bool(v: Any) -> bool:
    return v is True or str(v).lower() == "true"


def linear(c: Ctx) -> None:
    if c.params.get("category") != "linear":
        raise BybitError(10001, "params error: the emulator serves category=linear only")


def opt_symbol(engine: SimExchange, c: Ctx) -> str | None:
    s = c.params.get("symbol")
    if not s:
        return None
    if s not in engine.markets:
        raise SimError(Rejection.UNKNOWN_SYMBOL, symbol=s)
    return str(s)


def symbol(engine: SimExchange, c: Ctx) -> str:
    s = opt_symbol(engine, c)
    if s is None:
        raise BybitError(10001, "params error: symbol is required")
    return s


def page(rows: list[dict[str, Any]], p: dict[str, Any], default: int, most: int) -> dict[str, Any]:
    """One page of `rows` (limit and cursor as Bybit takes them; the cursor is an offset here)."""
    limit = min(max(to_int(p, "limit", default) or default, 1), most)
    start = to_int(p, "cursor", 0) or 0
    more = start + limit < len(rows)
    return {"list": rows[start : start + limit], "nextPageCursor": str(start + limit) if more else ""}
