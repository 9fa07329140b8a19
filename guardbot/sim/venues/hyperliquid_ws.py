"""Hyperliquid's websocket over one SimServer: one endpoint, `/ws`, for market data and user data
alike (ccxt.pro's hyperliquid points `urls.api.ws.public` at it).

- `{"method": "subscribe", "subscription": {...}}` is answered `{"channel": "subscriptionResponse",
  "data": {"method": "subscribe", "subscription": {...}}}`; `unsubscribe` the same way. A duplicate
  subscribe, an unsubscribe of nothing, or a subscription the emulator does not serve is answered
  on the `error` channel (`{"channel": "error", "data": "..."}`, the words are the emulator's;
  "Already subscribed" is Hyperliquid's, which ccxt recognises).
- Served subscriptions: `activeAssetCtx` {coin}, `clearinghouseState` {user}, `orderUpdates` {user}.
  User streams subscribe by address, unsigned, as Hyperliquid's do: anyone may watch any user.
- `activeAssetCtx`: the context at once, then whenever its `markPx` changed. Hyperliquid documents
  no timer: it pushes a context as it updates. The emulator looks every 100 ms (`mark_interval_ms`
  overrides) and a quiet market (a still mark) sends nothing.
- `clearinghouseState`: the state at once, then whenever it changed (a fill, a transfer, the marks
  moving its figures), found after every REST request and every tick.
- `orderUpdates`: no snapshot; a row per order whose status or size changed.
- `{"method": "ping"}` is answered `{"channel": "pong"}` (`answer_pings = False`: a line that stays
  open but goes quiet). `kill()` / `refuse` let a test make the streams die and come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from guardbot.sim.book import SimAccount
from guardbot.sim.engine import SimExchange
from guardbot.sim.venues import hyperliquid_ws_events as ev
from guardbot.sim.venues.hyperliquid_actions import Actions
from guardbot.sim.venues.stream_hub import StreamHub

CTX_CHECK_MS = 100  # the emulator's look for changed contexts (Hyperliquid pushes as they update)
PATH = "/ws"
USER_TYPES = ("clearinghouseState", "orderUpdates")


@dataclass(eq=False)
class _Conn:
    ws: web.WebSocketResponse
    subs: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> subscription
    marks: dict[str, str] = field(default_factory=dict)  # symbol -> markPx last pushed
    states: dict[str, str] = field(default_factory=dict)  # user -> clearinghouse state last pushed
    orders: dict[str, dict[int, ev.OrderState]] = field(default_factory=dict)  # user -> oid -> state


class HyperliquidStreams(StreamHub[_Conn]):
    def __init__(self, engine: SimExchange, actions: Actions) -> None:
        super().__init__()  # mark_interval_ms None: the emulator's 100 ms look
        self.engine = engine
        self.actions = actions
        self.answer_pings = True

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get(PATH, self._serve)

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        return await self._connection(request, _Conn)

    # ---- requests ----

    async def _command(self, conn: _Conn, text: str) -> None:
        try:
            req = json.loads(text)
            method = str(req["method"])
        except (ValueError, KeyError, TypeError):
            await _send(conn, ev.channel("error", f"Error parsing JSON into valid websocket request: {text}"))
            return
        if method == "ping":
            if self.answer_pings:
                await _send(conn, {"channel": "pong"})
            return
        sub = req.get("subscription")
        if method not in ("subscribe", "unsubscribe") or not isinstance(sub, dict):
            await _send(conn, ev.channel("error", f"Error parsing JSON into valid websocket request: {text}"))
            return
        problem = self._invalid(sub)
        if problem is not None:
            await _send(conn, ev.channel("error", f"Invalid subscription {json.dumps(sub)}: {problem}"))
            return
        sub = _normal(sub)
        key = json.dumps(sub, sort_keys=True)
        if method == "unsubscribe":
            if conn.subs.pop(key, None) is None:
                await _send(conn, ev.channel("error", f"Already unsubscribed: {json.dumps(sub)}"))
                return
            await _send(conn, ev.ack(method, sub))
            return
        if key in conn.subs:
            await _send(conn, ev.channel("error", f"Already subscribed: {json.dumps(sub)}"))
            return
        conn.subs[key] = sub
        await _send(conn, ev.ack(method, sub))
        await self._first(conn, sub)

    def _invalid(self, sub: dict[str, Any]) -> str | None:
        kind = sub.get("type")
        if kind == "activeAssetCtx":
            return None if self._symbol(sub.get("coin")) else "unknown coin"
        if kind in USER_TYPES:
            user = sub.get("user")
            ok = isinstance(user, str) and user.startswith("0x") and len(user) == 42
            return None if ok else "user must be a 0x address"
        return "not served by the emulator"

    def _symbol(self, coin: Any) -> str | None:
        for sym, m in self.engine.markets.items():
            if m.base == coin:
                return sym
        return None

    async def _first(self, conn: _Conn, sub: dict[str, Any]) -> None:
        """What a new subscription starts with: the context, the state; order updates have none."""
        ex = self.engine
        if sub["type"] == "activeAssetCtx":
            symbol = self._symbol(sub["coin"])
            assert symbol is not None
            conn.marks[symbol] = ev.mark_word(ex, symbol)
            await _send(conn, ev.ctx_message(ex, symbol))
            return
        user = sub["user"]
        acct = self._account(user)
        if sub["type"] == "clearinghouseState":
            state = ev.state_of(ex, acct)
            conn.states[user] = ev.state_key(state)
            await _send(conn, ev.state_message(user, state))
        else:
            conn.orders[user] = ev.orders_of(ex, self.actions, acct)[0]

    def _account(self, user: str) -> SimAccount | None:
        return self.engine.accounts.get(user)

    # ---- the context timer ----

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep((self.mark_interval_ms or CTX_CHECK_MS) / 1000)
            await self.tick()

    async def tick(self) -> None:
        """Push the contexts whose mark changed, and any user-state change found."""
        await self.publish_changes()
        pushed: dict[str, float] = {}
        for conn in list(self.conns):
            for symbol, sent in list(conn.marks.items()):
                if not self._has(conn, "activeAssetCtx", coin=self.engine.markets[symbol].base):
                    del conn.marks[symbol]
                    continue
                now = ev.mark_word(self.engine, symbol)
                if now == sent:
                    continue  # a still context: nothing is pushed
                conn.marks[symbol] = now
                pushed[symbol] = self.engine.marks[symbol]
                await _send(conn, ev.ctx_message(self.engine, symbol))
        if pushed:
            self._pushed(pushed)

    # ---- user data ----

    async def publish_changes(self) -> None:
        """Push `clearinghouseState` and `orderUpdates` for what changed since each connection's
        last push of them."""
        ex = self.engine
        for conn in list(self.conns):
            for sub in list(conn.subs.values()):
                if sub["type"] not in USER_TYPES:
                    continue
                user = sub["user"]
                acct = self._account(user)
                if sub["type"] == "clearinghouseState":
                    state = ev.state_of(ex, acct)
                    key = ev.state_key(state)
                    if conn.states.get(user) != key:
                        conn.states[user] = key
                        await _send(conn, ev.state_message(user, state))
                    continue
                states, rows = ev.orders_of(ex, self.actions, acct)
                changed = ev.order_changes(conn.orders.get(user, {}), states, rows)
                conn.orders[user] = states
                if changed:
                    await _send(conn, ev.channel("orderUpdates", changed))

    @staticmethod
    def _has(conn: _Conn, kind: str, **fields: Any) -> bool:
        subs = conn.subs.values()
        return any(s["type"] == kind and all(s.get(k) == v for k, v in fields.items()) for s in subs)


def _normal(sub: dict[str, Any]) -> dict[str, Any]:
    """The subscription as acknowledged: addresses lowercased (Hyperliquid's are case-blind)."""
    out = dict(sub)
    if isinstance(out.get("user"), str):
        out["user"] = out["user"].lower()
    return out


async def _send(conn: _Conn, payload: Any) -> None:
    if conn.ws.closed:
        return
    with contextlib.suppress(ConnectionError, RuntimeError):
        await conn.ws.send_str(json.dumps(payload, separators=(",", ":")))
