"""One `AccountSnapshot` from a snapshot's replies: marks, wallet balance, positions in the settle
pool, open orders, and the cached markets, tiers and fees they need."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import ccxt.async_support as ccxt

from guardbot.domain import AccountSnapshot, Fees, MarginMode, Order, Position, PositionMode, Tier
from guardbot.exchange.cache import TiersCache
from guardbot.exchange.convert import ConversionError, leverage_of, num, order_from_ccxt, position_from_ccxt
from guardbot.exchange.errors import snapshot_call

# Maintenance for a position the venue gave no tier table for (a listing newer than our last load
# whose reload failed): 5 %, as a 10x market — more than any venue asks of a new listing's first
# tier, so the estimate errs towards an earlier warning, never a later one.
STAND_IN_TIERS = (Tier(0.0, math.inf, 0.05, 0.0, 10.0),)


def _marks(results: Mapping[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, value in results.items():
        if not name.startswith(("fetch_mark_prices", "fetch_tickers", "fetch_funding_rates")):
            continue
        for symbol, row in (value or {}).items():
            info = row.get("info") or {}
            mark = num(row.get("markPrice")) or num(info.get("markPrice")) or num(info.get("markPx"))
            if mark:
                out[symbol] = mark
    return out


def _asset_rows(info: Any) -> Iterable[Mapping[str, Any]]:
    if isinstance(info, list):  # Aster /fapi/v3/balance
        yield from info
    elif isinstance(info, Mapping):
        yield from info.get("assets") or []  # Binance /fapi/v3/account
        result = info.get("result") or {}
        for acct in result.get("list") or []:  # Bybit wallet-balance
            for coin in acct.get("coin") or []:
                yield {"asset": coin.get("coin"), "walletBalance": coin.get("walletBalance")}


def wallet_balance_of(
    client_id: str, balance: Mapping[str, Any], settle: str, positions: Sequence[Position]
) -> float:
    """Wallet balance of the settle asset: deposits + realized PnL, unrealized PnL excluded."""
    if client_id == "hyperliquid":
        # accountValue is equity (wallet + unrealized): take the unrealized part back out.
        info = balance.get("info") or {}
        summary = info.get("marginSummary") or {}
        equity = num(summary.get("accountValue"))
        if equity is None:
            raise ConversionError("balance has no marginSummary.accountValue")
        return equity - sum(p.unrealized_pnl for p in positions)
    for row in _asset_rows(balance.get("info")):
        if str(row.get("asset")) != settle:
            continue
        wallet = num(row.get("walletBalance"))
        if wallet is None:
            wallet = num(row.get("balance"))  # Aster
        if wallet is None:
            raise ConversionError(f"{settle} balance row has no walletBalance")
        return wallet
    if positions:
        raise ConversionError(f"no {settle} balance although positions are open")
    return 0.0  # a fresh account: the settle asset was never funded


def _contract_settles(client: ccxt.Exchange) -> set[str]:
    """The currencies the venue's contracts settle in."""
    markets = (client.markets or {}).values()
    return {str(m["settle"]) for m in markets if m.get("contract") and m.get("settle") is not None}


def venue_settle(client: ccxt.Exchange) -> str:
    """The currency the venue's perpetuals settle in when they all settle in one (Hyperliquid:
    USDC); USDT otherwise."""
    settles = _contract_settles(client)
    return next(iter(settles)) if len(settles) == 1 else "USDT"


