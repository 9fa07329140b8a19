"""The /_sim/ control API: JSON over HTTP, answered to loopback clients only.

Errors are HTTP 400 `{"error": "one line"}`; a rejection by the engine names the venue's code
(e.g. "rejected: -2019 Margin is insufficient." on Binance).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from guardbot.sim.engine import SimError
from guardbot.sim.faults import make_fault
from guardbot.sim.markets import resolve_symbol
from guardbot.sim.scenario import ScenarioError, load_scenario

if TYPE_CHECKING:
    from guardbot.sim.server import SimServer

LOOPBACK = ("127.0.0.1", "::1", "localhost")
Json = Any


class ControlAPI:
    def __init__(self, server: SimServer) -> None:
        self.server = server
        self.engine = server.engine
        self.handlers: dict[tuple[str, str], Callable[[dict[str, Any]], Awaitable[Json] | Json]] = {
            ("POST", "/_sim/accounts"): self._account,
            ("POST", "/_sim/positions"): self._position,
            ("POST", "/_sim/mark"): self._mark,
            ("POST", "/_sim/shock"): self._shock,
            ("POST", "/_sim/advance"): self._advance,
            ("POST", "/_sim/deposit"): self._deposit,
            ("POST", "/_sim/withdraw"): self._withdraw,
            ("POST", "/_sim/markets"): self._list_market,
            ("POST", "/_sim/scenario"): self._scenario,
            ("POST", "/_sim/faults"): self._fault,
            ("GET", "/_sim/faults"): lambda b: [f.as_json() for f in server.faults],
            ("DELETE", "/_sim/faults"): self._clear_faults,
            ("GET", "/_sim/requests"): lambda b: [r.as_json() for r in server.request_log],
            ("DELETE", "/_sim/requests"): self._clear_log,
            ("GET", "/_sim/state"): lambda b: self.engine.state(),
            ("GET", "/_sim/history"): self._history,
        }

    async def handle(self, request: web.Request) -> web.Response:
        if request.remote not in LOOPBACK:
            return web.json_response({"error": "the control API answers loopback clients only"}, status=403)
        body: dict[str, Any] = {}
        if request.can_read_body:
            try:
                loaded = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                return web.json_response({"error": "body must be a JSON object"}, status=400)
            if not isinstance(loaded, dict):
                return web.json_response({"error": "body must be a JSON object"}, status=400)
            body = loaded
        body.update({k: v for k, v in request.query.items() if k not in body})
        handler = self.handlers.get((request.method, request.path))
        if handler is None:
            paths = sorted({f"{m} {p}" for m, p in self.handlers})
            return web.json_response(
                {"error": f"unknown control call; expected one of: {', '.join(paths)}"}, status=404
            )
        try:
            out = handler(body)
            if asyncio.iscoroutine(out):
                out = await out
        except SimError as e:
            line, venue_body = self.server.venue.describe(e)
            return web.json_response({"error": line, **venue_body}, status=400)
        except (ValueError, KeyError, TypeError, ScenarioError) as e:
            msg = f"missing field {e}" if isinstance(e, KeyError) else str(e)
            return web.json_response({"error": msg}, status=400)
        return web.json_response(out, dumps=lambda o: json.dumps(o, default=_json_default))

    def _sym(self, name: Any) -> str:
        sym = resolve_symbol(self.engine.markets, str(name))
        if sym is None:
            raise ValueError(f"unknown symbol {name!r}; expected one of {', '.join(self.engine.markets)}")
        return sym

    def _account(self, b: dict[str, Any]) -> Json:
        acct = self.engine.create_account(
            wallet=float(b.get("wallet", 10_000.0)),
            api_key=b.get("api_key"),
            secret=b.get("secret"),
            position_mode=b.get("position_mode", "one_way"),
            name=str(b.get("name", "")),
        )
        return {
            "api_key": acct.api_key,
            "secret": acct.secret,
            "wallet": acct.wallet,
            "position_mode": acct.position_mode.value,
        }

    def _position(self, b: dict[str, Any]) -> Json:
        pos = self.engine.open_position(
            str(b["api_key"]),
            self._sym(b["symbol"]),
            side=str(b.get("side", "long")),
            qty=float(b["qty"]),
            leverage=int(b["leverage"]) if b.get("leverage") is not None else None,
            margin_mode=str(b.get("margin_mode", "cross")),
            isolated_margin=float(b["isolated_margin"]) if b.get("isolated_margin") is not None else None,
            entry_price=float(b["entry_price"]) if b.get("entry_price") is not None else None,
        )
        return {
            "symbol": pos.symbol,
            "position_side": pos.position_side,
            "amount": pos.amount,
            "entry_price": pos.entry_price,
            "margin_mode": pos.margin_mode.value,
            "isolated_wallet": pos.isolated_wallet,
        }

    def _mark(self, b: dict[str, Any]) -> Json:
        marks = b.get("marks") or {b["symbol"]: b["price"]}
        self.engine.set_marks({self._sym(s): float(p) for s, p in marks.items()})
        return {"marks": self.engine.marks, "time_ms": self.engine.now_ms}

    def _shock(self, b: dict[str, Any]) -> Json:
        beta = b.get("beta_follow")
        moved = self.engine.shock(
            self._sym(b["symbol"]), float(b["pct"]), None if beta is None else float(beta)
        )
        return {"marks": moved, "time_ms": self.engine.now_ms}

    def _advance(self, b: dict[str, Any]) -> Json:
        steps = self.engine.advance(float(b["seconds"]))
        return {
            "steps": steps,
            "time_ms": self.engine.now_ms,
            "marks": self.engine.marks,
            "liquidations": len(self.engine.liquidations),
        }

    def _deposit(self, b: dict[str, Any]) -> Json:
        record = _flag(b, "record", True)
        return {"wallet": self.engine.deposit(str(b["api_key"]), float(b["amount"]), record=record)}

    def _withdraw(self, b: dict[str, Any]) -> Json:
        record = _flag(b, "record", True)
        return {"wallet": self.engine.withdraw(str(b["api_key"]), float(b["amount"]), record=record)}

    def _list_market(self, b: dict[str, Any]) -> Json:
        """List a new market shaped like an existing one: {"base": "DOGE", "like": "SUI", "price": 0.2}."""
        base = str(b["base"]).upper()
        like = self.engine.markets[self._sym(b.get("like", "SUI"))]
        market = dataclasses.replace(like, id=f"{base}{like.quote}", base=base)
        price = b.get("price")
        self.engine.list_market(market, None if price is None else float(price))
        return {"symbol": market.id, "unified": market.symbol, "mark": self.engine.marks[market.id]}

    def _scenario(self, b: dict[str, Any]) -> Json:
        scenario = load_scenario(str(b["scenario"]), self.engine.markets)
        seed = b.get("seed")
        self.engine.use_scenario(scenario, None if seed is None else int(seed))
        return {"scenario": scenario.name, "seed": self.engine.seed}

    def _fault(self, b: dict[str, Any]) -> Json:
        unknown = sorted(set(b) - {"kind", "count", "path", "code", "msg", "seconds", "account"})
        if unknown:
            raise ValueError(
                f"unknown fault field {unknown[0]!r}; expected kind, count, path, code, msg, seconds, account"
            )
        fault = make_fault(
            b["kind"],
            error_kinds=self.server.venue.error_kinds,
            count=b.get("count", 1),
            path=b.get("path"),
            code=b.get("code"),
            msg=b.get("msg"),
            seconds=b.get("seconds"),
            account=b.get("account"),
            known_account=lambda who: self.engine.account_by_name_or_key(who) is not None,
        )
        self.server.add_fault(fault)
        return {"ok": True, "pending": [f.as_json() for f in self.server.faults]}

    def _clear_faults(self, b: dict[str, Any]) -> Json:
        self.server.clear_faults()
        return {"ok": True}

    def _clear_log(self, b: dict[str, Any]) -> Json:
        self.server.clear_log()
        return {"ok": True}

    def _history(self, b: dict[str, Any]) -> Json:
        acct = self.engine.account(str(b["api_key"]))
        return [[t, eq, mr if math.isfinite(mr) else None] for t, eq, mr in acct.history]


def _flag(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise ValueError(f"{key} must be true or false, got {value!r}")


def _json_default(o: object) -> Any:
    if isinstance(o, float) and not math.isfinite(o):
        return None
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
