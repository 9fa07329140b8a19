"""Bybit v5 JSON shapes of market data and orders (linear USDT perpetuals), field for field:
numbers as strings, times as string milliseconds, order ids as strings.

Prices and quantities are written exactly (`fmt`); money figures the venue computes (PnL, margins,
values) to 8 decimals, as Bybit writes them.
"""

from __future__ import annotations

from typing import Any

from guardbot.sim.book import SimAccount, SimAlgoOrder, SimOrder
from guardbot.sim.engine import SimExchange
from guardbot.sim.markets import SimMarket
from guardbot.sim.venues.fmt import fmt

FUNDING_INTERVAL_MS = 8 * 3600 * 1000
# Bybit interval -> the candle store's
INTERVALS = {"1": "1m", "3": "3m", "5": "5m", "15": "15m", "30": "30m", "60": "1h", "120": "2h",
             "240": "4h", "360": "6h", "720": "12h", "D": "1d", "W": "1w"}  # fmt: skip
STATUS = {
    "NEW": "New",
    "PARTIALLY_FILLED": "PartiallyFilled",
    "FILLED": "Filled",
    "CANCELED": "Cancelled",
    "EXPIRED": "Cancelled",
    "REJECTED": "Rejected",
}
CLOSED = ("Filled", "Cancelled", "Rejected", "Deactivated", "PartiallyFilledCanceled")
TRIGGER_BY = {"MARK_PRICE": "MarkPrice", "CONTRACT_PRICE": "LastPrice"}


def d8(x: float) -> str:
    """A money figure as Bybit writes it: at most 8 decimals."""
    return fmt(round(x, 8))


def side_word(side: str) -> str:
    return "Buy" if side == "BUY" else "Sell"


def position_idx(position_side: str) -> int:
    return {"LONG": 1, "SHORT": 2}.get(position_side, 0)


def instrument(m: SimMarket, launch_ms: int) -> dict[str, Any]:
    return {
        "symbol": m.id,
        "contractType": "LinearPerpetual",
        "status": "Trading",
        "baseCoin": m.base,
        "quoteCoin": m.quote,
        "launchTime": str(launch_ms),
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": str(m.price_precision),
        "leverageFilter": {
            "minLeverage": "1",
            "maxLeverage": f"{m.max_leverage:.2f}",
            "leverageStep": "0.01",
        },
        "priceFilter": {
            "minPrice": m.tick_size,
            "maxPrice": fmt(m.start_price * 1000),
            "tickSize": m.tick_size,
        },
        "lotSizeFilter": {
            "maxOrderQty": m.max_qty,
            "minOrderQty": m.min_qty,
            "qtyStep": m.step_size,
            "postOnlyMaxOrderQty": m.max_qty,
            "maxMktOrderQty": m.market_max_qty,
            "minNotionalValue": m.min_notional,
        },
        "unifiedMarginTrade": True,
        "fundingInterval": 480,
        "settleCoin": m.quote,
        "copyTrading": "both",
        "upperFundingRate": "0.005",
        "lowerFundingRate": "-0.005",
        "isPreListing": False,
        "preListingInfo": None,
    }


def risk_limits(m: SimMarket) -> list[dict[str, Any]]:
    """One row per tier: its cap, rates and the maintenance deduction ("" on the first tier, as
    Bybit writes it)."""
    return [
        {
            "id": i + 1,
            "symbol": m.id,
            "riskLimitValue": fmt(t.notional_cap),
            "maintenanceMargin": fmt(t.maintenance_margin_rate),
            "initialMargin": fmt(round(1 / t.max_leverage, 8)),
            "isLowestRisk": 1 if i == 0 else 0,
            "maxLeverage": f"{t.max_leverage:.2f}",
            "mmDeduction": fmt(t.maintenance_amount) if i else "",
        }
        for i, t in enumerate(m.tiers)
    ]


