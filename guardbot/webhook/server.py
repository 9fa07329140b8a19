"""The signal webhook: `POST /signal` takes TradingView-style alert JSON (schema: `GET /schema`).

Each request, in order:
1. rate limit per source address (a token bucket): 429 with Retry-After;
2. body size capped at `max_body_bytes`: 413;
3. JSON object: 400;
4. the shared secret (X-Guardbot-Secret header, or `secret` in the body), compared in constant
   time: 401;
5. the signal schema (and the intent it makes): 422 naming the field;
6. a signal id already received: 200 `duplicate`, journaled, nothing sent; a `flat` side (a
   strategy alert's exit) is 200 `ignored`: exits are the stop's and the take-profits' job;
7. the intent goes to the entry desk of each account (or the one it names): sized, checked, sent
   as a bracket or refused. The answer waits up to `reply_within_s` for the outcome (200 with
   `placed`, `refused`, ... per account), else 202 `queued`; the work goes on either way.

Every error answer is `{"error": "<one line>"}`; rejected requests are journaled as events.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from guardbot.config.secrets import resolve_secret
from guardbot.config.strategies import StrategyConfig
from guardbot.intents.desk import EntryDesk, Outcome
from guardbot.intents.model import Intent, one_line
from guardbot.store import Journal
from guardbot.strategies_runtime.loader import StrategyLoadError
from guardbot.webhook.ratelimit import RateLimiter
from guardbot.webhook.signal import Signal, WebhookParams, signal_schema

log = logging.getLogger("guardbot.webhook")

SOURCE = "webhook"
SECRET_HEADER = "X-Guardbot-Secret"
MIN_SECRET_CHARS = 16
SEEN_IDS = 10_000  # ids remembered in memory; the journal remembers every one


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


class WebhookServer:
    def __init__(
        self,
        params: WebhookParams,
        secret: str,
        desks: Mapping[str, EntryDesk],
        journal: Journal,
        *,
        clock: Any = time.monotonic,
    ) -> None:
        self.params = params
        self.desks = dict(desks)
        self.journal = journal
        self._secret = _digest(secret)
        self.limiter = RateLimiter(params.rate_limit_per_minute, params.rate_limit_burst, clock=clock)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._tasks: set[asyncio.Task[dict[str, Outcome]]] = set()
        self.app = web.Application(client_max_size=params.max_body_bytes)
        self.app.router.add_post("/signal", self.handle)
        self.app.router.add_get("/schema", self.schema)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"http://{self.params.bind}:{self.port}"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.params.bind, self.params.port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.params.port
        log.info("webhook listening on %s/signal for %s", self.url, ", ".join(self.desks))

    async def stop(self, wait_s: float = 10.0) -> None:
        """Stop listening (idempotent), then let the intents in flight finish (bounded)."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=wait_s)

    # ------------------------------------------------------------------ requests

    async def schema(self, request: web.Request) -> web.Response:
        return web.Response(text=signal_schema(), content_type="application/schema+json")

    def _source(self, request: web.Request) -> str:
        if self.params.trust_forwarded_for:
            forwarded = request.headers.get("X-Forwarded-For", "")
            if forwarded.strip():
                return forwarded.split(",")[0].strip()
        return request.remote or "unknown"

    async def _refuse(self, status: int, text: str, source: str, **headers: str) -> web.Response:
        if status != 429:  # a flood is not journaled row by row
            with contextlib.suppress(Exception):
                await self.journal.record_event(
                    None,
                    int(time.time() * 1000),
                    kind="webhook_rejected",
                    text=f"{status}: {text}",
                    details={"source": source, "status": status},
                )
        return web.json_response({"error": text}, status=status, headers=headers or None)

    async def handle(self, request: web.Request) -> web.Response:
        source = self._source(request)
        allowed, wait = self.limiter.allow(source)
        if not allowed:
            per = self.params.rate_limit_per_minute
            text = f"rate limit: at most {per:g} signals a minute from one source; retry in {wait:.0f}s"
            return await self._refuse(429, text, source, **{"Retry-After": str(max(1, round(wait)))})
        cap = self.params.max_body_bytes
        if request.content_length is not None and request.content_length > cap:
            return await self._refuse(
                413, f"body is {request.content_length} bytes, over the {cap}-byte limit", source
            )
        body = await request.content.read(cap + 1)
        if len(body) > cap:
            return await self._refuse(413, f"body is over the {cap}-byte limit", source)
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            where = (
                f" (line {err.lineno} column {err.colno})" if isinstance(err, json.JSONDecodeError) else ""
            )
            return await self._refuse(400, f"body is not JSON: {getattr(err, 'msg', err)}{where}", source)
        if not isinstance(data, dict):
            return await self._refuse(400, f"body must be a JSON object, got {type(data).__name__}", source)
        given = request.headers.get(SECRET_HEADER) or data.get("secret")
        if not isinstance(given, str) or not hmac.compare_digest(_digest(given), self._secret):
            return await self._refuse(
                401, f'missing or wrong secret (the {SECRET_HEADER} header or "secret")', source
            )
        if str(data.get("side", "")).strip().lower() == "flat":  # a strategy alert's exit
            text = "a flat signal opens nothing: exits are the stop's and the take-profits' job"
            return web.json_response({"status": "ignored", "id": data.get("id"), "reason": text})
        try:
            signal = Signal.model_validate(data)
            intent = signal.intent()
        except ValidationError as err:
            return await self._refuse(422, one_line(err), source)
        accounts = list(self.desks)
        if signal.account is not None:
            if signal.account not in self.desks:
                served = ", ".join(accounts)
                text = f"account: {signal.account!r} is not one of this webhook's accounts ({served})"
                return await self._refuse(422, text, source)
            accounts = [signal.account]
        if signal.id in self._seen:  # checked and marked with no await in between: a burst cannot race
            return await self._duplicate(signal, accounts)
        self._seen[signal.id] = None
        while len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)
        task = asyncio.get_running_loop().create_task(self._submit(intent, signal.id, accounts))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        done, _ = await asyncio.wait({task}, timeout=self.params.reply_within_s)
        if not done:
            return web.json_response({"status": "queued", "id": signal.id}, status=202)
        return web.json_response(_answer(signal.id, task.result()))

    async def _duplicate(self, signal: Signal, accounts: list[str]) -> web.Response:
        text = f"signal {signal.id!r} was received before: duplicate ignored"
        for account in accounts:
            await self.journal.record_event(
                account,
                int(time.time() * 1000),
                kind="intent_duplicate",
                text=text,
                details={"source": SOURCE},
            )
        return web.json_response({"status": "duplicate", "id": signal.id, "reason": text})

    async def _submit(self, intent: Intent, key: str, accounts: list[str]) -> dict[str, Outcome]:
        out: dict[str, Outcome] = {}
        for account in accounts:
            try:
                out[account] = await self.desks[account].submit(intent, source=SOURCE, key=key)
            except Exception as exc:  # one account's trouble must not lose the others' intents
                log.exception("webhook: signal %s on %s failed", key, account)
                out[account] = Outcome("failed", f"{type(exc).__name__}: {exc}")
        return out


