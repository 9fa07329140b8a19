"""Binance USDⓈ-M websocket streams: mark prices and the user-data stream, over one SimServer.

What ccxt.pro's binanceusdm connects to (its `urls.api.ws.linear` pointed at `ws://HOST/ws`):
- market streams at `/market/ws/<n>` (also `/ws`, `/public/ws`): `{"method": "SUBSCRIBE",
  "params": ["btcusdt@markPrice@1s"], "id": 1}` answered `{"result": null, "id": 1}`, then
  `markPriceUpdate` events for `<symbol>@markPrice[@1s]` and arrays for `!markPrice@arr[@1s]`.
  Binance pushes these on a timer (every 3 s, or 1 s with `@1s`), not on every move of the mark:
  so does the emulator, unless `mark_interval_ms` overrides the cadence (tests, benchmarks).
- the user-data stream at `/private/ws?listenKey=K` (also `/ws/<K>`): `ACCOUNT_UPDATE` when a
  balance or position changes (never for an order that rests or is cancelled), `ORDER_TRADE_UPDATE`
  when a plain order is created or changes state, `ALGO_UPDATE` for conditional orders.
  Changes are found by comparing each account's books with what was last pushed, after every
  request the server answers and at every timer tick (the engine moves only then).

listenKeys (POST/PUT/DELETE /fapi/v1/listenKey) follow Binance: valid 60 min (`ListenKeys.ttl_s`,
which a test may shrink), a POST returns the active key and extends it, a PUT extends it or fails
with -1125, a DELETE closes its streams. An expired key's connections get `listenKeyExpired` and
then no more user data, but stay open: Binance's docs say the event "is not related to the
websocket disconnection" (Aster's streams follow Binance's), so a client must act on the event,
not wait for a close.
`kill()` / `refuse` let a test make the streams die and come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from guardbot.sim.book import SimAccount
from guardbot.sim.engine import SimExchange
from guardbot.sim.venues.binance_codes import BinanceError
from guardbot.sim.venues.binance_events import account_event, algo_event, order_event
from guardbot.sim.venues.binance_json import FUNDING_INTERVAL_MS, FUNDING_RATE
from guardbot.sim.venues.fmt import fmt
from guardbot.sim.venues.stream_hub import StreamHub

LISTEN_KEY_TTL_S = 3600.0
PLAIN_CADENCE_MS = 3000  # <symbol>@markPrice
FAST_CADENCE_MS = 1000  # <symbol>@markPrice@1s
MARKET_PATHS = ("/ws", "/ws/{n}", "/market/ws", "/market/ws/{n}", "/public/ws", "/public/ws/{n}")
PRIVATE_PATHS = ("/private/ws", "/private/ws/{key}")


class ListenKeys:
    """listenKey per API key, with Binance's validity rules (wall clock)."""

    def __init__(self, ttl_s: float = LISTEN_KEY_TTL_S) -> None:
        self.ttl_s = ttl_s  # a key's life from its creation or last renewal
        self._by_api: dict[str, tuple[str, float]] = {}  # api key -> (listenKey, expires at)
        self._lapsed: set[str] = set()  # expired keys a new one replaced (still "expired", not deleted)

    def create(self, api_key: str) -> str:
        found = self._by_api.get(api_key)
        if found and found[1] > time.time():
            key = found[0]
        else:
            if found:
                self._lapsed.add(found[0])
            key = secrets.token_urlsafe(48)
        self._by_api[api_key] = (key, time.time() + self.ttl_s)
        return key

    def keepalive(self, api_key: str) -> dict[str, str]:
        found = self._by_api.get(api_key)
        if found is None or found[1] <= time.time():
            raise BinanceError(-1125, "This listenKey does not exist.")
        return {"listenKey": self.create(api_key)}

    def delete(self, api_key: str) -> dict[str, str]:
        self._by_api.pop(api_key, None)
        return {}

    def expired(self, listen_key: str) -> bool:
        """Past its lifetime without renewal (not deleted)."""
        if listen_key in self._lapsed:
            return True
        return any(key == listen_key and expires <= time.time() for key, expires in self._by_api.values())

    def owner(self, listen_key: str) -> str | None:
        for api, (key, expires) in self._by_api.items():
            if key == listen_key and expires > time.time():
                return api
        return None


