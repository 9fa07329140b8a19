"""ccxt structures -> guardbot.domain values. Pure functions; no I/O.

Every converter reads the unified ccxt fields first and falls back to the venue's raw `info` only
where ccxt leaves a gap (Binance `cum`, `maintMargin`, `isolatedWallet`, `workingType`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from guardbot.domain import REDUCE_MIN_NOTIONAL_VENUES, MarginMode, Market, Order, Position, Side, Tier
from guardbot.risk.margin import continuous_deductions

# ccxt precision modes (ccxt.base.decimal_to_precision): 2 = DECIMAL_PLACES, 4 = TICK_SIZE.
DECIMAL_PLACES = 2


class ConversionError(ValueError):
    """A ccxt structure lacks a field we cannot do without."""


def num(value: object) -> float | None:
    """A finite float from a ccxt number or numeric string; None for missing/empty/non-numeric."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _nonzero(value: object) -> float | None:
    x = num(value)
    return x if x else None


def _step(precision: object, precision_mode: int) -> float:
    x = num(precision)
    if x is None:
        return 0.0
    return 10.0 ** (-x) if precision_mode == DECIMAL_PLACES else x


def reduce_min_notional(exchange: str, m: Mapping[str, Any]) -> float:
    """The minimum value of a reduce-only order on `exchange` (0: reducing orders are exempt)."""
    if exchange not in REDUCE_MIN_NOTIONAL_VENUES:
        return 0.0
    return num(((m.get("limits") or {}).get("cost") or {}).get("min")) or 0.0


def market_from_ccxt(m: Mapping[str, Any], precision_mode: int, exchange: str = "") -> Market:
    precision = m.get("precision") or {}
    limits = m.get("limits") or {}
    return Market(
        symbol=str(m["symbol"]),
        amount_step=_step(precision.get("amount"), precision_mode),
        min_amount=num((limits.get("amount") or {}).get("min")) or 0.0,
        min_notional=num((limits.get("cost") or {}).get("min")) or 0.0,
        price_tick=_step(precision.get("price"), precision_mode),
        contract_size=num(m.get("contractSize")) or 1.0,
        reduce_min_notional=reduce_min_notional(exchange, m),
    )


def tiers_from_ccxt(rows: Sequence[Mapping[str, Any]]) -> tuple[Tier, ...]:
    """ccxt leverage tiers -> `Tier`s, sorted by floor.

    The maintenance amount is the venue's own when it publishes one (Binance/Aster `cum`, Bybit
    `mmDeduction`); otherwise it is derived so maintenance margin is continuous across tiers,
    which is how Binance defines `cum`.
    """
    parsed: list[tuple[float, float, float, float, float | None]] = []
    for row in rows:
        info = row.get("info") or {}
        floor = num(row.get("minNotional")) or 0.0
        cap = num(row.get("maxNotional"))
        rate = num(row.get("maintenanceMarginRate"))
        if rate is None:
            raise ConversionError(f"leverage tier of {row.get('symbol')} has no maintenance rate")
        lev = num(row.get("maxLeverage")) or 1.0
        amount = num(info.get("cum")) if isinstance(info, Mapping) else None
        if amount is None and isinstance(info, Mapping):
            amount = num(info.get("mmDeduction"))
        parsed.append((floor, cap if cap is not None else math.inf, rate, lev, amount))
    parsed.sort(key=lambda t: t[0])
    derived = continuous_deductions([p[0] for p in parsed], [p[2] for p in parsed])
    return tuple(
        Tier(
            notional_floor=floor,
            notional_cap=cap,
            maintenance_margin_rate=rate,
            maintenance_amount=amount if amount is not None else derived[i],
            max_leverage=lev,
        )
        for i, (floor, cap, rate, lev, amount) in enumerate(parsed)
    )


def binance_brackets_to_ccxt(entry: Mapping[str, Any], symbol: str) -> list[dict[str, Any]]:
    """A raw Binance-shaped leverageBracket entry as ccxt leverage tiers (for Aster, where ccxt
    has no fetch_leverage_tiers but serves the same endpoint)."""
    return [
        {
            "symbol": symbol,
            "minNotional": b.get("notionalFloor"),
            "maxNotional": b.get("notionalCap"),
            "maintenanceMarginRate": b.get("maintMarginRatio"),
            "maxLeverage": b.get("initialLeverage"),
            "info": b,
        }
        for b in entry.get("brackets") or []
    ]


def hyperliquid_tiers(market: Mapping[str, Any]) -> tuple[Tier, ...]:
    """Hyperliquid: maintenance rate is half the initial rate at max leverage, no deduction.

    Only the base tier is derived from the market's max leverage; assets with margin tables have
    lower max leverage above a notional, which ccxt does not expose.
    """
    info = market.get("info") or {}
    max_lev = num(info.get("maxLeverage")) or num(
        ((market.get("limits") or {}).get("leverage") or {}).get("max")
    )
    if not max_lev:
        raise ConversionError(f"market {market.get('symbol')} has no max leverage")
    return (Tier(0.0, math.inf, 1.0 / (2.0 * max_lev), 0.0, max_lev),)


def _round_leverage(x: float) -> float:
    # Binance-style venues only allow integer leverage; notional / initial margin lands within
    # rounding of it.
    r = round(x)
    return float(r) if r >= 1 and abs(x - r) <= 0.01 * r else x


