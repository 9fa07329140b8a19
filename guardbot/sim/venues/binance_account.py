"""Binance USDⓈ-M JSON shapes of the account: balances, positionRisk, brackets, symbol settings.

Margin figures are the engine's (guardbot.risk with the venue's model), so what a client reads here
is exactly what the engine liquidates on.
"""

from __future__ import annotations

from typing import Any

from guardbot.domain import MarginMode
from guardbot.risk.account import AccountFigures, PositionFigures
from guardbot.sim.book import SimAccount, SimPosition
from guardbot.sim.engine import SimExchange
from guardbot.sim.markets import SimMarket
from guardbot.sim.venues.fmt import fmt, num


def leverage_brackets(ex: SimExchange, symbol: str | None) -> list[dict[str, Any]] | dict[str, Any]:
    rows = [
        {
            "symbol": m.id,
            "notionalCoef": 1.0,
            "brackets": [
                {
                    "bracket": i + 1,
                    "initialLeverage": int(t.max_leverage),
                    "notionalCap": num(t.notional_cap),
                    "notionalFloor": num(t.notional_floor),
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


def api_restrictions(acct: SimAccount) -> dict[str, Any]:
    """GET /sapi/v1/account/apiRestrictions (Binance wallet API, "Get API Key Permission")."""
    can = acct.key_permissions
    return {
        "ipRestrict": False,
        "createTime": 1_735_689_600_000,
        "enableReading": True,
        "enableWithdrawals": "withdraw" in can,
        "enableInternalTransfer": "transfer" in can,
        "enableMargin": False,
        "enableFutures": "trade" in can,
        "permitsUniversalTransfer": "transfer" in can,
        "enableVanillaOptions": False,
        "enableFixApiTrade": False,
        "enableFixReadOnly": False,
        "enableSpotAndMarginTrading": False,
        "enablePortfolioMarginTrading": False,
    }
