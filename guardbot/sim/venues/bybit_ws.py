"""Bybit v5 websocket streams over one SimServer: the public linear stream and the private stream.

What ccxt.pro's bybit connects to (its `urls.api.ws` pointed at `ws://HOST/v5/...`):
- `/v5/public/linear`: `{"op": "subscribe", "req_id": 1, "args": ["tickers.BTCUSDT"]}` answered
  `{"success": true, "ret_msg": "", "conn_id": C, "req_id": "1", "op": "subscribe"}`, then the
  ticker's `snapshot` and, whenever the mark changed, a `delta` of the changed fields. Bybit pushes
  derivatives tickers every 100 ms *when something changed*: a quiet market sends nothing. So does
  the emulator (`mark_interval_ms` overrides the 100 ms).
- `/v5/private`: `{"op": "auth", "args": [apiKey, expires, signature]}` where signature is the hex
  HMAC-SHA256 of "GET/realtime" + expires with the key's secret, and expires is still in the future;
  then `position`, `order`, `wallet` (or `position.linear`, ...) pushed when a REST request or the
  engine changes the account. A subscription before a successful auth is refused.
- `{"op": "ping"}` is answered on both, in each stream's own pong shape (public: `ret_msg: "pong"`,
  private: `op: "pong"` with the server time); `answer_pings = False` makes the line go quiet
  without closing (a test's half-dead connection).
`kill()` / `refuse` let a test make the streams die and come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from guardbot.sim.engine import SimExchange
from guardbot.sim.venues import bybit_ws_events as ev
from guardbot.sim.venues.stream_hub import StreamHub

TICKER_CADENCE_MS = 100  # Bybit: derivatives tickers, every 100 ms when changed
PUBLIC_PATH = "/v5/public/linear"
PRIVATE_PATH = "/v5/private"
# The auth failures' ret_msg. Their shape (success false, op auth, conn_id) is Bybit's documented
# reply; the words are the emulator's, tests match the shape and the word "auth" only.
AUTH_PARAMS = "Params Error"
AUTH_EXPIRED = "Request expired: expires must be later than the server time"
AUTH_DENIED = "Request not authorized: auth failed, the api key or the signature is invalid"
NOT_AUTHED = "Request not authorized"


@dataclass(eq=False)
class _Conn:
    ws: web.WebSocketResponse
    private: bool
    conn_id: str = field(default_factory=lambda: f"{uuid.uuid4().hex[:20]}-sim")
    api_key: str | None = None  # set by a successful auth
    topics: set[str] = field(default_factory=set)
    marks: dict[str, str] = field(default_factory=dict)  # symbol -> mark last pushed on this line


class BybitStreams(StreamHub[_Conn]):
    def __init__(self, engine: SimExchange) -> None:
        super().__init__()  # mark_interval_ms None: Bybit's 100 ms
        self.engine = engine
        self.answer_pings = True
        self._seen: dict[str, ev.Seen] = {}
        self._cs = 0  # cross sequence of the ticker messages

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get(PUBLIC_PATH, self._public)
        router.add_get(PRIVATE_PATH, self._private)

    # ---- connections ----

    async def _public(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, private=False)

    async def _private(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, private=True)

    async def _serve(self, request: web.Request, *, private: bool) -> web.StreamResponse:
        return await self._connection(request, lambda ws: _Conn(ws, private))

    async def _command(self, conn: _Conn, text: str) -> None:
        try:
            req = json.loads(text)
            op = str(req["op"])
        except (ValueError, KeyError, TypeError):
            await _send(conn, {"success": False, "ret_msg": "error:invalid op", "conn_id": conn.conn_id})
            return
        rid = {"req_id": str(req["req_id"])} if req.get("req_id") is not None else {}
        args = req.get("args") if isinstance(req.get("args"), list) else []
        if op == "ping":
            if not self.answer_pings:
                return
            pong: dict[str, Any]
            if conn.private:
                pong = {**rid, "op": "pong", "args": [str(int(time.time() * 1000))], "conn_id": conn.conn_id}
            else:
                pong = {"success": True, "ret_msg": "pong", "conn_id": conn.conn_id, **rid, "op": "ping"}
            await _send(conn, pong)
        elif op == "auth" and conn.private:
            failure = self._auth(conn, args)
            ok = failure is None
            await _send(
                conn, {**rid, "success": ok, "ret_msg": failure or "", "op": "auth", "conn_id": conn.conn_id}
            )
        elif op == "subscribe":
            await self._subscribe(conn, [str(a) for a in args], rid)
        elif op == "unsubscribe":
            conn.topics.difference_update(str(a) for a in args)
            await _send(conn, {"success": True, "ret_msg": "", "conn_id": conn.conn_id, **rid, "op": op})
        else:
            await _send(
                conn,
                {"success": False, "ret_msg": "error:invalid op", "conn_id": conn.conn_id, **rid, "op": op},
            )

    def _auth(self, conn: _Conn, args: list[Any]) -> str | None:
        """None when `args` ([apiKey, expires, signature]) sign in an account, else why not."""
        if len(args) != 3:
            return AUTH_PARAMS
        key, expires, signature = (str(a) for a in args)
        try:
            expires_ms = int(expires)
        except ValueError:
            return AUTH_PARAMS
        acct = self.engine.accounts.get(key)
        if acct is None:
            return AUTH_DENIED
        expected = hmac.new(
            acct.secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            return AUTH_DENIED
        if expires_ms <= int(time.time() * 1000):
            return AUTH_EXPIRED
        conn.api_key = key
        self._seen.setdefault(key, ev.seen_of(self.engine, acct))
        return None

    async def _subscribe(self, conn: _Conn, topics: list[str], rid: dict[str, str]) -> None:
        def reply(ok: bool, msg: str = "") -> dict[str, Any]:
            return {"success": ok, "ret_msg": msg, "conn_id": conn.conn_id, **rid, "op": "subscribe"}

        if conn.private and conn.api_key is None:
            await _send(conn, reply(False, NOT_AUTHED))
            return
        bad = [t for t in topics if not self._valid(conn, t)]
        if bad or not topics:
            await _send(conn, reply(False, f"error:handler not found,topic:{bad[0] if bad else ''}"))
            return
        await _send(conn, reply(True))
        for topic in topics:
            if topic in conn.topics:
                continue
            conn.topics.add(topic)
            if not conn.private:  # a ticker subscription starts with the whole ticker
                symbol = topic.split(".", 1)[1]
                conn.marks[symbol] = ev.mark_word(self.engine, symbol)
                await _send(conn, ev.ticker_message(self.engine, symbol, "snapshot", self._next_cs()))

    def _valid(self, conn: _Conn, topic: str) -> bool:
        if conn.private:
            return topic in ev.PRIVATE_TOPICS or topic in {f"{t}.linear" for t in ev.PRIVATE_TOPICS}
        kind, _, symbol = topic.partition(".")
        return kind == "tickers" and symbol in self.engine.markets

    def _next_cs(self) -> int:
        self._cs += 1
        return self._cs

    # ---- the ticker timer ----

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep((self.mark_interval_ms or TICKER_CADENCE_MS) / 1000)
            await self.tick()

    async def tick(self) -> None:
        """Push what changed since the last tick: ticker deltas, and any account change found."""
        await self.publish_changes()
        pushed: dict[str, float] = {}
        for conn in [c for c in self.conns if not c.private]:
            for symbol, sent in list(conn.marks.items()):
                if f"tickers.{symbol}" not in conn.topics:
                    continue
                now = ev.mark_word(self.engine, symbol)
                if now == sent:
                    continue  # nothing changed: Bybit sends nothing
                conn.marks[symbol] = now
                pushed[symbol] = self.engine.marks[symbol]
                await _send(conn, ev.ticker_message(self.engine, symbol, "delta", self._next_cs()))
        if pushed:
            self._pushed(pushed)

    # ---- the private stream ----

    async def publish_changes(self) -> None:
        """Push `position` / `order` / `wallet` for what changed since last time, to every
        authenticated connection of the account that subscribed the topic."""
        listening = {c.api_key for c in self.conns if c.private and c.api_key is not None}
        for api_key in list(self._seen):
            if api_key not in listening:
                del self._seen[api_key]  # a reconnect starts from the books as they are then
                continue
            acct = self.engine.accounts[api_key]
            topics, self._seen[api_key] = ev.changes(self.engine, acct, self._seen[api_key])
            if not topics:
                continue
            now = self.engine.now_ms
            for conn in [c for c in self.conns if c.api_key == api_key]:
                for topic, rows in topics.items():
                    for name in (topic, f"{topic}.linear"):
                        if name in conn.topics:
                            await _send(conn, ev.private_message(name, rows, now))


async def _send(conn: _Conn, payload: Any) -> None:
    if conn.ws.closed:
        return
    with contextlib.suppress(ConnectionError, RuntimeError):
        await conn.ws.send_str(json.dumps(payload, separators=(",", ":")))
