"""What differs per venue in its ccxt.pro streams: how to read the marks (as {symbol: mark}) and
the order updates, which connections carry user data, and how to tell the streams are alive.

ccxt.pro names the mark stream differently per venue (Binance: `watch_mark_prices`, Bybit carries
the mark in its ticker); the runner only needs one batch of marks of the held symbols at a time.

Liveness differs too. Binance pushes the mark on a timer (every second), so a mark stream silent
for `stale_s` is dead. Bybit pushes a ticker only when something in it changed: a quiet market is
silent for as long as it stays quiet, and silence proves nothing. There the line is alive while
its connection is open and answers ccxt's pings (ccxt's own rule: a pong within two keep-alive
periods), whether or not a mark arrived lately. Hyperliquid is judged like Bybit: it pushes an
asset context (`activeAssetCtx`, which carries `markPx`) as the context updates and documents no
timer, so a still context may send nothing for as long as it stays still.

Hyperliquid also carries the user data (`orderUpdates`, `clearinghouseState`) on that same one
connection: there, the user streams are up while an open connection that answers pings carries
both user subscriptions, not when some separate private connection is open.

Aster mirrors Binance: marks on a timer (every second with `@1s`), user data on its own
listenKey connection (`/ws/<listenKey>`; market data on `/stream`).

A listenKey lives 60 minutes unless renewed (PUT), on Binance and Aster alike. ccxt.pro renews it
on a timer, but not as needed (ccxt 4.5.90): Aster's timer is 60 minutes, the key's whole life,
so its renewal comes after the key expired, and every fresh key starts one more timer that never
stops; Binance's (20 minutes) renews once and never again (its rescheduling looks the connections
up with `safe_dict`, which finds none). `prepare_user_stream` sets Aster's to Binance's 20 minutes
and keeps one renewal per period going on both. A key that expires anyway gets `listenKeyExpired`
on its connection, which the venue leaves open (Binance's docs: "not related to the websocket
disconnection"; Aster follows Binance) and ccxt.pro ignores: the user stream would go silent
while its line looks alive. `prepare_user_stream` makes the event end the watches on it and drop
the key, so the next watch takes a new key on a new connection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import ccxt.async_support as ccxt

from guardbot.exchange.convert import num

log = logging.getLogger("guardbot.stream")

PUSH_ON_CHANGE = frozenset({"bybit", "hyperliquid"})  # mark streams silent while the mark is still
SHARED_LINE = frozenset({"hyperliquid"})  # venues whose user data rides the market connection
LISTEN_KEY_VENUES = frozenset({"binanceusdm", "aster"})  # user data on a listenKey connection
LISTEN_KEY_REFRESH_MS = 20 * 60_000  # ccxt.pro's own for Binance: a third of a key's 60 minutes
_closing: set[asyncio.Future[Any]] = set()  # expired user connections being closed


def prepare_user_stream(client: Any) -> None:
    """Keep a listenKey venue's user stream alive (a ccxt.pro client, before its first watch)."""
    if client.id not in LISTEN_KEY_VENUES:
        return
    if client.id == "aster":
        # ccxt.pro aster reads its first renewal's delay from one option and every later one's
        # from another (both default to 60 minutes)
        every = LISTEN_KEY_REFRESH_MS
        client.options["listenKeyRefreshRate"] = {"spot": every, "swap": every}
        client.options["listenKeyRefresh"] = {"listenKeyRefreshRate": every}
    _renew_every_period(client)
    handle = client.handle_message  # ccxt binds it to each connection as the connection is made

    def on_message(conn: Any, message: Any) -> None:
        inner = message.get("data", message) if isinstance(message, dict) else None
        if isinstance(inner, dict) and inner.get("e") == "listenKeyExpired":
            _listen_key_expired(client, conn)
            return
        handle(conn, message)

    client.handle_message = on_message


def _renew_every_period(client: Any) -> None:
    """ccxt's renewal, once per period, rescheduled by us: every timer ccxt starts (one per key
    it fetched, and its own rescheduling on Aster) calls this, and a call within half a period of
    the last renewal is one too many, so it ends that timer."""
    renew = client.keep_alive_listen_key
    last = [-float("inf")]

    async def keep_alive(params: Any = None) -> None:
        opts = client.options
        if client.id == "aster":
            every_ms = (opts.get("listenKeyRefresh") or {}).get("listenKeyRefreshRate", LISTEN_KEY_REFRESH_MS)
            held = (opts.get("listenKey") or {}).get("swap")
        else:
            every_ms = opts.get("listenKeyRefreshRate", LISTEN_KEY_REFRESH_MS)
            held = (opts.get("linear") or {}).get("listenKey")
        now = time.monotonic()
        if held is None or now - last[0] < every_ms / 2000:
            return
        last[0] = now
        await renew(params or {})  # a failed renewal drops the key (ccxt): nothing to renew then
        client.delay(every_ms, client.keep_alive_listen_key, params or {})

    client.keep_alive_listen_key = keep_alive  # ccxt's timers look the method up when they start


