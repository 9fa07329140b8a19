"""Aster futures websocket streams: Binance USDⓈ-M's (`binance_ws`), where Aster keeps them.

What ccxt.pro's aster connects to (its `urls.api.ws` swap entries pointed at `ws://HOST`):
- market streams at `/stream` (combined: every payload framed `{"stream": name, "data": ...}`,
  streams named at connect with `?streams=a/b` or by SUBSCRIBE) and `/ws` (raw payloads);
  `<symbol>@markPrice[@1s]` on Binance's timer (3 s, or 1 s with `@1s`).
- the user-data stream at `/ws/<listenKey>`: ACCOUNT_UPDATE and ORDER_TRADE_UPDATE only. A
  conditional order is a plain order on Aster (no algo service, so no ALGO_UPDATE): it is reported
  under its own id and type (STOP_MARKET, ...), its trigger's fills as its own; the order the
  trigger placed is not reported separately.

listenKeys: POST/PUT/DELETE /fapi/v3/listenKey, signed as every v3 private call (EIP-712), with
Binance's validity rules (`ListenKeys`: 60 minutes, then `listenKeyExpired` and silence on a line
left open); a PUT answers `{}` as Aster documents.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from guardbot.sim.book import SimAccount
from guardbot.sim.venues.aster_orders import as_plain
from guardbot.sim.venues.binance_events import order_event
from guardbot.sim.venues.binance_ws import BinanceStreams, OrderKey, _cadence, _Conn


class AsterStreams(BinanceStreams):
    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/stream", self._combined)
        router.add_get("/ws", self._market)
        router.add_get("/ws/{key}", self._private)

    async def _combined(self, request: web.Request) -> web.StreamResponse:
        names = [n for n in request.query.get("streams", "").split("/") if n]
        subs = {n: c for n in names if (c := _cadence(n)) is not None}
        return await self._connection(request, lambda ws: _Conn(ws, subs=dict(subs), combined=True))

    def _order_states(self, acct: SimAccount) -> dict[OrderKey, tuple[str, float]]:
        states: dict[OrderKey, tuple[str, float]] = {
            o.order_id: (o.status, o.executed_qty) for o in acct.orders.values() if o.parent_algo_id is None
        }
        for a in acct.algo_orders.values():
            o = as_plain(a, self.engine)
            states[("algo", a.algo_id)] = (o.status, o.executed_qty)
        return states

    def _order_event(
        self, acct: SimAccount, key: OrderKey, before: tuple[str, float] | None, now: int
    ) -> dict[str, Any]:
        if isinstance(key, tuple):
            return order_event(as_plain(acct.algo_orders[key[1]], self.engine), before, now)
        return order_event(acct.orders[key], before, now)
