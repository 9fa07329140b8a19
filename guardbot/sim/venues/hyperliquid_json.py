"""Hyperliquid /info JSON shapes: meta and asset contexts, the clearinghouse state, orders as the
frontend lists them, order status, fills, the non-funding ledger, candles.

Decimals are strings, ids and times integers, as Hyperliquid writes them. Margin figures are the
engine's (guardbot.risk with Hyperliquid's model): account value = wallet + unrealized PnL;
cross `marginUsed` = position value / leverage; isolated `marginUsed` = `rawUsd` + size x mark,
`rawUsd` = the isolated margin - size x entry; `crossMaintenanceMarginUsed` the cross positions'
maintenance margin (half the initial margin at max leverage); the liquidation price the model's,
written to 12 significant figures as Hyperliquid writes it (`null` when there is none).
"""

from __future__ import annotations

import math
from typing import Any

from guardbot.domain import MarginMode
from guardbot.sim.book import SimAccount, SimAlgoOrder, SimIncome, SimOrder, SimTrade
from guardbot.sim.engine import SimExchange
from guardbot.sim.venues.fmt import fmt

FUNDING = "0.0000125"  # 0.00125 % an hour, Hyperliquid's baseline rate
USDC_TOKEN = {
    "name": "USDC",
    "szDecimals": 8,
    "weiDecimals": 8,
    "index": 0,
    "tokenId": "0x6d1e7cde53ba9467b783cb7c530ce054",
    "isCanonical": True,
    "evmContract": None,
    "fullName": None,
}


def dec(x: float) -> str:
    """Hyperliquid writes whole numbers with ".0" ("95000.0")."""
    s = fmt(x)
    return s if "." in s else s + ".0"


def coins(ex: SimExchange) -> list[str]:
    """Engine ids in asset-index order (Hyperliquid's asset id of a perp is its universe index)."""
    return list(ex.markets)


