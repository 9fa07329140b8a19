"""Binance USDⓈ-M user-data stream events, field for field: ACCOUNT_UPDATE, ORDER_TRADE_UPDATE
(plain orders) and ALGO_UPDATE (conditional orders, since the algo service of Dec 2025)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from guardbot.domain import MarginMode
from guardbot.sim.book import SimAccount, SimAlgoOrder, SimOrder
from guardbot.sim.venues.fmt import fmt

_EXEC_TYPE = {"NEW": "NEW", "PARTIALLY_FILLED": "TRADE", "FILLED": "TRADE", "CANCELED": "CANCELED"}


def account_event(
    acct: SimAccount, marks: Mapping[str, float], changed: list[tuple[str, str]], now: int
) -> dict[str, Any]:
    iso = sum(p.isolated_wallet for p in acct.positions.values() if p.margin_mode is MarginMode.ISOLATED)
    rows = []
    for sym, ps in changed:
        p = acct.positions.get((sym, ps))
        isolated = p is not None and p.margin_mode is MarginMode.ISOLATED
        rows.append(
            {
                "s": sym,
                "pa": fmt(p.amount) if p else "0",
                "ep": fmt(p.entry_price) if p else "0",
                "bep": fmt(p.entry_price) if p else "0",
                "cr": fmt(acct.realized_pnl),
                "up": fmt(p.pnl_at(marks[sym])) if p else "0",
                "mt": "isolated" if isolated else "cross",
                "iw": fmt(p.isolated_wallet) if p and isolated else "0",
                "ps": ps,
                "ma": "USDT",
            }
        )
    return {
        "e": "ACCOUNT_UPDATE",
        "E": now,
        "T": now,
        "a": {
            "m": reason(acct, bool(changed)),
            "B": [{"a": "USDT", "wb": fmt(acct.wallet), "cw": fmt(acct.wallet - iso), "bc": "0"}],
            "P": rows,
        },
    }


def order_event(o: SimOrder, before: tuple[str, float] | None, now: int) -> dict[str, Any]:
    last_qty = o.executed_qty - (before[1] if before else 0.0)
    return {
        "e": "ORDER_TRADE_UPDATE",
        "E": now,
        "T": now,
        "o": {
            "s": o.symbol,
            "c": o.client_order_id,
            "S": o.side,
            "o": o.type,
            "f": o.time_in_force,
            "q": fmt(o.orig_qty),
            "p": fmt(o.price),
            "ap": fmt(o.avg_price),
            "sp": fmt(o.stop_price),
            "x": _EXEC_TYPE.get(o.status, o.status) if before is None or before[0] != o.status else "TRADE",
            "X": o.status,
            "i": o.order_id,
            "l": fmt(last_qty),
            "z": fmt(o.executed_qty),
            "L": fmt(o.avg_price if last_qty else 0.0),
            "n": "0",
            "N": "USDT",
            "T": o.update_ms or now,
            "t": 0,
            "m": False,
            "R": o.reduce_only,
            "wt": o.working_type,
            "ot": o.orig_type or o.type,
            "ps": o.position_side,
            "cp": o.close_position,
            "rp": "0",
            "pP": False,
            "V": "EXPIRE_MAKER",
            "pm": "NONE",
            "gtd": 0,
        },
    }


def algo_event(a: SimAlgoOrder, now: int) -> dict[str, Any]:
    return {
        "e": "ALGO_UPDATE",
        "T": now,
        "E": now,
        "o": {
            "caid": a.client_algo_id,
            "aid": a.algo_id,
            "at": "CONDITIONAL",
            "o": a.order_type,
            "s": a.symbol,
            "S": a.side,
            "ps": a.position_side,
            "f": a.time_in_force,
            "q": fmt(a.quantity),
            "X": a.status,
            "tp": fmt(a.trigger_price),
            "p": fmt(a.price),
            "wt": a.working_type,
            "pm": "NONE",
            "cp": a.close_position,
            "pP": a.price_protect,
            "R": a.reduce_only,
            "tt": a.trigger_ms,
            "gtd": 0,
        },
    }


def reason(acct: SimAccount, positions_changed: bool) -> str:
    """ACCOUNT_UPDATE's `m`: why the wallet or a position moved (Binance's reason codes)."""
    last = acct.income[-1] if acct.income else None
    if positions_changed or last is None:
        return "ORDER"
    if last.income_type == "TRANSFER":
        return "DEPOSIT" if last.amount > 0 else "WITHDRAW"
    return "FUNDING_FEE" if last.income_type == "FUNDING_FEE" else "ORDER"
