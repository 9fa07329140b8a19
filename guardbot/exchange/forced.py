"""Finding the exchange's own forced closes (liquidations, auto-deleveraging) in the order history.

Read only when a position shrank or vanished between two snapshots without guardbot cutting it:
Binance (and Aster) mark them by client id — "autoclose-…" for a liquidation, "adl_autoclose" for
ADL — in `GET /fapi/v1/allOrders`; Bybit by `createType` CreateByLiq / CreateByAdl in its order
history; Hyperliquid by the `liquidation` object its fills carry ("userFills": present on a fill
that resulted from a liquidation, with `liquidatedUser`, `markPx` and `method`), read in one
request for all symbols. Other venues: not known (None).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ccxt.async_support as ccxt

from guardbot.domain import ForcedClose, Side
from guardbot.exchange.convert import num

_BINANCE_STYLE = ("binanceusdm", "aster")


async def forced_closes(
    client: ccxt.Exchange, symbols: Sequence[str], since_ms: int
) -> list[ForcedClose] | None:
    if client.id == "hyperliquid":
        return await _hyperliquid_liquidations(client, symbols, since_ms)
    if client.id not in (*_BINANCE_STYLE, "bybit"):
        return None
    out: list[ForcedClose] = []
    for symbol in symbols:
        if client.id == "bybit":
            rows = await client.fetch_closed_orders(symbol, since_ms)
        else:
            rows = await client.fetch_orders(symbol, since_ms)
        out += [f for f in (_forced(client.id, r) for r in rows) if f is not None and f.ts_ms >= since_ms]
    return sorted(out, key=lambda f: f.ts_ms)


def _forced(exchange: str, o: Mapping[str, Any]) -> ForcedClose | None:
    info: Mapping[str, Any] = o.get("info") or {}
    if exchange == "bybit":
        kinds = {"CreateByLiq": "liquidation", "CreateByAdl": "adl"}
        kind = kinds.get(str(info.get("createType") or ""))
    else:
        cid = str(o.get("clientOrderId") or "")
        kind = (
            "adl"
            if cid.startswith("adl_autoclose")
            else "liquidation"
            if cid.startswith("autoclose-")
            else None
        )
    filled = num(o.get("filled")) or 0.0
    if kind is None or filled <= 0:
        return None
    side = Side.LONG if o.get("side") == "sell" else Side.SHORT  # the closing order's side tells the leg
    return ForcedClose(
        symbol=str(o.get("symbol")),
        position_side=side,
        amount=filled,
        price=num(o.get("average")) or num(o.get("price")),
        ts_ms=int(num(o.get("timestamp")) or 0),
        kind=kind,
        order_id=str(o.get("id") or ""),
    )


async def _hyperliquid_liquidations(
    client: ccxt.Exchange, symbols: Sequence[str], since_ms: int
) -> list[ForcedClose]:
    """The account's own liquidation fills (`liquidatedUser` is the account), one ForcedClose per
    liquidation order (a book liquidation may fill in several pieces)."""
    wallet = str(client.walletAddress or "").lower()
    by_order: dict[str, list[Mapping[str, Any]]] = {}
    for t in await client.fetch_my_trades(None, since_ms):
        liq = (t.get("info") or {}).get("liquidation")
        if not isinstance(liq, Mapping) or t.get("symbol") not in symbols:
            continue
        if str(liq.get("liquidatedUser") or wallet).lower() != wallet:
            continue  # a fill of ours that took over someone else's liquidation
        by_order.setdefault(str(t.get("order") or t.get("id")), []).append(t)
    out = []
    for oid, fills in by_order.items():
        amount = sum(num(f.get("amount")) or 0.0 for f in fills)
        cost = sum((num(f.get("amount")) or 0.0) * (num(f.get("price")) or 0.0) for f in fills)
        first = fills[0]
        out.append(
            ForcedClose(
                symbol=str(first.get("symbol")),
                position_side=Side.LONG if first.get("side") == "sell" else Side.SHORT,
                amount=amount,
                price=cost / amount if amount else None,
                ts_ms=int(min(num(f.get("timestamp")) or 0 for f in fills)),
                kind="liquidation",
                order_id=oid,
            )
        )
    return sorted((f for f in out if f.ts_ms >= since_ms), key=lambda f: f.ts_ms)
