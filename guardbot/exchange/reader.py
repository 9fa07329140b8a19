"""Snapshot reader: one complete `AccountSnapshot` per call, fetched concurrently.

Each venue's requests are in venue_reads.py (Binance USDⓈ-M: account, positions, marks and open
orders, all at once), their assembly into a snapshot in snapshot_assembly.py. Tiers and position
mode come from a `TiersCache` (refreshed daily). A snapshot is whole or it is a `SnapshotError`: we
never hand the risk core half a picture.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import ccxt.async_support as ccxt

from guardbot.domain import AccountSnapshot
from guardbot.exchange import venue_reads
from guardbot.exchange.cache import TiersCache
from guardbot.exchange.convert import ConversionError, num
from guardbot.exchange.errors import SnapshotError, describe, snapshot_call
from guardbot.exchange.order_reads import OrderReads
from guardbot.exchange.snapshot_assembly import assemble, venue_settle

log = logging.getLogger("guardbot.exchange")


async def _gather(account: str, calls: Mapping[str, Callable[[], Awaitable[Any]]]) -> dict[str, Any]:
    """Run all calls concurrently; the first failure cancels the rest and is raised alone."""
    tasks: dict[str, asyncio.Task[Any]] = {}
    try:
        async with asyncio.TaskGroup() as group:
            for name, fn in calls.items():
                tasks[name] = group.create_task(snapshot_call(account, name, fn))
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
    await snapshot_call(account_name, "load markets / tiers", lambda: tiers_cache.ensure(client))
    settle = settle or venue_settle(client)
    now = order_reads.clock() if order_reads is not None else 0
    by_symbol = order_reads.plan(now) if order_reads is not None and client.id == "binanceusdm" else None
    results = venue_reads.split_hyperliquid(
        client, await _gather(account_name, venue_reads.calls(client, settle, by_symbol, raw))
    )
    if by_symbol is not None:
        # a position in a symbol whose orders were not read (opened since the last snapshot): read
        # them too; all of them at once if ccxt does not know the symbol yet (a new listing)
        fresh = sorted(_position_symbols(results) - set(by_symbol))
        if any(f not in (client.markets or {}) for f in fresh):
            results = {k: v for k, v in results.items() if not k.startswith("fetch_open_orders")}
            full = {
                k: v
                for k, v in venue_reads.calls(client, settle, None, raw).items()
                if k.startswith("fetch_open_orders")
            }
            results.update(await _gather(account_name, full))
            by_symbol = None
        elif fresh:
            results.update(await _gather(account_name, venue_reads.order_calls(client, fresh, raw)))
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
            results = venue_reads.split_hyperliquid(
                client, await _gather(account_name, venue_reads.calls(client, settle, None, raw))
            )
            by_symbol = None
    try:
        snapshot = await assemble(client, account_name, settle, symbols, tiers_cache, results)
    except (ConversionError, KeyError, TypeError, ValueError) as exc:
        raise SnapshotError(account_name, "parsing the reply", describe(exc)) from exc
    if order_reads is not None:
        order_reads.saw(snapshot, full=by_symbol is None, now_ms=now)
    return snapshot


def _position_symbols(results: Mapping[str, Any]) -> set[str]:
    return {
        str(p.get("symbol"))
        for name, value in results.items()
        if name.startswith("fetch_positions")
        for p in value
        if (num(p.get("contracts")) or 0.0) > 0
    }


def _unknown_symbols(results: Mapping[str, Any], cache: TiersCache) -> list[str]:
    """Symbols of open positions and orders that the cached markets or tiers do not know."""
    seen: set[str] = set()
    for name, value in results.items():
        if name.startswith("fetch_positions"):
            seen.update(str(p.get("symbol")) for p in value if (num(p.get("contracts")) or 0.0) > 0)
        elif name.startswith("fetch_open_orders"):
            seen.update(str(o.get("symbol")) for o in value)
    return sorted(s for s in seen if not cache.knows(s))


async def fetch_snapshot_for(account_name: str, settings: Any) -> AccountSnapshot:
    """Create the account's client, read one snapshot, close the client (for `guardbot snapshot`)."""
    from guardbot.exchange.session import open_account

    async with open_account(account_name, settings) as session:
        return await session.snapshot()
