"""What the HTTP core asks of a wire module: routes, parameters, signing, replies, faults.

The core (`server.SimServer`) owns the connection, the request log, faults and the control API; a
`Venue` subclass owns everything a venue's client sees: paths, how parameters and credentials are
sent, the JSON shapes, and how a refusal is written (Binance `{"code","msg"}` with HTTP 4xx, Bybit
`{"retCode","retMsg"}` with HTTP 200).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from aiohttp import web

from guardbot.sim.book import SimAccount
from guardbot.sim.engine import SimError, SimExchange
from guardbot.sim.faults import Fault

Json = Any


@dataclass(frozen=True, slots=True)
class Incoming:
    """One exchange request as it arrived, before anything is parsed."""

    method: str
    path: str
    raw_query: str  # exactly as sent (what a signature covers), not re-encoded
    raw_body: str
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Ctx:
    params: dict[str, Any]
    account: SimAccount | None


Handler = Callable[[Ctx], Json]


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    signed: bool = True  # signed (private); False: public
    key_only: bool = False  # API key but no signature


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: Json
    accepted: bool  # the venue said yes (Binance: HTTP 2xx; Bybit: retCode 0)


class Venue(ABC):
    """A venue's wire over one engine."""

    exchange: ClassVar[str]  # ccxt id
    error_kinds: ClassVar[tuple[str, ...]]  # fault kinds answered with one of the venue's codes
    hidden_params: ClassVar[tuple[str, ...]] = ()  # never logged (signatures)

    def __init__(self, engine: SimExchange) -> None:
        self.engine = engine
        self.routes = self.build_routes()

    @abstractmethod
    def build_routes(self) -> dict[tuple[str, str], Route]: ...

    @abstractmethod
    def params(self, req: Incoming) -> dict[str, Any]:
        """The request's parameters (query and body); raises the venue's error if unreadable."""

    @abstractmethod
    def api_key(self, req: Incoming) -> str | None: ...

    @abstractmethod
    def authenticate(self, req: Incoming, route: Route) -> SimAccount | None:
        """The account of a private route (signature and timestamp checked); None for public."""

    @abstractmethod
    def success(self, result: Json) -> Reply: ...

    @abstractmethod
    def failure(self, exc: Exception) -> Reply | None:
        """The venue's answer to an engine rejection or its own wire error; None: not ours."""

    @abstractmethod
    def unknown_route(self, method: str, path: str, path_known: bool) -> Reply: ...

    @abstractmethod
    def fault_reply(self, fault: Fault) -> web.Response:
        """The answer of a fault that answers at all: 429, 5xx, or one of the venue's codes."""

    @abstractmethod
    def describe(self, exc: SimError) -> tuple[str, dict[str, Any]]:
        """A rejection in one line plus the venue's error body (for the control API)."""

    @staticmethod
    @abstractmethod
    def recipe(base_url: str, api_key: str, secret: str) -> str:
        """Python lines that point the unmodified ccxt client at the emulator."""

    def streams(self) -> Any:
        """The venue's websocket streams (an object with `add_routes`, `publish_changes`, `close`),
        or None when the emulator serves none for it."""
        return None

    def log_path(self, path: str, params: dict[str, Any]) -> str:
        """The path a request is logged and matched by faults under (Hyperliquid adds the request's
        type: every read is POST /info, every action POST /exchange)."""
        return path

    def is_mutating(self, method: str, path: str) -> bool:
        """Does a request of this method and (logged) path change anything on the exchange?"""
        return method in ("POST", "PUT", "DELETE") and not path.endswith("/listenKey")

    def summary(self, reply: Reply) -> str:
        """A short line of what a reply said (for the request log of a reply never delivered)."""
        return json.dumps(reply.body, separators=(",", ":"), default=str)[:200]

    def dispatch(self, req: Incoming, params: dict[str, Any]) -> Reply:
        route = self.routes.get((req.method, req.path))
        if route is None:
            return self.unknown_route(req.method, req.path, any(p == req.path for (_, p) in self.routes))
        try:
            acct = self.authenticate(req, route)
            return self.success(route.handler(Ctx(params, acct)))
        except Exception as exc:
            reply = self.failure(exc)
            if reply is None:
                raise
            return reply