def _listen_key_expired(client: Any, conn: Any) -> None:
    log.warning("%s: the user stream's listenKey expired; taking a new one", client.id)
    # what ccxt.pro itself does when a renewal fails: forget the key, so the next watch asks for one
    for bucket in client.options.values():  # Binance: options[type] = {listenKey, lastAuthenticatedTime}
        if isinstance(bucket, dict) and "listenKey" in bucket and "lastAuthenticatedTime" in bucket:
            bucket.update(listenKey=None, lastAuthenticatedTime=0)
    if client.id == "aster":  # options.listenKey[type], options.lastAuthenticatedTime[type]
        client.options["listenKey"] = dict.fromkeys(client.options.get("listenKey") or {})
        client.options["lastAuthenticatedTime"] = dict.fromkeys(
            client.options.get("lastAuthenticatedTime") or {}, 0
        )
    conn.reject(ccxt.NetworkError(f"{client.id}: listenKey expired, the user stream stopped"))
    client.clients.pop(conn.url, None)  # not a line of this client any more (split_connections)
    closing = asyncio.ensure_future(conn.close())
    _closing.add(closing)  # held until done (the loop keeps only weak references to tasks)
    closing.add_done_callback(_closing.discard)


async def watch_marks(client: Any, symbols: Sequence[str]) -> dict[str, float]:
    """The next batch of streamed marks of `symbols` (a ccxt.pro client; waits for a push)."""
    if client.id in ("binanceusdm", "aster"):
        tickers: Mapping[str, Any] = await client.watch_mark_prices(list(symbols))
        return _marks(tickers, lambda t: t.get("markPrice"))
    if client.id == "bybit":
        # one ticker per push (ccxt's newUpdates); a delta is merged into the last snapshot
        tickers = await client.watch_tickers(list(symbols))
        return _marks(tickers, lambda t: t.get("markPrice") or (t.get("info") or {}).get("markPrice"))
    if client.id == "hyperliquid":
        # one activeAssetCtx subscription per symbol (watch_tickers would read allMids: mid
        # prices, not marks); whichever contexts arrive first are this batch
        watches = [asyncio.ensure_future(client.watch_ticker(s)) for s in symbols]
        try:
            done, _ = await asyncio.wait(watches, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in watches:
                if not w.done():
                    w.cancel()
        arrived = [w.result() for w in done]  # a dropped line raises here
        return _marks({t["symbol"]: t for t in arrived}, lambda t: (t.get("info") or {}).get("markPx"))
    raise ValueError(f"no mark-price stream for {client.id}")


async def watch_orders(client: Any) -> list[Any]:
    """The next batch of the account's order updates (a ccxt.pro client; waits for a push)."""
    if client.id != "aster":
        return list(await client.watch_orders())
    # ccxt.pro aster's watch_orders always raises "requires a market type" (its Python port
    # never assigns the type it resolves); what it would do for the swap account:
    await client.authenticate("swap")
    url = client.get_private_url("swap")
    client.set_balance_cache(client.client(url), "swap")
    orders = await client.watch_multiple(url, ["orders"], None, ["swap"])
    return list(client.filter_by_symbol_since_limit(orders, None, None, None, True))


def split_connections(client: Any) -> tuple[list[Any], list[Any]]:
    """The client's websocket connections: (user data, market data). On a shared line (Hyperliquid)
    the same connections are both."""
    clients = list(getattr(client, "clients", {}).values())
    if client.id in SHARED_LINE:
        return clients, clients
    if client.id == "aster":  # .../ws/<listenKey> and .../stream
        return [c for c in clients if "/ws/" in c.url], [c for c in clients if c.url.endswith("/stream")]
    # Binance .../private/ws, Bybit /v5/private
    return [c for c in clients if "/private" in c.url], [c for c in clients if "/private" not in c.url]


def user_alive(client: Any, user: Sequence[Any]) -> bool:
    """Are the user-data streams up? `user`: the connections that carry them (split_connections)."""
    if client.id not in SHARED_LINE:
        return bool(user) and not any(c.closed() for c in user)
    # ccxt records each subscription it sent on its connection, and a connection that closes
    # leaves the client with its record: both user subscriptions on an open, answering line
    address = str(getattr(client, "walletAddress", "") or "").lower()
    need = {f"subscribe:orderUpdates::{address}", "clearinghouseState"}
    wall = time.time() * 1000
    return any(
        not c.closed() and need <= set(getattr(c, "subscriptions", {})) and _pong_fresh(c, wall) for c in user
    )


def marks_alive(
    client: Any, market: Sequence[Any], last_mark_ms: int | None, now_ms: int, stale_s: float
) -> bool:
    """Is the mark stream up? `market`: the client's public websocket connections; `last_mark_ms`:
    when a mark last arrived (None: never)."""
    if not market or all(c.closed() for c in market):
        return False
    if last_mark_ms is None:  # not subscribed yet (Bybit's snapshot, Binance's first push)
        return False
    if client.id in PUSH_ON_CHANGE:
        wall = time.time() * 1000  # ccxt stamps pongs with the wall clock
        return all(_pong_fresh(c, wall) for c in market if not c.closed())
    return now_ms - last_mark_ms < stale_s * 1000


def _pong_fresh(conn: Any, wall_ms: float) -> bool:
    last = conn.lastPong  # None until ccxt's first ping falls due
    return last is None or wall_ms - last < conn.keepAlive * conn.maxPingPongMisses


def _marks(tickers: Mapping[str, Any], mark_of: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for symbol, ticker in tickers.items():
        mark = num(mark_of(ticker)) if isinstance(ticker, Mapping) else None
        if mark:
            out[symbol] = mark
    return out
