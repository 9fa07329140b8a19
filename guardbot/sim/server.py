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
from guardbot.sim.faults import PROCESSED, RESEND_WINDOW_S, STALLING, Fault, FaultBook, make_fault
from guardbot.sim.venue import Incoming, Reply, Venue
from guardbot.sim.venues.aster import AsterVenue
from guardbot.sim.venues.binance import BinanceVenue
from guardbot.sim.venues.bybit import BybitVenue
from guardbot.sim.venues.hyperliquid import HyperliquidVenue

VENUES: dict[str, type[Venue]] = {
    v.exchange: v for v in (BinanceVenue, BybitVenue, AsterVenue, HyperliquidVenue)
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the venue answered to a request whose answer was never delivered (timeout_after,
    drop_after): did it accept it (an order placed), with which status, and a short summary."""

    status: int
    accepted: bool
    summary: str

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "accepted": self.accepted, "summary": self.summary}


@dataclass(frozen=True, slots=True)
class RequestRecord:
    method: str
    path: str
    params: dict[str, Any]  # query + body, without the signature
    status: int  # 0 when no response was sent (timeout, dropped connection)
    ts: float  # wall clock, seconds
    api_key: str | None = None
    fault: str | None = None
    account: str | None = None  # the name of the api key's account, when it has one
    outcome: Outcome | None = None  # set when the request was processed but not answered

    def as_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "params": self.params,
            "status": self.status,
            "ts": self.ts,
            "api_key": self.api_key,
            "account": self.account,
            "fault": self.fault,
            "outcome": self.outcome.as_json() if self.outcome else None,
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

    def __init__(
        self,
        engine: SimExchange | None = None,
        fault_delay_s: float = 30.0,
        resend_window_s: float = RESEND_WINDOW_S,
    ) -> None:
        self.engine = engine or SimExchange()
        self.venue: Venue = venue_for(self.engine.exchange)(self.engine)
        self.fault_delay_s = fault_delay_s  # how long a timeout stalls unless the fault says
        self.resend_window_s = resend_window_s
        self.request_log: list[RequestRecord] = []
        self._faults = FaultBook()
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._clock: ScenarioClock | None = None
        self.control = ControlAPI(self)
        self.app = web.Application()
        # websocket streams (Binance: mark prices, user data) before the catch-all of the REST wire
        self.streams = self.venue.streams()
        if self.streams is not None:
            self.streams.add_routes(self.app.router)
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
        if self.streams is not None:
            await self.streams.close()
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
        *,
        seconds: float | None = None,
        account: str | None = None,
    ) -> Fault:
        """Make exactly `count` exchange requests fail (optionally only those whose path starts with
        `path`, only those of one `account`: api key or name). Kinds: "timeout" (no answer for
        `seconds`, default `fault_delay_s`, then the connection closes), "timeout_after"
        (processed, then the same), "drop" / "drop_after" (connection closed before / after
        processing), "latency" (`seconds` of delay, then the normal answer), "429", "5xx" or a
        status 500-599, or the venue's rejection ("error", or the venue's name) with `code`.
        A bad fault is a ValueError with one line."""
        fault = make_fault(
            kind,
            error_kinds=self.venue.error_kinds,
            count=count,
            path=path,
            code=code,
            msg=msg,
            seconds=seconds,
            account=account,
            known_account=lambda who: self.engine.account_by_name_or_key(who) is not None,
        )
        self.add_fault(fault)
        return fault

    def add_fault(self, fault: Fault) -> None:
        self._faults.add(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    def clear_log(self) -> None:
        self.request_log.clear()

    def mutating_requests(self) -> list[RequestRecord]:
        """Requests that change something on the exchange (POST/PUT/DELETE, not /_sim, not
        listenKey; on Hyperliquid the /exchange actions, not the /info reads)."""
        return [
            r
            for r in self.request_log
            if not r.path.startswith("/_sim") and self.venue.is_mutating(r.method, r.path)
        ]

    def requests_to(self, path: str, method: str | None = None) -> list[RequestRecord]:
        return [r for r in self.request_log if r.path == path and (method is None or r.method == method)]

    async def _stall(self, seconds: float) -> None:
        """Wait `seconds`, or until the server stops."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    # ---- dispatch ----

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        response = await self._answer(request)
        if self.streams is not None:  # what the request changed goes out on the user-data streams
            await self.streams.publish_changes()
        return response

    async def _answer(self, request: web.Request) -> web.StreamResponse:
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
        path = venue.log_path(path, params)
        api_key = venue.api_key(req)
        owner = self.engine.accounts.get(api_key) if api_key else None
        name = owner.name or None if owner else None
        fingerprint = (req.method, request.raw_path, req.raw_body, tuple(sorted(request.headers.items())))

        def log(status: int, fault: str | None, outcome: Outcome | None = None) -> None:
            record = RequestRecord(
                req.method, path, logged, status, time.time(), api_key, fault, name, outcome
            )
            self.request_log.append(record)

        if self._faults.is_resend(fingerprint):
            log(0, "drop (resend)")
            return self._drop(request)
        fault = self._faults.take(path, api_key, name)
        kind = fault.kind if fault else None
        stall = fault.seconds if fault is not None and fault.seconds else self.fault_delay_s

        async def no_answer() -> web.StreamResponse:
            if kind in STALLING:
                await self._stall(stall)
            # The line closes unanswered: a client still waiting resends an idempotent request
            # once, at once. One that gave up first (its own timeout) sends nothing more.
            if request.transport is not None and not request.transport.is_closing():
                self._faults.expect_resend(req.method, fingerprint, self.resend_window_s)
            return self._drop(request)

        if fault is not None and kind in ("timeout", "drop"):
            log(0, kind)
            return await no_answer()
        if fault is not None and kind == "latency":
            await self._stall(stall)
        elif fault is not None and kind not in PROCESSED:
            resp = venue.fault_reply(fault)
            log(resp.status, kind)
            return resp
        reply = parse_error or venue.dispatch(req, params)
        if fault is not None and kind in PROCESSED:  # it took effect; the client never hears
            log(0, kind, Outcome(reply.status, reply.accepted, venue.summary(reply)))
            return await no_answer()
        log(reply.status, kind)
        return web.json_response(
            reply.body, status=reply.status, dumps=lambda o: json.dumps(o, separators=(",", ":"))
        )

    def _drop(self, request: web.Request) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=504)