def ticker(ex: SimExchange, symbol: str) -> dict[str, Any]:
    """The guard reads tickers every snapshot (for the marks): the 24-hour figures are the candle
    store's cached ones, over the time since the emulator started."""
    now = ex.now_ms
    last = ex.marks[symbol]
    open_, high, low, volume, turnover, hour_open = ex.candles.day_stats(symbol, now)
    mark = fmt(last)
    return {
        "symbol": symbol,
        "lastPrice": mark,
        "indexPrice": mark,
        "markPrice": mark,
        "prevPrice24h": fmt(open_),
        "price24hPcnt": f"{last / open_ - 1:.6f}",
        "highPrice24h": fmt(max(high, last)),
        "lowPrice24h": fmt(min(low, last)),
        "prevPrice1h": fmt(hour_open),
        "openInterest": "0",
        "openInterestValue": "0",
        "turnover24h": d8(turnover),
        "volume24h": d8(volume),
        "fundingRate": "0.0001",
        "nextFundingTime": str((now // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS),
        "predictedDeliveryPrice": "",
        "basisRate": "",
        "deliveryFeeRate": "",
        "deliveryTime": "0",
        "ask1Size": "1",
        "bid1Price": mark,
        "ask1Price": mark,
        "bid1Size": "1",
        "basis": "",
    }


def klines(rows: list[list[float | int]]) -> list[list[str]]:
    """[[start, open, high, low, close, volume, turnover], ...], newest first (as Bybit sends)."""
    return [
        [str(int(r[0])), fmt(r[1]), fmt(r[2]), fmt(r[3]), fmt(r[4]), d8(float(r[5])), d8(float(r[7]))]
        for r in reversed(rows)
    ]


def _fills(acct: SimAccount, o: SimOrder | None) -> dict[str, Any]:
    """What of an order has executed (for linear, fees are in cumFeeDetail; cumExecFee is
    deprecated but still sent)."""
    fee = sum(t.commission for t in acct.trades if o is not None and t.order_id == o.order_id)
    return {
        "avgPrice": fmt(o.avg_price) if o is not None and o.executed_qty else "",
        "cumExecQty": fmt(o.executed_qty if o is not None else 0.0),
        "cumExecValue": d8(o.cum_quote if o is not None else 0.0),
        "cumExecFee": d8(fee),
        "cumFeeDetail": {"USDT": d8(fee)} if fee else {},
    }


def order(acct: SimAccount, o: SimOrder | SimAlgoOrder) -> dict[str, Any]:
    """One order as /v5/order/realtime and /history list it. A conditional order keeps its id after
    it triggers; its state and fills are those of the order its trigger placed."""
    if isinstance(o, SimAlgoOrder):
        child = acct.orders.get(o.actual_order_id) if o.actual_order_id is not None else None
        if o.is_open:
            status = "Untriggered"
        elif child is None:
            status = "Deactivated"  # cancelled or expired before it triggered
        else:
            status = STATUS.get(child.status, child.status)
        limit = o.order_type in ("STOP", "TAKE_PROFIT")
        qty = o.quantity if not child else child.orig_qty
        return {
            **_common(
                o.algo_id, o.client_algo_id, o.symbol, o.side, o.position_side, o.create_ms, o.update_ms
            ),
            "price": fmt(o.price),
            "qty": fmt(qty),
            "orderStatus": status,
            "createType": "CreateByUser",
            "leavesQty": fmt(qty - (child.executed_qty if child else 0.0))
            if status in ("New", "Untriggered")
            else "0",
            **_fills(acct, child),
            "timeInForce": "GTC" if limit else "IOC",
            "orderType": "Limit" if limit else "Market",
            "stopOrderType": "Stop",
            "triggerPrice": fmt(o.trigger_price),
            "triggerDirection": 1 if o.rising else 2,
            "triggerBy": TRIGGER_BY.get(o.working_type, "LastPrice"),
            "reduceOnly": o.reduce_only,
            "closeOnTrigger": o.close_position,
        }
    liquidation = o.client_order_id.startswith("autoclose-")
    status = STATUS.get(o.status, o.status)
    return {
        **_common(
            o.order_id,
            "" if liquidation else o.client_order_id,
            o.symbol,
            o.side,
            o.position_side,
            o.time_ms,
            o.update_ms,
        ),
        "price": fmt(o.price),
        "qty": fmt(o.orig_qty),
        "orderStatus": status,
        "createType": "CreateByLiq" if liquidation else "CreateByUser",
        "leavesQty": fmt(o.orig_qty - o.executed_qty) if o.is_open else "0",
        **_fills(acct, o),
        "timeInForce": {"GTX": "PostOnly"}.get(o.time_in_force, o.time_in_force)
        if o.type == "LIMIT"
        else "IOC",
        "orderType": "Limit" if o.type == "LIMIT" else "Market",
        "stopOrderType": "",
        "triggerPrice": "",
        "triggerDirection": 0,
        "triggerBy": "",
        "reduceOnly": o.reduce_only,
        "closeOnTrigger": False,
    }


def _common(
    order_id: int, link_id: str, symbol: str, side: str, position_side: str, created: int, updated: int
) -> dict[str, Any]:
    return {
        "orderId": str(order_id),
        "orderLinkId": link_id,
        "blockTradeId": "",
        "symbol": symbol,
        "side": side_word(side),
        "isLeverage": "",
        "positionIdx": position_idx(position_side),
        "cancelType": "UNKNOWN",
        "rejectReason": "EC_NoError",
        "leavesValue": "0",
        "orderIv": "",
        "takeProfit": "",
        "stopLoss": "",
        "tpTriggerBy": "",
        "slTriggerBy": "",
        "lastPriceOnCreated": "",
        "placeType": "",
        "smpType": "None",
        "smpGroup": 0,
        "smpOrderId": "",
        "tpslMode": "",  # ccxt tells a contract order from a spot one by this key's presence
        "tpLimitPrice": "",
        "slLimitPrice": "",
        "createdTime": str(created),
        "updatedTime": str(updated),
    }
