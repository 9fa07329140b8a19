"""Bybit v5 JSON shapes of a unified trading account: wallet-balance, position list, account info,
API key info and fee rates.

Figures come from the engine's books with Bybit's UTA margin model (guardbot.risk.margin: the fee
to close, at the bankruptcy price, is inside both initial and maintenance margin). As Bybit does,
the account's IM and MM rates are reported rounded down to 4 decimals, and a cross position's
liquidation price is an estimate written on the price tick ("" when outside the price filter).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from guardbot.risk.account import AccountFigures
from guardbot.risk.margin import tier_for
from guardbot.sim.book import SimAccount
from guardbot.sim.engine import SimExchange
from guardbot.sim.engine.numbers import round_to_tick
from guardbot.sim.venues.bybit_json import d8, position_idx
from guardbot.sim.venues.fmt import fmt


def rate_4dp(numerator: float, denominator: float) -> str:
    """An account rate as Bybit reports it: rounded *down* to 4 decimals (7.388 / 90042 shows "0")."""
    if denominator <= 0:
        return "1" if numerator > 0 else "0"
    rate = Decimal(repr(numerator / denominator)).quantize(Decimal("0.0001"), rounding=ROUND_FLOOR)
    return fmt(float(rate))


def wallet_balance(ex: SimExchange, acct: SimAccount) -> dict[str, Any]:
    fig = ex.account_figures(acct.api_key)
    upnl = fig.unrealized_pnl
    equity = acct.wallet + upnl
    available = max(0.0, equity - fig.initial_margin)
    usdt = {
        "coin": "USDT",
        "equity": d8(equity),
        "usdValue": d8(equity),
        "walletBalance": d8(acct.wallet),
        "free": "",
        "locked": "0",
        "spotHedgingQty": "0",
        "borrowAmount": "0",
        "availableToWithdraw": "",  # deprecated by Bybit in 2025: always ""
        "availableToBorrow": "",
        "accruedInterest": "0",
        "totalOrderIM": "0",
        "totalPositionIM": d8(fig.initial_margin),
        "totalPositionMM": d8(fig.maintenance_margin),
        "unrealisedPnl": d8(upnl),
        "cumRealisedPnl": d8(acct.realized_pnl),
        "bonus": "0",
        "marginCollateral": True,
        "collateralSwitch": True,
    }
    return {
        "list": [
            {
                "accountType": "UNIFIED",
                "accountIMRate": rate_4dp(fig.initial_margin, equity),
                "accountMMRate": rate_4dp(fig.maintenance_margin, equity),
                "accountLTV": "0",
                "totalEquity": d8(equity),
                "totalWalletBalance": d8(acct.wallet),
                "totalMarginBalance": d8(equity),
                "totalAvailableBalance": d8(available),
                "totalPerpUPL": d8(upnl),
                "totalInitialMargin": d8(fig.initial_margin),
                "totalMaintenanceMargin": d8(fig.maintenance_margin),
                "coin": [usdt],
            }
        ]
    }


def positions(
    ex: SimExchange, acct: SimAccount, symbol: str | None, fig: AccountFigures | None = None
) -> list[dict[str, Any]]:
    """Open positions (with `symbol`: that symbol's rows even when flat, as Bybit answers)."""
    fig = fig or ex.account_figures(acct.api_key)
    rows: list[dict[str, Any]] = []
    for p in acct.positions.values():
        if symbol is not None and p.symbol != symbol:
            continue
        m = ex.markets[p.symbol]
        pf = fig.position(m.symbol, p.side.value)
        mark = ex.marks[p.symbol]
        tier = tier_for(m.tiers, pf.notional, m.symbol)
        liq = pf.liquidation_price
        shown = ""
        if liq is not None and math.isfinite(liq) and float(m.tick_size) < liq < m.start_price * 1000:
            shown = fmt(round_to_tick(liq, m.tick_size, "nearest"))
        rows.append(
            {
                "positionIdx": position_idx(p.position_side),
                "riskId": m.tiers.index(tier) + 1,
                "riskLimitValue": fmt(tier.notional_cap),
                "symbol": p.symbol,
                "side": "Buy" if p.amount > 0 else "Sell",
                "size": fmt(p.qty),
                "avgPrice": fmt(p.entry_price),
                "positionValue": d8(p.qty * mark),
                "tradeMode": 0,
                "autoAddMargin": 0,
                "positionStatus": "Normal",
                "leverage": str(ex.leverage_of(acct, p.symbol)),
                "markPrice": fmt(mark),
                "liqPrice": shown,
                "bustPrice": "",  # classic accounts only
                "positionIM": d8(pf.initial_margin),
                "positionMM": d8(pf.maintenance_margin),
                "positionBalance": d8(pf.initial_margin),
                "takeProfit": "",
                "stopLoss": "",
                "trailingStop": "0",
                "sessionAvgPrice": "",
                "unrealisedPnl": d8(pf.unrealized_pnl),
                "curRealisedPnl": "0",
                "cumRealisedPnl": d8(acct.realized_pnl),
                "adlRankIndicator": 2,
                "createdTime": str(p.update_ms or ex.now_ms),
                "updatedTime": str(p.update_ms or ex.now_ms),
                "seq": p.update_ms or ex.now_ms,
                "isReduceOnly": False,
                "mmrSysUpdatedTime": "",
                "leverageSysUpdatedTime": "",
                "tpslMode": "Full",
            }
        )
    if symbol is not None and not rows:
        rows = [
            flat_row(ex, acct, symbol, pside) for pside in (("LONG", "SHORT") if acct.hedge else ("BOTH",))
        ]
    return rows


def flat_row(ex: SimExchange, acct: SimAccount, symbol: str, position_side: str) -> dict[str, Any]:
    """A symbol's row without a position: Bybit answers a query by symbol with it."""
    return {
        "positionIdx": position_idx(position_side),
        "riskId": 1,
        "riskLimitValue": fmt(ex.markets[symbol].tiers[0].notional_cap),
        "symbol": symbol,
        "side": "",
        "size": "0",
        "avgPrice": "0",
        "positionValue": "",
        "tradeMode": 0,
        "autoAddMargin": 0,
        "positionStatus": "Normal",
        "leverage": str(ex.leverage_of(acct, symbol)),
        "markPrice": fmt(ex.marks[symbol]),
        "liqPrice": "",
        "bustPrice": "",
        "positionIM": "0",
        "positionMM": "0",
        "positionBalance": "0",
        "unrealisedPnl": "",
        "curRealisedPnl": "0",
        "cumRealisedPnl": d8(acct.realized_pnl),
        "adlRankIndicator": 0,
        "createdTime": str(ex.start_ms),
        "updatedTime": str(ex.now_ms),
        "seq": -1,
        "isReduceOnly": False,
        "tpslMode": "Full",
    }


def account_info(ex: SimExchange) -> dict[str, Any]:
    return {
        "unifiedMarginStatus": 6,  # UTA 2.0 pro
        "marginMode": "REGULAR_MARGIN",  # cross margin
        "isMasterTrader": False,
        "spotHedgingStatus": "OFF",
        "updatedTime": str(ex.start_ms),
        "dcpStatus": "OFF",
        "timeWindow": 10,
        "smpGroup": 0,
    }


def api_key_info(acct: SimAccount, user_id: int) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "note": acct.name or "guardbot-sim",
        "apiKey": acct.api_key,
        "readOnly": 0 if "trade" in acct.key_permissions else 1,
        "secret": "",
        "permissions": {
            "ContractTrade": ["Order", "Position"] if "trade" in acct.key_permissions else [],
            "Spot": [],
            "Wallet": (["AccountTransfer", "SubMemberTransfer"] if "transfer" in acct.key_permissions else [])
            + (["Withdraw"] if "withdraw" in acct.key_permissions else []),
            "Options": [],
            "Derivatives": [],
            "CopyTrading": [],
            "BlockTrade": [],
            "Exchange": [],
            "NFT": [],
            "Affiliate": [],
        },
        "ips": ["*"],
        "type": 1,
        "deadlineDay": 90,
        "expiredAt": "",
        "createdAt": "2025-01-01T00:00:00Z",
        "unified": 0,
        "uta": 1,
        "userID": user_id,
        "inviterID": 0,
        "vipLevel": "No VIP",
        "mktMakerLevel": "0",
        "affiliateID": 0,
        "rsaPublicKey": "",
        "isMaster": True,
        "parentUid": "0",
        "kycLevel": "LEVEL_DEFAULT",
        "kycRegion": "",
    }


