"""Binance USDⓈ-M JSON shapes of market data and orders, field for field: decimals as strings
(shortest exact form, see `fmt`), ids and times as integers. Account and position shapes are in
`binance_account`."""

from __future__ import annotations

from typing import Any

from guardbot.sim.book import SimAlgoOrder, SimIncome, SimOrder, SimTrade
from guardbot.sim.engine import SimExchange
from guardbot.sim.markets import SimMarket
from guardbot.sim.venues.fmt import fmt

FUNDING_INTERVAL_MS = 8 * 3600 * 1000
FUNDING_RATE = "0.00010000"


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
