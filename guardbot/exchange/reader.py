"""Snapshot reader: one complete `AccountSnapshot` per call, fetched concurrently.

Binance USDⓈ-M, per snapshot: `GET /fapi/v3/account` + `GET /fapi/v3/positionRisk` +
`GET /fapi/v1/premiumIndex` + `GET /fapi/v1/openOrders` + `GET /fapi/v1/openAlgoOrders`, all at
once. Tiers and position mode come from a `TiersCache` (refreshed daily). A snapshot is whole or it
is a `SnapshotError`: we never hand the risk core half a picture.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import ccxt.async_support as ccxt

from guardbot.domain import AccountSnapshot, Fees, MarginMode, Order, Position, PositionMode, Tier
from guardbot.exchange import binance_raw
from guardbot.exchange.cache import TiersCache
from guardbot.exchange.convert import (
    ConversionError,
    leverage_of,
    num,
    order_from_ccxt,
    position_from_ccxt,
)
from guardbot.exchange.errors import SnapshotError, describe
from guardbot.exchange.order_reads import OrderReads

_T = TypeVar("_T")
log = logging.getLogger("guardbot.exchange")
# Maintenance for a position the venue gave no tier table for (a listing newer than our last load
# whose reload failed): 5 %, as a 10x market — more than any venue asks of a new listing's first
# tier, so the estimate errs towards an earlier warning, never a later one.
STAND_IN_TIERS = (Tier(0.0, math.inf, 0.05, 0.0, 10.0),)


async def _call(account: str, name: str, fn: Callable[[], Awaitable[_T]]) -> _T:
    try:
        return await fn()
    except SnapshotError:
        raise
    except Exception as exc:
        raise SnapshotError(account, name, describe(exc)) from exc


async def _gather(account: str, calls: Mapping[str, Callable[[], Awaitable[Any]]]) -> dict[str, Any]:
    """Run all calls concurrently; the first failure cancels the rest and is raised alone."""
    tasks: dict[str, asyncio.Task[Any]] = {}
    try:
        async with asyncio.TaskGroup() as group:
            for name, fn in calls.items():
                tasks[name] = group.create_task(_call(account, name, fn))
    except BaseExceptionGroup as eg:
        first = _first_snapshot_error(eg)
        if first is not None:
            raise first from None
        raise
    return {name: task.result() for name, task in tasks.items()}


def _first_snapshot_error(eg: BaseExceptionGroup[BaseException]) -> SnapshotError | None:
    for exc in eg.exceptions:
        if isinstance(exc, SnapshotError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            inner = _first_snapshot_error(exc)
            if inner is not None:
                return inner
    return None


def _order_calls(
    client: ccxt.Exchange, symbols: Sequence[str], raw: bool = True
) -> dict[str, Callable[[], Awaitable[Any]]]:
    """Binance open orders (plain and algo) of these symbols, one cheap read each."""
    if raw:
        return binance_raw.order_calls(client, symbols)
    calls: dict[str, Callable[[], Awaitable[Any]]] = {}
    for s in symbols:
        calls[f"fetch_open_orders {s} (GET /fapi/v1/openOrders)"] = functools.partial(
            client.fetch_open_orders, s
        )
        calls[f"fetch_open_orders trigger {s} (GET /fapi/v1/openAlgoOrders)"] = functools.partial(
            client.fetch_open_orders, s, None, None, {"trigger": True}
        )
    return calls


def _calls(
    client: ccxt.Exchange, settle: str, order_symbols: Sequence[str] | None = None, raw: bool = True
) -> dict[str, Callable[[], Awaitable[Any]]]:
    ex = client.id
    if ex == "binanceusdm" and raw:
        return binance_raw.calls(client, order_symbols)
    if ex == "binanceusdm":
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "fetch_balance (GET /fapi/v3/account)": lambda: client.fetch_balance(),
            "fetch_positions (GET /fapi/v3/positionRisk)": lambda: client.fetch_positions(),
            "fetch_mark_prices (GET /fapi/v1/premiumIndex)": lambda: client.fetch_mark_prices(),
        }
        if order_symbols is not None:
            return {**calls, **_order_calls(client, order_symbols, raw=False)}
        return {
            **calls,
            "fetch_open_orders (GET /fapi/v1/openOrders)": lambda: client.fetch_open_orders(),
            "fetch_open_orders trigger (GET /fapi/v1/openAlgoOrders)": lambda: client.fetch_open_orders(
                None, None, None, {"trigger": True}
            ),
        }
    if ex == "aster":
        return {
            "fetch_balance": lambda: client.fetch_balance(),
            "fetch_positions": lambda: client.fetch_positions(),
            # premiumIndex: Aster's ccxt class has no fetch_mark_prices, funding rates carry the mark.
            "fetch_funding_rates (mark prices)": lambda: client.fetch_funding_rates(),
            "fetch_open_orders": lambda: client.fetch_open_orders(),
        }
    if ex == "bybit":
        return {
            "fetch_balance": lambda: client.fetch_balance(),
            "fetch_positions": lambda: client.fetch_positions(None, {"settleCoin": settle}),
            "fetch_tickers (mark prices)": lambda: client.fetch_tickers(None, {"subType": "linear"}),
            # Bybit returns plain and conditional linear orders together when no filter is given, 20 a
            # page by default: paginate (50 a page, one request unless there are more), without
            # ccxt's silent retries of a failed page (a snapshot fails fast, the next cycle reads
            # again); since=0 because ccxt's cursor paginator wants one to go past the first page.
            "fetch_open_orders": lambda: client.fetch_open_orders(
                None, 0, None, {"settleCoin": settle, "paginate": True, "maxRetries": 0}
            ),
        }
    return {  # hyperliquid: one clearinghouseState holds the balance and the positions
        HL_STATE: lambda: client.fetch_balance(),
        "fetch_tickers (POST /info metaAndAssetCtxs)": lambda: client.fetch_tickers(None, {"type": "swap"}),
        "fetch_open_orders (POST /info frontendOpenOrders)": lambda: client.fetch_open_orders(),
    }


HL_STATE = "fetch_positions and balance (POST /info clearinghouseState)"


def _split_hyperliquid(client: ccxt.Exchange, results: dict[str, Any]) -> dict[str, Any]:
    """Hyperliquid's balance and positions come from the same clearinghouseState: read it once
    (one request fewer, and both describe the same instant) and let ccxt parse the positions."""
    state = results.pop(HL_STATE, None)
    if state is None:
        return results
    rows = (state.get("info") or {}).get("assetPositions") or []
    results["fetch_balance (clearinghouseState)"] = state
    results["fetch_positions (clearinghouseState)"] = [client.parse_position(r) for r in rows]
    return results


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


async def read_snapshot(
    client: ccxt.Exchange,
    account_name: str,
    *,
    settle: str | None = None,
    symbols: Sequence[str] | None = None,
    tiers_cache: TiersCache,
    order_reads: OrderReads | None = None,
    raw: bool = True,
) -> AccountSnapshot:
    """Read one complete snapshot of the account behind `client`.

    All positions are always included: in cross margin every position moves the shared liquidation
    price, so `symbols` only narrows the *extra* reference data (markets, tiers, marks of symbols
    without a position). Raises `SnapshotError` if any part fails.
    """
    await _call(account_name, "load markets / tiers", lambda: tiers_cache.ensure(client))
    settle = settle or _venue_settle(client)
    now = order_reads.clock() if order_reads is not None else 0
    by_symbol = order_reads.plan(now) if order_reads is not None and client.id == "binanceusdm" else None
    results = _split_hyperliquid(client, await _gather(account_name, _calls(client, settle, by_symbol, raw)))
    if by_symbol is not None:
        # a position in a symbol whose orders were not read (opened since the last snapshot): read
        # them too; all of them at once if ccxt does not know the symbol yet (a new listing)
        fresh = sorted(_position_symbols(results) - set(by_symbol))
        if any(f not in (client.markets or {}) for f in fresh):
            results = {k: v for k, v in results.items() if not k.startswith("fetch_open_orders")}
            full = {
                k: v
                for k, v in _calls(client, settle, None, raw).items()
                if k.startswith("fetch_open_orders")
            }
            results.update(await _gather(account_name, full))
            by_symbol = None
        elif fresh:
            results.update(await _gather(account_name, _order_calls(client, fresh, raw)))
    unknown = _unknown_symbols(results, tiers_cache)
    if unknown and tiers_cache.may_refresh_for_unknown():
        # listed after our last load: reload markets and tiers now, then read again (the rows were
        # parsed with the old markets and carry the venue's raw ids)
        try:
            await tiers_cache.refresh_for_unknown(client)
        except Exception as exc:
            log.warning(
                "%s: reloading markets for %s failed (%s)", account_name, ", ".join(unknown), describe(exc)
            )
        else:
            results = _split_hyperliquid(
                client, await _gather(account_name, _calls(client, settle, None, raw))
            )
            by_symbol = None
    try:
        snapshot = await _assemble(client, account_name, settle, symbols, tiers_cache, results)
    except (ConversionError, KeyError, TypeError, ValueError) as exc:
        raise SnapshotError(account_name, "parsing the reply", describe(exc)) from exc
    if order_reads is not None:
        order_reads.saw(snapshot, full=by_symbol is None, now_ms=now)
    return snapshot


def _venue_settle(client: ccxt.Exchange) -> str:
    """The currency the venue's perpetuals settle in when they all settle in one (Hyperliquid:
    USDC); USDT otherwise."""
    settles = {m.get("settle") for m in (client.markets or {}).values() if m.get("contract")} - {None}
    return str(next(iter(settles))) if len(settles) == 1 else "USDT"


def _position_symbols(results: Mapping[str, Any]) -> set[str]:
    return {
        str(p.get("symbol"))
        for name, value in results.items()
        if name.startswith("fetch_positions")
        for p in value
        if (num(p.get("contracts")) or 0.0) > 0
    }


async def _assemble(
    client: ccxt.Exchange,
    account: str,
    settle: str,
    symbols: Sequence[str] | None,
    cache: TiersCache,
    results: Mapping[str, Any],
) -> AccountSnapshot:
    marks = _marks(results)
    settles = {m.get("settle") for m in (client.markets or {}).values() if m.get("contract")} - {None}
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
        leverages = await _call(account, "fetch_leverages", lambda: cache.leverage_map(client))
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


def _unknown_symbols(results: Mapping[str, Any], cache: TiersCache) -> list[str]:
    """Symbols of open positions and orders that the cached markets or tiers do not know."""
    seen: set[str] = set()
    for name, value in results.items():
        if name.startswith("fetch_positions"):
            seen.update(str(p.get("symbol")) for p in value if (num(p.get("contracts")) or 0.0) > 0)
        elif name.startswith("fetch_open_orders"):
            seen.update(str(o.get("symbol")) for o in value)
    return sorted(s for s in seen if not cache.knows(s))


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


async def fetch_snapshot_for(account_name: str, settings: Any) -> AccountSnapshot:
    """Create the account's client, read one snapshot, close the client (for `guardbot snapshot`)."""
    from guardbot.exchange.session import open_account

    async with open_account(account_name, settings) as session:
        return await session.snapshot()