async def assemble(
    client: ccxt.Exchange,
    account: str,
    settle: str,
    symbols: Sequence[str] | None,
    cache: TiersCache,
    results: Mapping[str, Any],
) -> AccountSnapshot:
    marks = _marks(results)
    settles = _contract_settles(client)
    if settles and settle not in settles:  # never drop every position as "another pool" silently
        raise ConversionError(
            f"no {client.id} perpetual settles in {settle} (they settle in {', '.join(sorted(settles))});"
            " set the account's settle_currency"
        )
    raw_positions: list[Mapping[str, Any]] = [
        p
        for name, value in results.items()
        if name.startswith("fetch_positions")
        for p in value
        if (num(p.get("contracts")) or 0.0) > 0 and _settles_in(client, p, settle)
    ]
    leverages: Mapping[str, float] = {}
    if any(_needs_leverage(p) for p in raw_positions):
        leverages = await snapshot_call(account, "fetch_leverages", lambda: cache.leverage_map(client))
    positions = tuple(
        position_from_ccxt(
            p, mark_price=marks.get(str(p["symbol"])), leverage=leverages.get(str(p["symbol"]))
        )
        for p in raw_positions
    )
    orders: list[Order] = [
        order_from_ccxt(o)
        for name, value in results.items()
        if name.startswith("fetch_open_orders")
        for o in value
    ]
    held = {p.symbol for p in positions} | {o.symbol for o in orders}
    wanted: Callable[[str], bool]
    if symbols:
        chosen = set(symbols) | held
        wanted = chosen.__contains__
    else:
        wanted = cache.markets.__contains__
    # One unknown symbol must not blind the account: measure it with a stand-in table, say so.
    missing = sorted(s for s in {p.symbol for p in positions} if not cache.tiers.get(s))
    tiers = {s: t for s, t in cache.tiers.items() if wanted(s)}
    tiers.update({s: STAND_IN_TIERS for s in missing})
    balance = next(v for k, v in results.items() if k.startswith("fetch_balance"))
    return AccountSnapshot(
        exchange=client.id,
        wallet_balance=wallet_balance_of(client.id, balance, settle, positions),
        positions=positions,
        tiers=tiers,
        markets={s: m for s, m in cache.markets.items() if wanted(s)},
        mark_prices={s: m for s, m in marks.items() if wanted(s) and s in cache.markets},
        fees=cache.fees or _fees(client, positions),
        margin_mode=_margin_mode(positions),
        position_mode=_position_mode(raw_positions, cache.position_mode),
        settle_currency=settle,
        open_orders=tuple(orders),
        timestamp_ms=int(client.milliseconds()),
        account=account,
        estimated_tiers=frozenset(missing),
    )


def _needs_leverage(p: Mapping[str, Any]) -> bool:
    return leverage_of(p) is None


def _settles_in(client: ccxt.Exchange, p: Mapping[str, Any], settle: str) -> bool:
    # A USDC-settled position margins against the USDC wallet, a separate pool (single-asset mode).
    market = (client.markets or {}).get(str(p.get("symbol"))) or {}
    return market.get("settle") in (settle, None)


def _fees(client: ccxt.Exchange, positions: Sequence[Position]) -> Fees:
    # ccxt's market fees are the venue's base tier; they cost no request. A VIP tier is cheaper,
    # so the estimate errs on the safe side.
    markets: Mapping[str, Any] = client.markets or {}
    candidates = [p.symbol for p in positions] + [s for s, m in markets.items() if m.get("linear")]
    for s in candidates:
        m = markets.get(s) or {}
        taker, maker = num(m.get("taker")), num(m.get("maker"))
        if taker is not None and maker is not None:
            return Fees(taker=taker, maker=maker)
    return Fees()


def _margin_mode(positions: Sequence[Position]) -> MarginMode:
    if positions and all(p.margin_mode is MarginMode.ISOLATED for p in positions):
        return MarginMode.ISOLATED
    return MarginMode.CROSS


def _position_mode(raw: Sequence[Mapping[str, Any]], cached: PositionMode | None) -> PositionMode:
    # A position row says how the account is set up right now; the cached setting covers a flat
    # account (the mode can only be switched while flat).
    if raw:
        return PositionMode.HEDGE if any(p.get("hedged") for p in raw) else PositionMode.ONE_WAY
    return cached or PositionMode.ONE_WAY