def fee_rates(ex: SimExchange, symbol: str | None) -> dict[str, Any]:
    return {
        "list": [
            {
                "symbol": s,
                "baseCoin": m.base,
                "takerFeeRate": fmt(ex.fees.taker),
                "makerFeeRate": fmt(ex.fees.maker),
            }
            for s, m in ex.markets.items()
            if symbol is None or s == symbol
        ]
    }


@dataclass
class _Entry:
    id: int
    time_ms: int
    type: str
    symbol: str
    trade_id: str
    cash_flow: float = 0.0
    fee: float = 0.0
    balance: float = 0.0


def _entries(acct: SimAccount) -> list[_Entry]:
    """The engine's income rows as Bybit books them: one TRADE row per execution (its realized PnL
    as cash flow, plus its fee), TRANSFER_IN / TRANSFER_OUT, LIQUIDATION (clearance), oldest first."""
    out: list[_Entry] = []
    trades: dict[str, _Entry] = {}
    for r in acct.income:
        if r.income_type in ("REALIZED_PNL", "COMMISSION") and r.trade_id:
            entry = trades.get(r.trade_id)
            if entry is None:
                entry = trades[r.trade_id] = _Entry(r.tran_id, r.time_ms, "TRADE", r.symbol, r.trade_id)
                out.append(entry)
            if r.income_type == "COMMISSION":
                entry.fee -= r.amount  # a commission row is negative; Bybit's fee is what was paid
            else:
                entry.cash_flow += r.amount
            entry.balance = r.wallet_after if r.wallet_after is not None else acct.wallet
        else:
            kind = {"TRANSFER": "TRANSFER_OUT" if r.amount < 0 else "TRANSFER_IN"}.get(r.income_type, "")
            kind = kind or {"INSURANCE_CLEAR": "LIQUIDATION"}.get(r.income_type, r.income_type)
            balance = r.wallet_after if r.wallet_after is not None else acct.wallet
            out.append(_Entry(r.tran_id, r.time_ms, kind, r.symbol, "", cash_flow=r.amount, balance=balance))
    return out


def transaction_log(acct: SimAccount, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
    """The unified account's transaction log between two times, newest first; `cashBalance` is
    the wallet after each row."""
    out = []
    for e in reversed(_entries(acct)):
        if start_ms <= e.time_ms <= end_ms:
            out.append(
                {
                    "id": str(e.id),
                    "symbol": e.symbol,
                    "category": "linear" if e.symbol else "",
                    "side": "None",
                    "transactionTime": str(e.time_ms),
                    "type": e.type,
                    "transSubType": "",
                    "qty": "",
                    "size": "",
                    "currency": "USDT",
                    "tradePrice": "",
                    "funding": "",
                    "fee": d8(e.fee),
                    "cashFlow": d8(e.cash_flow),
                    "change": d8(e.cash_flow - e.fee),
                    "cashBalance": d8(e.balance),
                    "feeRate": "",
                    "bonusChange": "",
                    "tradeId": e.trade_id,
                    "orderId": "",
                    "orderLinkId": "",
                    "extraFees": "",
                }
            )
    return out