def meta(ex: SimExchange) -> dict[str, Any]:
    universe = []
    tables: dict[int, Any] = {}
    for m in ex.markets.values():
        lev = m.max_leverage
        universe.append(
            {"szDecimals": m.quantity_precision, "name": m.base, "maxLeverage": lev, "marginTableId": lev}
        )
        # ids below 50: a single tier whose max leverage is the id ("Margin tiers")
        tables[lev] = {"description": "", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": lev}]}
    return {"universe": universe, "marginTables": [[k, v] for k, v in sorted(tables.items())]}


def asset_context(ex: SimExchange, sym: str) -> dict[str, Any]:
    """The asset context every market load and snapshot reads (cheap: no 24 h statistics; the
    day's figures are the start price and zero volume)."""
    mark = dec(ex.marks[sym])
    return {
        "funding": FUNDING,
        "openInterest": "0.0",
        "prevDayPx": dec(ex.markets[sym].start_price),
        "dayNtlVlm": "0.0",
        "premium": "0.0",
        "oraclePx": mark,
        "markPx": mark,
        "midPx": mark,
        "impactPxs": [mark, mark],
        "dayBaseVlm": "0.0",
    }


def meta_and_contexts(ex: SimExchange) -> list[Any]:
    return [meta(ex), [asset_context(ex, s) for s in ex.markets]]


def _liq(price: float | None) -> str | None:
    if price is None or not math.isfinite(price) or price <= 0:
        return None
    return fmt(float(f"{price:.12g}"))


def clearinghouse_state(ex: SimExchange, acct: SimAccount) -> dict[str, Any]:
    fig = ex.account_figures(acct.api_key)
    rows = []
    totals = {"all": [0.0, 0.0, 0.0], "cross": [0.0, 0.0, 0.0]}  # ntl, margin used, size x mark
    cross_mm = 0.0
    iso_wallet = 0.0
    for p in acct.positions.values():
        m = ex.markets[p.symbol]
        pf = fig.position(m.symbol, p.side.value)
        mark = ex.marks[p.symbol]
        lev = ex.leverage_of(acct, p.symbol)
        value = p.qty * mark
        upnl = p.pnl_at(mark)
        isolated = p.margin_mode is MarginMode.ISOLATED
        leverage: dict[str, Any] = {"type": "isolated" if isolated else "cross", "value": lev}
        if isolated:
            leverage["rawUsd"] = fmt(p.isolated_wallet - p.amount * p.entry_price)
            used = p.isolated_wallet + upnl
            iso_wallet += p.isolated_wallet
        else:
            used = value / lev
            cross_mm += pf.maintenance_margin
        for scope in ("all", "cross") if not isolated else ("all",):
            totals[scope][0] += value
            totals[scope][1] += used
            totals[scope][2] += p.amount * mark
        rows.append(
            {
                "type": "oneWay",
                "position": {
                    "coin": m.base,
                    "szi": fmt(p.amount),
                    "leverage": leverage,
                    "entryPx": dec(p.entry_price),
                    "positionValue": fmt(value),
                    "unrealizedPnl": fmt(upnl),
                    "returnOnEquity": fmt(upnl / (p.qty * p.entry_price / lev)),
                    "liquidationPx": _liq(pf.liquidation_price),
                    "marginUsed": fmt(used),
                    "maxLeverage": m.max_leverage,
                    "cumFunding": {"allTime": "0.0", "sinceOpen": "0.0", "sinceChange": "0.0"},
                },
            }
        )
    account_value = acct.wallet + fig.unrealized_pnl
    cross_value = (
        acct.wallet
        - iso_wallet
        + sum(
            p.pnl_at(ex.marks[p.symbol]) for p in acct.positions.values() if p.margin_mode is MarginMode.CROSS
        )
    )

    def summary(value: float, t: list[float]) -> dict[str, str]:
        return {
            "accountValue": fmt(value),
            "totalNtlPos": fmt(t[0]),
            "totalRawUsd": fmt(value - t[2]),
            "totalMarginUsed": fmt(t[1]),
        }

    # "transfer_margin_required = max(initial_margin_required, 0.1 * total_position_value)"
    required = max(totals["cross"][1], 0.1 * totals["cross"][0])
    return {
        "marginSummary": summary(account_value, totals["all"]),
        "crossMarginSummary": summary(cross_value, totals["cross"]),
        "crossMaintenanceMarginUsed": fmt(cross_mm),
        "withdrawable": fmt(max(0.0, cross_value - required)),
        "assetPositions": rows,
        "time": ex.now_ms,
    }


def empty_state(now_ms: int) -> dict[str, Any]:
    """The clearinghouse state of an address that never deposited (Hyperliquid answers any)."""
    zero = {"accountValue": "0.0", "totalNtlPos": "0.0", "totalRawUsd": "0.0", "totalMarginUsed": "0.0"}
    return {
        "marginSummary": zero,
        "crossMarginSummary": zero,
        "crossMaintenanceMarginUsed": "0.0",
        "withdrawable": "0.0",
        "assetPositions": [],
        "time": now_ms,
    }


ORDER_TYPES = {
    "STOP_MARKET": "Stop Market",
    "STOP": "Stop Limit",
    "TAKE_PROFIT_MARKET": "Take Profit Market",
    "TAKE_PROFIT": "Take Profit Limit",
}
TIF = {"GTC": "Gtc", "IOC": "Ioc", "GTX": "Alo", "FOK": "Ioc"}


def order_row(ex: SimExchange, o: SimOrder | SimAlgoOrder, limit_px: float | None = None) -> dict[str, Any]:
    """An order as frontendOpenOrders (and orderStatus) write it. A trigger order keeps its own oid
    after it triggered; `limit_px` is the price a market trigger order was sent with."""
    m = ex.markets[o.symbol]
    side = "B" if o.side == "BUY" else "A"
    if isinstance(o, SimAlgoOrder):
        rising = o.rising
        child = ex.account_of_algo(o).orders.get(o.actual_order_id or 0)
        done = child.executed_qty if child is not None else 0.0
        # a stop for "the whole position" is Hyperliquid's position TP/SL: size 0, it closes what
        # the position holds when it triggers (grouping "positionTpsl")
        whole = o.close_position
        return {
            "coin": m.base,
            "side": side,
            "limitPx": dec(o.price or limit_px or o.trigger_price),
            "sz": "0.0" if whole else fmt(max(0.0, o.quantity - done)),
            "oid": o.algo_id,
            "timestamp": o.create_ms,
            "triggerCondition": f"Price {'above' if rising else 'below'} {dec(o.trigger_price)}",
            "isTrigger": True,
            "triggerPx": dec(o.trigger_price),
            "children": [],
            "isPositionTpsl": whole,
            "reduceOnly": o.reduce_only or whole,
            "orderType": ORDER_TYPES[o.order_type],
            "origSz": "0.0" if whole else fmt(o.quantity),
            "tif": None,
            "cloid": o.client_algo_id if o.client_algo_id.startswith("0x") else None,
        }
    return {
        "coin": m.base,
        "side": side,
        "limitPx": dec(o.price),
        "sz": fmt(o.orig_qty - o.executed_qty),
        "oid": o.order_id,
        "timestamp": o.time_ms,
        "triggerCondition": "N/A",
        "isTrigger": False,
        "triggerPx": "0.0",
        "children": [],
        "isPositionTpsl": False,
        "reduceOnly": o.reduce_only,
        "orderType": "Limit",
        "origSz": fmt(o.orig_qty),
        "tif": TIF.get(o.time_in_force, "Gtc"),
        "cloid": o.client_order_id if o.client_order_id.startswith("0x") else None,
    }


def order_status(ex: SimExchange, o: SimOrder | SimAlgoOrder) -> str:
    """Hyperliquid's word for where an order is: open, filled, canceled, triggered,
    reduceOnlyCanceled, marginCanceled."""
    if o.is_open:
        return "open"
    if isinstance(o, SimAlgoOrder):
        if o.status == "FINISHED":
            child = ex.account_of_algo(o).orders.get(o.actual_order_id or 0)
            return "filled" if child is not None and child.status == "FILLED" else "triggered"
        return "reduceOnlyCanceled" if o.status == "EXPIRED" and o.closing else "canceled"
    if o.status == "FILLED":
        return "filled"
    if o.status == "EXPIRED" and o.closing and o.time_in_force != "IOC":
        return "reduceOnlyCanceled"
    return "canceled"


def fill(ex: SimExchange, acct: SimAccount, t: SimTrade) -> dict[str, Any]:
    m = ex.markets[t.symbol]
    order = acct.orders.get(t.order_id)
    oid = order.parent_algo_id if order is not None and order.parent_algo_id is not None else t.order_id
    before = _position_before(acct, t)
    long_side = (t.side == "BUY") == (before >= 0) if before else t.side == "BUY"
    opening = before == 0 or (before > 0) == (t.side == "BUY")
    direction = ("Open " if opening else "Close ") + ("Long" if long_side else "Short")
    row: dict[str, Any] = {
        "coin": m.base,
        "px": dec(t.price),
        "sz": fmt(t.qty),
        "side": "B" if t.side == "BUY" else "A",
        "time": t.time_ms,
        "startPosition": fmt(before),
        "dir": direction,
        "closedPnl": fmt(t.realized_pnl),
        "hash": "0x" + f"{t.id:064x}",
        "oid": oid,
        "crossed": not t.maker,
        "fee": fmt(t.commission),
        "tid": t.id,
        "feeToken": "USDC",
    }
    if order is not None and order.client_order_id.startswith("autoclose-"):
        # the engine's liquidation order: Hyperliquid marks the fill itself ("liquidation", present
        # only on a fill that resulted from a liquidation; the book liquidation is method "market")
        row["liquidation"] = {"liquidatedUser": acct.api_key, "markPx": dec(t.price), "method": "market"}
    return row


def _position_before(acct: SimAccount, t: SimTrade) -> float:
    pos = 0.0
    for other in acct.trades:
        if other.id == t.id:
            return pos
        if other.symbol == t.symbol:
            pos += other.qty if other.side == "BUY" else -other.qty
    return pos


def ledger_entry(r: SimIncome) -> dict[str, Any] | None:
    """A transfer in or out of the perp account as userNonFundingLedgerUpdates lists it."""
    if r.income_type != "TRANSFER":
        return None
    delta: dict[str, Any] = (
        {"type": "deposit", "usdc": fmt(r.amount)}
        if r.amount > 0
        else {"type": "withdraw", "usdc": fmt(-r.amount), "nonce": r.time_ms, "fee": "0.0"}
    )
    return {"time": r.time_ms, "hash": "0x" + f"{r.tran_id:064x}", "delta": delta}


def candles(rows: list[list[float | int]], coin: str, interval: str) -> list[dict[str, Any]]:
    return [
        {
            "t": int(r[0]),
            "T": int(r[6]),
            "s": coin,
            "i": interval,
            "o": dec(float(r[1])),
            "c": dec(float(r[4])),
            "h": dec(float(r[2])),
            "l": dec(float(r[3])),
            "v": fmt(float(r[5])),
            "n": 100,
        }
        for r in rows
    ]
