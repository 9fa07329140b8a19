"""Shared values and helpers of the journal tests (tests/unit/test_store_*.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
DAY = 86_400_000
BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"

FIGURES: dict[str, Any] = {
    "equity": 10_500.0,
    "wallet_balance": 10_000.0,
    "unrealized_pnl": 500.0,
    "maintenance_margin": 210.0,
    "initial_margin": 1_050.0,
    "margin_ratio": 0.02,
    "effective_leverage": 2.0,
    "gross_notional": 21_000.0,
    "net_notional": 9_000.0,
    "available_margin": 9_450.0,  # AccountFigures has more fields than the table: ignored
}


def position(symbol: str = BTC, side: str = "long", **over: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "symbol": symbol,
        "side": side,
        "contracts": 0.2,
        "entry_price": 50_000.0,
        "mark_price": 52_500.0,
        "notional": 10_500.0,
        "unrealized_pnl": 500.0,
        "liquidation_price": 1_000.0,
        "liquidation_distance_pct": 98.1,
        "exchange_liquidation_price": 1_010.0,
        "stop_price": None,
    }
    p.update(over)
    return p


def action_args(client_order_id: str = "gb-main-stop-btc-1", **over: Any) -> dict[str, Any]:
    kw: dict[str, Any] = {
        "rule": "missing_stop",
        "kind": "stop",
        "client_order_id": client_order_id,
        "dry_run": False,
        "symbol": BTC,
        "side": "sell",
        "quantity": 0.2,
        "trigger_price": 47_500.0,
    }
    kw.update(over)
    return kw


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path)
