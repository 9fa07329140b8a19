"""Binance USDⓈ-M JSON shapes, field for field: decimals as strings, ids and times as integers.

Decimals are written with the float's shortest exact representation (not Binance's fixed 8
places), so a client that parses them gets back the engine's own floats bit for bit: that is what
lets tests compare the guard's view with the engine's books at 1e-9.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from guardbot.domain import MarginMode
from guardbot.risk.account import AccountFigures, PositionFigures
from guardbot.sim.book import SimAccount, SimAlgoOrder, SimIncome, SimOrder, SimPosition, SimTrade
from guardbot.sim.engine import SimExchange
from guardbot.sim.markets import SimMarket

FUNDING_INTERVAL_MS = 8 * 3600 * 1000
FUNDING_RATE = "0.00010000"


def fmt(x: float) -> str:
    """A decimal string without exponent; "0" for zero."""
    if x == 0:
        return "0"
    s = repr(float(x))
    if "e" in s or "E" in s:
        s = format(Decimal(s), "f")
    return s[:-2] if s.endswith(".0") else s


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def exchange_info(ex: SimExchange) -> dict[str, Any]:
    return {
        "timezone": "UTC",
        "serverTime": ex.now_ms,
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
        ],
        "exchangeFilters": [],
        "assets": [
            {"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"},
        ],
        "symbols": [_symbol_info(m, ex.start_ms) for m in ex.markets.values()],
    }


def _symbol_info(m: SimMarket, onboard_ms: int) -> dict[str, Any]:
    return {
        "symbol": m.id,
        "pair": m.id,
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": onboard_ms - 365 * 24 * 3600 * 1000,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": m.base,
        "quoteAsset": m.quote,
        "marginAsset": m.quote,
        "pricePrecision": m.price_precision,
        "quantityPrecision": m.quantity_precision,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "triggerProtect": "0.0500",
        "liquidationFee": f"{m.liquidation_fee:.6f}",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": m.tick_size,
                "maxPrice": fmt(m.start_price * 1000),
                "tickSize": m.tick_size,
            },
            {"filterType": "LOT_SIZE", "minQty": m.min_qty, "maxQty": m.max_qty, "stepSize": m.step_size},
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": m.min_qty,
                "maxQty": m.market_max_qty,
                "stepSize": m.step_size,
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": m.min_notional},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.0500",
                "multiplierDown": "0.9500",
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": [
            "LIMIT",
            "MARKET",
            "STOP",
            "STOP_MARKET",
            "TAKE_PROFIT",
            "TAKE_PROFIT_MARKET",
            "TRAILING_STOP_MARKET",
        ],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        "permissionSet": ["GRID", "COPY"],
    }


def leverage_brackets(ex: SimExchange, symbol: str | None) -> list[dict[str, Any]] | dict[str, Any]:
    rows = [
        {
            "symbol": m.id,
            "notionalCoef": 1.0,
            "brackets": [
                {
                    "bracket": i + 1,
                    "initialLeverage": int(t.max_leverage),
                    "notionalCap": _num(t.notional_cap),
                    "notionalFloor": _num(t.notional_floor),
                    "maintMarginRatio": t.maintenance_margin_rate,
                    "cum": t.maintenance_amount,
                }
                for i, t in enumerate(m.tiers)
            ],
        }
        for m in ex.markets.values()
        if symbol is None or m.id == symbol
    ]
    return rows[0] if symbol is not None and rows else rows


def _figures_for(ex: SimExchange, fig: AccountFigures, pos: SimPosition) -> PositionFigures:
    return fig.position(ex.markets[pos.symbol].symbol, pos.side.value)


def _position_common(
    ex: SimExchange, acct: SimAccount, pos: SimPosition, pf: PositionFigures
) -> dict[str, Any]:
    mark = ex.marks[pos.symbol]
    notional = pos.amount * mark
    upnl = pos.pnl_at(mark)
    isolated = pos.margin_mode is MarginMode.ISOLATED
    lev = ex.leverage_of(acct, pos.symbol)
    fee = ex.fees.taker
    break_even = pos.entry_price * (1 + fee) if pos.amount > 0 else pos.entry_price * (1 - fee)
    return {
        "symbol": pos.symbol,
        "positionSide": pos.position_side,
        "positionAmt": fmt(pos.amount),
        "entryPrice": fmt(pos.entry_price),
        "breakEvenPrice": fmt(break_even),
        "markPrice": fmt(mark),
        "unRealizedProfit": fmt(upnl),
        "liquidationPrice": fmt(pf.liquidation_price or 0.0),
        "isolatedMargin": fmt(pos.isolated_wallet + upnl) if isolated else "0",
        "notional": fmt(notional),
        "marginAsset": "USDT",
        "isolatedWallet": fmt(pos.isolated_wallet if isolated else 0.0),
        "initialMargin": fmt(abs(notional) / lev),
        "maintMargin": fmt(pf.maintenance_margin),
        "positionInitialMargin": fmt(abs(notional) / lev),
        "openOrderInitialMargin": "0",
        "adl": 2,
        "bidNotional": "0",
        "askNotional": "0",
        "updateTime": pos.update_ms or ex.now_ms,
    }


def position_risk_v3(ex: SimExchange, acct: SimAccount, symbol: str | None) -> list[dict[str, Any]]:
    fig = ex.account_figures(acct.api_key)
    return [
        _position_common(ex, acct, p, _figures_for(ex, fig, p))
        for p in acct.positions.values()
        if symbol is None or p.symbol == symbol
    ]


def position_risk_v2(ex: SimExchange, acct: SimAccount, symbol: str | None) -> list[dict[str, Any]]:
    """v2 lists every symbol (both legs in hedge mode), flat ones with zeros, plus leverage/marginType."""
    fig = ex.account_figures(acct.api_key)
    rows: list[dict[str, Any]] = []
    sides = ("LONG", "SHORT") if acct.hedge else ("BOTH",)
    for m in ex.markets.values():
        if symbol is not None and m.id != symbol:
            continue
        lev = ex.leverage_of(acct, m.id)
        mode = ex.margin_type_of(acct, m.id)
        for ps in sides:
            pos = acct.positions.get((m.id, ps))
            if pos is not None:
                c = _position_common(ex, acct, pos, _figures_for(ex, fig, pos))
                row = {
                    k: c[k]
                    for k in (
                        "symbol",
                        "positionAmt",
                        "entryPrice",
                        "breakEvenPrice",
                        "markPrice",
                        "unRealizedProfit",
                        "liquidationPrice",
                        "isolatedMargin",
                        "notional",
                        "isolatedWallet",
                        "updateTime",
                    )
                }
            else:
                row = {
                    "symbol": m.id,
                    "positionAmt": "0",
                    "entryPrice": "0",
                    "breakEvenPrice": "0",
                    "markPrice": fmt(ex.marks[m.id]),
                    "unRealizedProfit": "0",
                    "liquidationPrice": "0",
                    "isolatedMargin": "0",
                    "notional": "0",
                    "isolatedWallet": "0",
                    "updateTime": 0,
                }
            row.update(
                {
                    "leverage": str(lev),
                    "maxNotionalValue": fmt(ex_max_notional(m, lev)),
                    "marginType": "isolated" if mode is MarginMode.ISOLATED else "cross",
                    "isAutoAddMargin": "false",
                    "positionSide": ps,
                    "isolated": mode is MarginMode.ISOLATED,
                    "adlQuantile": 2,
                    "marginAsset": "USDT",
                }
            )
            rows.append(row)
    return rows


def ex_max_notional(m: SimMarket, leverage: int) -> float:
    allowed = [t.notional_cap for t in m.tiers if t.max_leverage >= leverage]
    return max(allowed) if allowed else 0.0


def account(ex: SimExchange, acct: SimAccount, v2: bool = False) -> dict[str, Any]:
    """GET /fapi/v3/account; `v2` adds the older per-position fields (leverage, entryPrice, ...)
    and account flags that /fapi/v2/account still carries."""
    fig = ex.account_figures(acct.api_key)
    marks = ex.marks
    iso_wallet = sum(
        p.isolated_wallet for p in acct.positions.values() if p.margin_mode is MarginMode.ISOLATED
    )
    cross_upnl = sum(
        p.pnl_at(marks[p.symbol]) for p in acct.positions.values() if p.margin_mode is MarginMode.CROSS
    )
    upnl = sum(p.pnl_at(marks[p.symbol]) for p in acct.positions.values())
    pos_im = sum(
        abs(p.amount) * marks[p.symbol] / ex.leverage_of(acct, p.symbol) for p in acct.positions.values()
    )
    mm = sum(_figures_for(ex, fig, p).maintenance_margin for p in acct.positions.values())
    cross_wallet = acct.wallet - iso_wallet
    available = fig.available_margin
    max_withdraw = max(0.0, min(available, cross_wallet))
    usdt = {
        "asset": "USDT",
        "walletBalance": fmt(acct.wallet),
        "unrealizedProfit": fmt(upnl),
        "marginBalance": fmt(fig.equity),
        "maintMargin": fmt(mm),
        "initialMargin": fmt(pos_im),
        "positionInitialMargin": fmt(pos_im),
        "openOrderInitialMargin": "0",
        "crossWalletBalance": fmt(cross_wallet),
        "crossUnPnl": fmt(cross_upnl),
        "availableBalance": fmt(available),
        "maxWithdrawAmount": fmt(max_withdraw),
        "marginAvailable": True,
        "updateTime": acct.update_ms or ex.now_ms,
    }
    positions = []
    for p in acct.positions.values():
        c = _position_common(ex, acct, p, _figures_for(ex, fig, p))
        row: dict[str, Any] = {
            "symbol": p.symbol,
            "positionSide": p.position_side,
            "positionAmt": c["positionAmt"],
            "unrealizedProfit": c["unRealizedProfit"],
            "isolatedMargin": c["isolatedMargin"],
            "notional": c["notional"],
            "isolatedWallet": c["isolatedWallet"],
            "initialMargin": c["initialMargin"],
            "maintMargin": c["maintMargin"],
            "updateTime": c["updateTime"],
        }
        if v2:
            lev = ex.leverage_of(acct, p.symbol)
            row.update(
                {
                    "positionInitialMargin": c["positionInitialMargin"],
                    "openOrderInitialMargin": "0",
                    "leverage": str(lev),
                    "isolated": p.margin_mode is MarginMode.ISOLATED,
                    "entryPrice": c["entryPrice"],
                    "breakEvenPrice": c["breakEvenPrice"],
                    "maxNotional": fmt(ex_max_notional(ex.markets[p.symbol], lev)),
                    "bidNotional": "0",
                    "askNotional": "0",
                }
            )
        positions.append(row)
    flags: dict[str, Any] = (
        {
            "feeTier": 0,
            "canTrade": True,
            "canDeposit": True,
            "canWithdraw": True,
            "updateTime": 0,
            "multiAssetsMargin": False,
            "tradeGroupId": -1,
        }
        if v2
        else {}
    )
    return {
        **flags,
        "totalInitialMargin": fmt(pos_im),
        "totalMaintMargin": fmt(mm),
        "totalWalletBalance": fmt(acct.wallet),
        "totalUnrealizedProfit": fmt(upnl),
        "totalMarginBalance": fmt(fig.equity),
        "totalPositionInitialMargin": fmt(pos_im),
        "totalOpenOrderInitialMargin": "0",
        "totalCrossWalletBalance": fmt(cross_wallet),
        "totalCrossUnPnl": fmt(cross_upnl),
        "availableBalance": fmt(available),
        "maxWithdrawAmount": fmt(max_withdraw),
        "assets": [usdt],
        "positions": positions,
    }


def balance_v2(ex: SimExchange, acct: SimAccount) -> list[dict[str, Any]]:
    a = account(ex, acct)["assets"][0]
    return [
        {
            "accountAlias": "SgsR",
            "asset": "USDT",
            "balance": a["walletBalance"],
            "crossWalletBalance": a["crossWalletBalance"],
            "crossUnPnl": a["crossUnPnl"],
            "availableBalance": a["availableBalance"],
            "maxWithdrawAmount": a["maxWithdrawAmount"],
            "marginAvailable": True,
            "updateTime": a["updateTime"],
        }
    ]


def premium_index(ex: SimExchange, symbol: str) -> dict[str, Any]:
    now = ex.now_ms
    mark = fmt(ex.marks[symbol])
    return {
        "symbol": symbol,
        "markPrice": mark,
        "indexPrice": mark,
        "estimatedSettlePrice": mark,
        "lastFundingRate": FUNDING_RATE,
        "interestRate": "0.00010000",
        "nextFundingTime": (now // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS,
        "time": now,
    }


def ticker_24hr(ex: SimExchange, symbol: str) -> dict[str, Any]:
    now = ex.now_ms
    rows = ex.candles.klines(symbol, "1m", now - 24 * 3600 * 1000 + 1, now, 1500, now)
    last = ex.marks[symbol]
    open_ = float(rows[0][1]) if rows else last
    high = max([float(r[2]) for r in rows] + [last])
    low = min([float(r[3]) for r in rows] + [last])
    volume = sum(float(r[5]) for r in rows)
    quote_volume = sum(float(r[7]) for r in rows)
    return {
        "symbol": symbol,
        "priceChange": fmt(last - open_),
        "priceChangePercent": f"{(last / open_ - 1) * 100:.3f}",
        "weightedAvgPrice": fmt(quote_volume / volume if volume else last),
        "lastPrice": fmt(last),
        "lastQty": "0",
        "openPrice": fmt(open_),
        "highPrice": fmt(high),
        "lowPrice": fmt(low),
        "volume": fmt(volume),
        "quoteVolume": fmt(quote_volume),
        "openTime": now - 24 * 3600 * 1000,
        "closeTime": now,
        "firstId": 1,
        "lastId": max(1, len(rows)),
        "count": len(rows),
    }


def klines(rows: list[list[float | int]]) -> list[list[Any]]:
    return [
        [
            int(r[0]),
            fmt(r[1]),
            fmt(r[2]),
            fmt(r[3]),
            fmt(r[4]),
            fmt(r[5]),
            int(r[6]),
            fmt(r[7]),
            100,
            fmt(float(r[5]) / 2),
            fmt(float(r[7]) / 2),
            "0",
        ]
        for r in rows
    ]


def order(o: SimOrder) -> dict[str, Any]:
    return {
        "orderId": o.order_id,
        "symbol": o.symbol,
        "status": o.status,
        "clientOrderId": o.client_order_id,
        "price": fmt(o.price),
        "avgPrice": fmt(o.avg_price),
        "origQty": fmt(o.orig_qty),
        "executedQty": fmt(o.executed_qty),
        "cumQty": fmt(o.executed_qty),
        "cumQuote": fmt(o.cum_quote),
        "timeInForce": o.time_in_force,
        "type": o.type,
        "reduceOnly": o.reduce_only,
        "closePosition": o.close_position,
        "side": o.side,
        "positionSide": o.position_side,
        "stopPrice": fmt(o.stop_price),
        "workingType": o.working_type,
        "priceProtect": False,
        "origType": o.orig_type or o.type,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "goodTillDate": 0,
        "time": o.time_ms,
        "updateTime": o.update_ms,
    }


def algo_order(a: SimAlgoOrder) -> dict[str, Any]:
    return {
        "algoId": a.algo_id,
        "clientAlgoId": a.client_algo_id,
        "algoType": "CONDITIONAL",
        "orderType": a.order_type,
        "symbol": a.symbol,
        "side": a.side,
        "positionSide": a.position_side,
        "timeInForce": a.time_in_force,
        "quantity": fmt(a.quantity),
        "algoStatus": a.status,
        "actualOrderId": str(a.actual_order_id) if a.actual_order_id is not None else "",
        "actualPrice": fmt(a.actual_price),
        "triggerPrice": fmt(a.trigger_price),
        "price": fmt(a.price),
        "icebergQuantity": None,
        "tpTriggerPrice": "0",
        "tpPrice": "0",
        "slTriggerPrice": "0",
        "slPrice": "0",
        "tpOrderType": "",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "workingType": a.working_type,
        "priceMatch": "NONE",
        "closePosition": a.close_position,
        "priceProtect": a.price_protect,
        "reduceOnly": a.reduce_only,
        "activatePrice": "",
        "callbackRate": "",
        "createTime": a.create_ms,
        "updateTime": a.update_ms,
        "triggerTime": a.trigger_ms,
        "goodTillDate": 0,
    }


def trade(t: SimTrade) -> dict[str, Any]:
    return {
        "buyer": t.side == "BUY",
        "commission": fmt(t.commission),
        "commissionAsset": "USDT",
        "id": t.id,
        "maker": t.maker,
        "orderId": t.order_id,
        "price": fmt(t.price),
        "qty": fmt(t.qty),
        "quoteQty": fmt(t.quote_qty),
        "realizedPnl": fmt(t.realized_pnl),
        "side": t.side,
        "positionSide": t.position_side,
        "symbol": t.symbol,
        "time": t.time_ms,
    }


def symbol_config(ex: SimExchange, acct: SimAccount, symbol: str | None) -> list[dict[str, Any]]:
    out = []
    for m in ex.markets.values():
        if symbol is not None and m.id != symbol:
            continue
        lev = ex.leverage_of(acct, m.id)
        out.append(
            {
                "symbol": m.id,
                "marginType": "ISOLATED"
                if ex.margin_type_of(acct, m.id) is MarginMode.ISOLATED
                else "CROSSED",
                "isAutoAddMargin": False,
                "leverage": lev,
                "maxNotionalValue": fmt(ex_max_notional(m, lev)),
            }
        )
    return out


def income(r: SimIncome) -> dict[str, Any]:
    return {
        "symbol": r.symbol,
        "incomeType": r.income_type,
        "income": fmt(r.amount),
        "asset": r.asset,
        "info": r.info or r.income_type,
        "time": r.time_ms,
        "tranId": r.tran_id,
        "tradeId": r.trade_id,
    }
