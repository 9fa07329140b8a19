"""The emulator's HTTP core: one aiohttp server around a SimExchange, speaking its venue's wire.

The core owns what every venue shares: the connection, injected faults, the request log, the
/_sim control API and the scenario clock. The venue's wire module (guardbot/sim/venues/) owns the
paths, parameters, signing, JSON shapes and error codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from guardbot.sim.clock import ScenarioClock
from guardbot.sim.control import ControlAPI
from guardbot.sim.engine import SimExchange
from guardbot.sim.faults import Fault, FaultBook, make_fault
from guardbot.sim.venue import Incoming, Reply, Venue
from guardbot.sim.venues.binance import BinanceVenue

VENUES: dict[str, type[Venue]] = {v.exchange: v for v in (BinanceVenue,)}


@dataclass(frozen=True, slots=True)
class RequestRecord:
    method: str
    path: str
    params: dict[str, Any]  # query + body, without the signature
    status: int  # 0 when no response was sent (timeout, dropped connection)
    ts: float  # wall clock, seconds
    api_key: str | None = None
    fault: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "params": self.params,
            "status": self.status,
            "ts": self.ts,
            "fault": self.fault,
        }


def venue_for(exchange: str) -> type[Venue]:
    try:
        return VENUES[exchange]
    except KeyError:
        raise ValueError(f"no wire module for {exchange!r}; expected one of {', '.join(VENUES)}") from None


def ccxt_client_recipe(base_url: str, api_key: str, secret: str, exchange: str = "binanceusdm") -> str:
    """The lines that point an unmodified ccxt client of `exchange` at the emulator."""
    return venue_for(exchange).recipe(base_url, api_key, secret)


class SimServer:
    """aiohttp server around a SimExchange. `await start()` returns the base URL."""

    def __init__(self, engine: SimExchange | None = None, fault_delay_s: float = 30.0) -> None:
        self.engine = engine or SimExchange()
        self.venue: Venue = venue_for(self.engine.exchange)(self.engine)
        self.fault_delay_s = fault_delay_s
        self.request_log: list[RequestRecord] = []
        self._faults = FaultBook()
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._clock: ScenarioClock | None = None
        self.control = ControlAPI(self)
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._handle)

    # ---- lifecycle ----

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._closing = asyncio.Event()
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        actual = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{actual}"
        return self.base_url

    async def stop(self) -> None:
        self._closing.set()
        await self.stop_clock()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_clock(self, speed: float = 1.0, tick_s: float = 0.1) -> None:
        """Advance the engine in the background: `speed` sim seconds per wall second."""
        if self._clock is not None and self._clock.running:
            raise RuntimeError("the clock is already running")
        self._clock = ScenarioClock(self.engine, speed, tick_s)
        self._clock.start()

    async def stop_clock(self) -> None:
        if self._clock is not None:
            await self._clock.stop()
            self._clock = None

    def recipe(self, api_key: str, secret: str) -> str:
        return self.venue.recipe(self.base_url, api_key, secret)

    # ---- faults and log ----

    @property
    def faults(self) -> list[Fault]:
        return self._faults.faults

    def inject_fault(
        self,
        kind: str,
        count: int = 1,
        path: str | None = None,
        code: int | None = None,
        msg: str | None = None,
    ) -> None:
        """Make the next `count` exchange requests (optionally only those whose path starts with
        `path`) fail: "timeout", "timeout_after" (processed, then no answer), "drop",
        "drop_after", "429", "5xx" or an HTTP status like "503", or the venue's error with `code`."""
        fault = make_fault(
            kind, error_kinds=self.venue.error_kinds, count=count, path=path, code=code, msg=msg
        )
        self._faults.add(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    def clear_log(self) -> None:
        self.request_log.clear()

    def mutating_requests(self) -> list[RequestRecord]:
        """POST/PUT/DELETE to the exchange API (not /_sim, not listenKey)."""
        return [
            r
            for r in self.request_log
            if r.method in ("POST", "PUT", "DELETE")
            and not r.path.startswith("/_sim")
            and not r.path.endswith("/listenKey")
        ]

    def requests_to(self, path: str, method: str | None = None) -> list[RequestRecord]:
        return [r for r in self.request_log if r.path == path and (method is None or r.method == method)]

    async def _stall(self) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._closing.wait(), self.fault_delay_s)

    # ---- dispatch ----

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_sim/") or path == "/_sim":
            return await self.control.handle(request)
        req = Incoming(
            request.method,
            path,
            request.raw_path.partition("?")[2],
            await request.text() if request.can_read_body else "",
            request.headers,
        )
        venue = self.venue
        params: dict[str, Any] = {}
        parse_error: Reply | None = None
        try:
            params = venue.params(req)
        except Exception as exc:
            parse_error = venue.failure(exc)
            if parse_error is None:
                raise
        logged = {k: v for k, v in params.items() if k not in venue.hidden_params}
        api_key = venue.api_key(req)
        fingerprint = (req.method, request.raw_path, req.raw_body)
        if self._faults.is_resend(fingerprint):
            self.request_log.append(
                RequestRecord(req.method, path, logged, 0, time.time(), api_key, "drop(resend)")
            )
            return self._drop(request)
        fault = self._faults.take(path)
        kind = fault.kind if fault else None
        if kind in ("drop", "drop_after"):
            self._faults.expect_resend(fingerprint)

        def log(status: int) -> None:
            self.request_log.append(
                RequestRecord(req.method, path, logged, status, time.time(), api_key, kind)
            )

        if fault is not None and fault.kind in ("timeout", "drop"):
            log(0)
            if fault.kind == "timeout":
                await self._stall()
            return self._drop(request)
        if fault is not None and fault.kind not in ("timeout_after", "drop_after"):
            resp = venue.fault_reply(fault)
            log(resp.status)
            return resp
        reply = parse_error or venue.dispatch(req, params)
        if fault is not None:  # the request took effect; the client never hears about it
            log(0)
            if fault.kind == "timeout_after":
                await self._stall()
            return self._drop(request)
        log(reply.status)
        return web.json_response(
            reply.body, status=reply.status, dumps=lambda o: json.dumps(o, separators=(",", ":"))
        )

    def _drop(self, request: web.Request) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=504)