def leverage_of(p: Mapping[str, Any]) -> float | None:
    """The position's leverage: ccxt's, else notional / initial margin reported by the venue."""
    lev = _nonzero(p.get("leverage"))
    if lev:
        return lev
    info = p.get("info") or {}
    notional = abs(num(info.get("notional")) or num(p.get("notional")) or 0.0)
    im = _nonzero(info.get("positionInitialMargin")) or _nonzero(info.get("initialMargin"))
    if notional > 0 and im:
        return _round_leverage(notional / im)
    return None


def position_from_ccxt(
    p: Mapping[str, Any],
    *,
    mark_price: float | None = None,
    leverage: float | None = None,
) -> Position:
    """A ccxt position -> `Position`. `leverage` and `mark_price` fill gaps ccxt leaves."""
    info: Mapping[str, Any] = p.get("info") or {}
    symbol = str(p["symbol"])
    side_text = p.get("side")
    if side_text not in ("long", "short"):
        raise ConversionError(f"position {symbol} has no side")
    contracts = abs(num(p.get("contracts")) or 0.0)
    entry = num(p.get("entryPrice"))
    mark = _nonzero(p.get("markPrice")) or mark_price
    if entry is None or mark is None:
        raise ConversionError(f"position {symbol} lacks entry or mark price")
    lev = leverage_of(p) or leverage
    if not lev:
        raise ConversionError(f"position {symbol} has no leverage")
    mode = MarginMode.ISOLATED if p.get("marginMode") == "isolated" else MarginMode.CROSS
    isolated = 0.0
    if mode is MarginMode.ISOLATED:
        isolated = (
            num(info.get("isolatedWallet"))
            or num(p.get("positionMargin"))
            or num(p.get("collateral"))
            or num(p.get("initialMargin"))
            or 0.0
        )
    # the venue's own figure only (Binance maintMargin, Bybit positionMM): ccxt's unified
    # maintenanceMargin is its estimate where the venue reports none (Aster: rate x notional from
    # the brackets, without the deduction), not exchange truth to compare ours with
    mm = num(info.get("maintMargin"))
    if mm is None:
        mm = num(info.get("positionMM"))
    return Position(
        symbol=symbol,
        side=Side(side_text),
        contracts=contracts,
        entry_price=entry,
        mark_price=mark,
        contract_size=num(p.get("contractSize")) or 1.0,
        leverage=lev,
        margin_mode=mode,
        isolated_margin=isolated,
        exchange_liquidation_price=_nonzero(p.get("liquidationPrice")),
        exchange_maintenance_margin=mm,
    )


_TYPE_ALIASES = {
    "stop": "stop_market",
    "stop_loss": "stop_market",
    "stoploss": "stop_market",
    "take_profit": "take_profit_market",
}


def _working_type(info: Mapping[str, Any]) -> str:
    raw = str(info.get("workingType") or info.get("triggerBy") or "MARK_PRICE").upper()
    return "last" if raw in ("CONTRACT_PRICE", "LASTPRICE", "LAST_PRICE") else "mark"


def _position_side(info: Mapping[str, Any]) -> str | None:
    raw = str(info.get("positionSide") or "").upper()
    # Bybit names a hedge-mode leg by positionIdx: 1 the long (buy) side, 2 the short (sell) side
    idx = str(info.get("positionIdx") or "")
    return {"LONG": "long", "SHORT": "short"}.get(raw) or {"1": "long", "2": "short"}.get(idx)


def order_from_ccxt(o: Mapping[str, Any]) -> Order:
    info: Mapping[str, Any] = o.get("info") or {}
    trigger = (
        _nonzero(o.get("triggerPrice"))
        or _nonzero(o.get("stopLossPrice"))
        or _nonzero(o.get("takeProfitPrice"))
        or _nonzero(info.get("triggerPrice"))
        or _nonzero(info.get("stopPrice"))
    )
    otype = str(o.get("type") or info.get("orderType") or info.get("type") or "").lower()
    otype = _TYPE_ALIASES.get(otype, otype)
    if trigger is not None and otype in ("market", ""):
        otype = "take_profit_market" if _nonzero(o.get("takeProfitPrice")) else "stop_market"
    close_position = str(info.get("closePosition", "")).lower() == "true" or info.get("closePosition") is True
    # Bybit: a closeOnTrigger order without a quantity closes whatever the position is then
    close_position = close_position or (info.get("closeOnTrigger") is True and not _nonzero(o.get("amount")))
    # Hyperliquid: a position TP/SL (size 0) closes the whole position when it triggers
    close_position = close_position or (info.get("isPositionTpsl") is True and not _nonzero(o.get("amount")))
    return Order(
        symbol=str(o["symbol"]),
        side=str(o.get("side") or "").lower(),
        type=otype,
        amount=_nonzero(o.get("amount")),
        id=str(o.get("id") or ""),
        client_order_id=o.get("clientOrderId") or None,
        price=_nonzero(o.get("price")) if otype not in ("stop_market", "take_profit_market") else None,
        trigger_price=trigger,
        reduce_only=bool(o.get("reduceOnly")) or close_position,
        close_position=close_position,
        working_type=_working_type(info),
        position_side=_position_side(info),
    )