def _answer(signal_id: str, outcomes: Mapping[str, Outcome]) -> dict[str, Any]:
    per = {a: {"status": o.status, "reason": o.reason} for a, o in outcomes.items()}
    statuses = {o.status for o in outcomes.values()}
    status = statuses.pop() if len(statuses) == 1 else "mixed"
    reason = next(iter(outcomes.values())).reason if len(outcomes) == 1 else ""
    return {"status": status, "id": signal_id, "reason": reason, "accounts": per}


async def start_webhook(
    config: StrategyConfig, desks: Mapping[str, EntryDesk], journal: Journal, environ: Mapping[str, str]
) -> WebhookServer:
    """The webhook of `config` (its parameters validated), listening. StrategyLoadError otherwise."""
    try:
        params = WebhookParams.model_validate(config.parameters)
    except ValidationError as err:
        raise StrategyLoadError(f"strategy 'webhook': parameters: {one_line(err)}") from None
    secret, problem = resolve_secret(params.secret_env, environ, "strategies.webhook.parameters.secret_env")
    if secret is None:
        raise StrategyLoadError(f"strategy 'webhook': {problem}")
    if len(secret.get_secret_value()) < MIN_SECRET_CHARS:
        raise StrategyLoadError(
            f"strategy 'webhook': {params.secret_env} is too short: "
            f"use at least {MIN_SECRET_CHARS} random characters"
        )
    server = WebhookServer(params, secret.get_secret_value(), {a: desks[a] for a in config.accounts}, journal)
    try:
        await server.start()
    except OSError as err:
        raise StrategyLoadError(
            f"strategy 'webhook': cannot listen on {params.bind}:{params.port}: {err.strerror or err}"
        ) from None
    return server
