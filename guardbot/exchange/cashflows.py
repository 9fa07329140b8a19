"""Reading money moved in and out of an account (deposits, withdrawals, transfers) from its ledger.

Each venue's ledger comes through ccxt's unified `fetch_ledger` (Binance USDⓈ-M: `GET
/fapi/v1/income`; Bybit: the unified account's transaction log; Hyperliquid: the non-funding ledger
updates). Only the kinds that are not trading count: transfers, deposits, withdrawals, bonuses,
rebates and referral payouts; realized PnL, commissions, funding and settlements are trading and
stay in the PnL. See docs/exchanges.md for what each venue reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ccxt.async_support as ccxt

from guardbot.domain import CashFlow
from guardbot.exchange.convert import num

# ccxt's unified ledger types that are money moved, not trading ("transaction" is how ccxt's Bybit
# names deposits, withdrawals and transfers in and out; "prize" its bonuses)
CASH_FLOW_KINDS = frozenset(
    {
        "transfer",
        "deposit",
        "withdrawal",
        "withdraw",  # ccxt's Hyperliquid keeps the raw kind
        "cashback",
        "rebate",
        "referral",
        "transaction",
        "prize",
        "Prize",
    }
)
# raw venue types ccxt folds into one of those kinds but that are a cost of trading
_TRADING_RAW_TYPES = frozenset({"INTEREST"})  # Bybit: interest on a borrowed balance
_LIMITS = {"binanceusdm": 1000, "aster": 1000, "bybit": 50}  # the venue's page size (else ccxt's)


async def read_cash_flows(client: ccxt.Exchange, settle: str, since_ms: int) -> list[CashFlow] | None:
    """Cash flows of the settle currency since `since_ms`, oldest first; None when ccxt cannot read
    this venue's ledger (the guard then presumes a transfer from an unexplained wallet jump)."""
    if not client.has.get("fetchLedger"):
        return None
    rows = await client.fetch_ledger(None, since_ms, _LIMITS.get(client.id))
    if client.id == "hyperliquid":
        rows = [_hyperliquid_direction(r, str(client.walletAddress or "")) for r in rows]
    flows = [f for f in (cash_flow_of(r, settle) for r in rows) if f is not None]
    return sorted(flows, key=lambda f: (f.ts_ms, f.id))


def _hyperliquid_direction(row: Mapping[str, Any], wallet: str) -> Mapping[str, Any]:
    """ccxt's Hyperliquid ledger has no direction (every `usdc` amount is positive): money left
    the perp account on a withdrawal, a transfer to spot (`toPerp` false) or a transfer this
    wallet sent (`user` is it)."""
    info = row.get("info") or {}
    delta = info.get("delta") if isinstance(info, Mapping) else None
    if not isinstance(delta, Mapping):
        return row
    kind = str(delta.get("type") or "")
    out = kind == "withdraw" or (kind == "accountClassTransfer" and delta.get("toPerp") is False)
    sender = str(delta.get("user") or "").lower()
    out = out or (
        kind in ("internalTransfer", "subAccountTransfer") and bool(wallet) and sender == wallet.lower()
    )
    return {**row, "direction": "out" if out else "in"}


def cash_flow_of(row: Mapping[str, Any], settle: str) -> CashFlow | None:
    """A ccxt ledger entry as a cash flow, or None for trading entries and other currencies."""
    kind = str(row.get("type") or "")
    currency = row.get("currency")
    amount = num(row.get("amount"))
    if kind not in CASH_FLOW_KINDS or amount is None or (currency and currency != settle):
        return None
    info = row.get("info") or {}
    if isinstance(info, Mapping) and str(info.get("type") or "") in _TRADING_RAW_TYPES:
        return None
    signed = -abs(amount) if row.get("direction") == "out" else abs(amount)
    ts = int(num(row.get("timestamp")) or 0)
    ident = str(row.get("id") or f"{ts}:{kind}:{signed}")
    return CashFlow(ident, ts, signed, kind)