@dataclass(eq=False)
class _Conn:
    ws: web.WebSocketResponse
    api_key: str | None = None  # user-data connection of this account
    listen_key: str = ""
    subs: dict[str, int] = field(default_factory=dict)  # stream name -> cadence ms
    combined: bool = False  # a /stream connection: each payload framed {"stream", "data"}
    expired: bool = False  # its listenKey expired: told so, and no user data since


# An order as the user-data stream knows it: a plain order by id, a conditional one by ("algo", id)
OrderKey = int | tuple[str, int]


@dataclass
class _Seen:
    """What the account's user-data stream last said: positions, wallet, order states."""

    wallet: float
    positions: dict[tuple[str, str], tuple[float, float]]
    orders: dict[OrderKey, tuple[str, float]]  # (status, executed quantity)


class BinanceStreams(StreamHub[_Conn]):
    def __init__(self, engine: SimExchange, listen_keys: ListenKeys) -> None:
        super().__init__()  # mark_interval_ms None: Binance's cadence per stream
        self.engine = engine
        self.listen_keys = listen_keys
        self._seen: dict[str, _Seen] = {}

    def add_routes(self, router: web.UrlDispatcher) -> None:
        for path in MARKET_PATHS:
            router.add_get(path, self._market)
        for path in PRIVATE_PATHS:
            router.add_get(path, self._private)

    # ---- connections ----

    async def _market(self, request: web.Request) -> web.StreamResponse:
        return await self._connection(request, _Conn)

    async def _private(self, request: web.Request) -> web.StreamResponse:
        listen_key = request.match_info.get("key") or request.query.get("listenKey", "")
        api_key = self.listen_keys.owner(listen_key)
        if api_key is None:
            return web.json_response({"code": -1125, "msg": "This listenKey does not exist."}, status=400)

        def user_data(ws: web.WebSocketResponse) -> _Conn:
            self._seen.setdefault(api_key, self._seen_of(self.engine.accounts[api_key]))
            return _Conn(ws, api_key, listen_key)

        # the user-data stream takes no commands
        return await self._connection(request, user_data, commands=False)

    async def _command(self, conn: _Conn, text: str) -> None:
        try:
            req = json.loads(text)
            # no id is an id of null (ccxt.pro's aster sends none; Binance allows null)
            method, params, rid = req["method"], req.get("params") or [], req.get("id")
        except (ValueError, KeyError, TypeError):
            await conn.ws.send_json({"error": {"code": 3, "msg": "Invalid JSON"}})
            return
        if method == "SUBSCRIBE":
            for name in params:
                cadence = _cadence(str(name))
                if cadence is None:
                    await conn.ws.send_json(
                        {"error": {"code": 2, "msg": f"Invalid request: {name}"}, "id": rid}
                    )
                    return
                conn.subs[str(name)] = cadence
            await conn.ws.send_json({"result": None, "id": rid})
        elif method == "UNSUBSCRIBE":
            for name in params:
                conn.subs.pop(str(name), None)
            await conn.ws.send_json({"result": None, "id": rid})
        elif method == "LIST_SUBSCRIPTIONS":
            await conn.ws.send_json({"result": sorted(conn.subs), "id": rid})
        else:
            await conn.ws.send_json({"error": {"code": 1, "msg": f"Unknown method {method}"}, "id": rid})

    # ---- the mark-price timer ----

    async def _tick_forever(self) -> None:
        while True:
            step = self.mark_interval_ms or FAST_CADENCE_MS
            now_ms = int(time.time() * 1000)
            # on the cadence's grid of the wall clock, as Binance's event times are
            await asyncio.sleep((step - now_ms % step) / 1000)
            await self.tick(int(time.time() * 1000 + 0.5) // step * step)

    async def tick(self, wall_ms: int) -> None:
        """Push what is due at `wall_ms`: mark prices, and any account change found."""
        await self.publish_changes()
        due: list[tuple[_Conn, str]] = []
        for conn in list(self.conns):
            for name, cadence in conn.subs.items():
                every = self.mark_interval_ms or cadence
                if wall_ms % every < (self.mark_interval_ms or FAST_CADENCE_MS):
                    due.append((conn, name))
        if not due:
            return
        marks = dict(self.engine.marks)
        self._pushed(marks)
        for conn, name in due:
            payload = self._mark_payload(name, marks)
            await _send(conn, {"stream": name, "data": payload} if conn.combined else payload)

    def _mark_payload(self, name: str, marks: dict[str, float]) -> Any:
        if name.startswith("!markPrice@arr"):
            return [self._mark_event(sym, mark) for sym, mark in marks.items()]
        return self._mark_event(name.split("@", 1)[0].upper(), marks.get(name.split("@", 1)[0].upper()))

    def _mark_event(self, symbol: str, mark: float | None) -> dict[str, Any]:
        now = self.engine.now_ms
        price = fmt(mark) if mark is not None else "0"
        return {
            "e": "markPriceUpdate",
            "E": now,
            "s": symbol,
            "p": price,
            "i": price,
            "P": price,
            "r": FUNDING_RATE,
            "T": (now // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS,
        }

    # ---- the user-data stream ----

    async def publish_changes(self) -> None:
        """Push ACCOUNT_UPDATE / ORDER_TRADE_UPDATE / ALGO_UPDATE for what changed since last time,
        to every user-data connection of the account."""
        for conn in [
            c
            for c in self.conns
            if c.api_key and not c.expired and self.listen_keys.owner(c.listen_key) is None
        ]:
            if self.listen_keys.expired(conn.listen_key):  # said once; the line stays open (docs)
                conn.expired = True
                event = {"e": "listenKeyExpired", "E": self.engine.now_ms, "listenKey": conn.listen_key}
                await _send(conn, event)
            else:  # deleted: a DELETE closes the stream
                self.conns.discard(conn)
                await conn.ws.close()
        listening = {c.api_key for c in self.conns if c.api_key is not None and not c.expired}
        for api_key in list(self._seen):
            if api_key not in listening:
                del self._seen[api_key]  # a reconnect starts from the books as they are then
                continue
            acct = self.engine.accounts[api_key]
            events = self._events(acct, self._seen[api_key])
            if not events:
                continue
            self._seen[api_key] = self._seen_of(acct)
            for conn in [c for c in self.conns if c.api_key == api_key and not c.expired]:
                for event in events:
                    await _send(conn, event)

    def _events(self, acct: SimAccount, seen: _Seen) -> list[dict[str, Any]]:
        now = self.engine.now_ms
        events: list[dict[str, Any]] = []
        for key, state in self._order_states(acct).items():
            if seen.orders.get(key) != state:
                events.append(self._order_event(acct, key, seen.orders.get(key), now))
        now_pos = _positions_of(acct)
        changed = [
            k for k in now_pos.keys() | seen.positions.keys() if now_pos.get(k) != seen.positions.get(k)
        ]
        if changed or acct.wallet != seen.wallet:
            events.append(account_event(acct, self.engine.marks, sorted(changed), now))
        return events

    def _order_states(self, acct: SimAccount) -> dict[OrderKey, tuple[str, float]]:
        """(status, executed) of every order the stream reports on: Binance's plain orders (those
        a trigger placed too) and its algo orders, which have no executed quantity."""
        states: dict[OrderKey, tuple[str, float]] = {
            o.order_id: (o.status, o.executed_qty) for o in acct.orders.values()
        }
        states.update({("algo", a.algo_id): (a.status, 0.0) for a in acct.algo_orders.values()})
        return states

    def _order_event(
        self, acct: SimAccount, key: OrderKey, before: tuple[str, float] | None, now: int
    ) -> dict[str, Any]:
        if isinstance(key, tuple):
            return algo_event(acct.algo_orders[key[1]], now)
        return order_event(acct.orders[key], before, now)

    def _seen_of(self, acct: SimAccount) -> _Seen:
        return _Seen(acct.wallet, _positions_of(acct), self._order_states(acct))


def _cadence(name: str) -> int | None:
    """The push interval of a mark-price stream name, or None for a stream the emulator lacks."""
    base, _, rest = name.partition("@")
    if rest in ("markPrice", "markPrice@1s") and base:
        return FAST_CADENCE_MS if rest.endswith("@1s") else PLAIN_CADENCE_MS
    if name in ("!markPrice@arr", "!markPrice@arr@1s"):
        return FAST_CADENCE_MS if name.endswith("@1s") else PLAIN_CADENCE_MS
    return None


def _positions_of(acct: SimAccount) -> dict[tuple[str, str], tuple[float, float]]:
    return {k: (p.amount, p.entry_price) for k, p in acct.positions.items() if p.amount}


async def _send(conn: _Conn, payload: Any) -> None:
    if conn.ws.closed:
        return
    with contextlib.suppress(ConnectionError, RuntimeError):
        await conn.ws.send_str(json.dumps(payload, separators=(",", ":")))
