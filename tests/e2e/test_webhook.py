"""The signal webhook over real HTTP on loopback, trading the emulator through real ccxt:
authentication, schema errors, the body cap, duplicates, the rate limit, and a burst of 100 signals
that sends no order twice."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from guardbot.config import GuardConfig, Settings
from guardbot.intents.desk import EntryDesk
from guardbot.webhook.server import WebhookServer
from guardbot.webhook.signal import WebhookParams, signal_schema

from .conftest import QUIET_GUARD, GuardRig, RigFactory, limits

SECRET = "s3cret-s3cret-s3cret"
DOCS = Path(__file__).parents[2] / "docs"
ORDER, ALGO = "/fapi/v1/order", "/fapi/v1/algoOrder"

Post = Callable[..., Any]


async def _hook(rig: GuardRig, **params: Any) -> WebhookServer:
    desk = EntryDesk(rig.guard, Settings(guard=GuardConfig(**QUIET_GUARD)))
    server = WebhookServer(WebhookParams(port=0, **params), SECRET, {rig.name: desk}, rig.guard.journal)
    await server.start()
    return server


@pytest.fixture
async def rig(make_rig: RigFactory) -> GuardRig:
    r = make_rig(limits())
    await r.start()
    await r.cycle()
    return r


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(
    http: aiohttp.ClientSession, hook: WebhookServer, body: Any, **headers: str
) -> tuple[int, dict[str, Any], Any]:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    async with http.post(f"{hook.url}/signal", data=data, headers=headers) as resp:
        return resp.status, dict(resp.headers), await resp.json()


def signal(i: int | str = 1, **extra: Any) -> dict[str, Any]:
    return {
        "secret": SECRET,
        "id": f"sig-{i}",
        "symbol": "BTCUSDT",
        "side": "buy",
        "stop": "93100",
        "risk": 10,
        **extra,
    }


async def test_a_signal_becomes_a_bracket(rig: GuardRig, http: aiohttp.ClientSession) -> None:
    hook = await _hook(rig)
    try:
        body = signal(take_profits=[{"price": 97_000, "fraction": 1}], comment="breakout")
        status, _, answer = await post(http, hook, body)
    finally:
        await hook.stop()
    assert status == 200 and answer["status"] == "placed", answer
    assert answer["accounts"]["main"]["status"] == "placed"
    assert [r.path for r in rig.server.mutating_requests()] == [ORDER, ALGO, ALGO]
    assert rig.qty("BTCUSDT") == pytest.approx(0.004)  # 10 at risk with the stop 1,900 away
    with rig.reader() as r:
        [intent] = r.intents_for("main")
    assert (intent.source, intent.intent_key, intent.reason) == ("webhook", "sig-1", "breakout")


async def test_authentication(rig: GuardRig, http: aiohttp.ClientSession) -> None:
    hook = await _hook(rig)
    try:
        body = signal()
        del body["secret"]
        assert (await post(http, hook, body))[0] == 401
        assert (await post(http, hook, {**body, "secret": SECRET + "x"}))[0] == 401
        status, _, answer = await post(http, hook, {**body, "secret": 42})
        assert status == 401 and answer == {
            "error": 'missing or wrong secret (the X-Guardbot-Secret header or "secret")'
        }
        status, _, answer = await post(http, hook, body, **{"X-Guardbot-Secret": SECRET})
        assert status == 200 and answer["status"] == "placed"
    finally:
        await hook.stop()
    assert len([r for r in rig.server.mutating_requests() if r.path == ORDER]) == 1


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (
            "{not json",
            400,
            "body is not JSON: Expecting property name enclosed in double quotes (line 1 column 2)",
        ),
        ("[1, 2]", 400, "body must be a JSON object, got list"),
        ({k: v for k, v in signal().items() if k != "stop"}, 422, "stop: Field required"),
        (signal(side="up"), 422, "must be long or short (buy or sell), got 'up'"),
        (signal(stop="NaN"), 422, "stop: Input should be a finite number"),
        (signal(stop=-5), 422, "stop: Input should be greater than 0 (got -5)"),
        (signal(size=1), 422, "size: Extra inputs are not permitted (got 1)"),
        (
            signal(take_profits=[{"price": 90_000, "fraction": 1}]),
            422,
            "must be above its stop 93100, got 90000",
        ),
        (
            signal(take_profits=[{"price": 97_000, "fraction": 2}]),
            422,
            "take_profits.0.fraction: Input should be less",
        ),
        (signal(account="other"), 422, "account: 'other' is not one of this webhook's accounts (main)"),
    ],
)
async def test_bad_bodies_get_a_4xx_with_one_line(
    rig: GuardRig, http: aiohttp.ClientSession, body: Any, status: int, error: str
) -> None:
    hook = await _hook(rig)
    try:
        got, _, answer = await post(http, hook, body)
    finally:
        await hook.stop()
    assert got == status and error in answer["error"], answer
    assert "\n" not in answer["error"]
    assert rig.server.mutating_requests() == []


async def test_the_body_size_is_capped(rig: GuardRig, http: aiohttp.ClientSession) -> None:
    hook = await _hook(rig, max_body_bytes=512)
    try:
        status, _, answer = await post(http, hook, signal(comment="x" * 290, pad=["y" * 400]))
        assert (
            status == 413
            and answer["error"].startswith("body is ")
            and "over the 512-byte limit" in answer["error"]
        )
        chunked = json.dumps(signal(comment="x" * 600)).encode()

        async def stream() -> AsyncIterator[bytes]:  # no Content-Length: the cap applies while reading
            for i in range(0, len(chunked), 100):
                yield chunked[i : i + 100]

        async with http.post(f"{hook.url}/signal", data=stream()) as resp:
            assert resp.status == 413 and "over the 512-byte limit" in (await resp.json())["error"]
    finally:
        await hook.stop()
    assert rig.server.mutating_requests() == []


async def test_a_duplicate_signal_id_is_ignored_and_journaled(
    rig: GuardRig, http: aiohttp.ClientSession
) -> None:
    hook = await _hook(rig)
    try:
        first = await post(http, hook, signal(7))
        second = await post(http, hook, signal(7, stop="93000"))
    finally:
        await hook.stop()
    assert first[2]["status"] == "placed" and second[0] == 200 and second[2]["status"] == "duplicate"
    assert len([r for r in rig.server.mutating_requests() if r.path == ORDER]) == 1
    with rig.reader() as r:
        events = [h.row for h in r.history(0, kinds=["event"]) if h.row.kind == "intent_duplicate"]
    assert len(events) == 1 and "sig-7" in events[0].text
    # after a restart the journal still knows it
    hook = await _hook(rig)
    try:
        status, _, answer = await post(http, hook, signal(7))
    finally:
        await hook.stop()
    assert status == 200 and answer["status"] == "duplicate"
    assert len([r for r in rig.server.mutating_requests() if r.path == ORDER]) == 1


async def test_the_rate_limit_is_per_source(rig: GuardRig, http: aiohttp.ClientSession) -> None:
    hook = await _hook(rig, rate_limit_per_minute=6, rate_limit_burst=3)
    try:
        codes = [(await post(http, hook, signal(i)))[:2] for i in range(4)]
    finally:
        await hook.stop()
    assert [c for c, _ in codes] == [200, 200, 200, 429]
    assert codes[3][1]["Retry-After"] == "10"  # 6 a minute: one token every 10 s


async def test_a_burst_of_100_signals_sends_no_order_twice(
    rig: GuardRig, http: aiohttp.ClientSession
) -> None:
    """25 distinct signals, each sent 4 times, all at once (a TradingView alert fired from several
    charts, retries): 25 brackets, 75 duplicates, no order sent twice."""
    hook = await _hook(rig, rate_limit_burst=200, rate_limit_per_minute=6000, reply_within_s=10)
    bodies = []
    for _copy in range(4):
        for i in range(25):
            symbol, stop = ("BTCUSDT", "93100") if i % 2 else ("ETHUSDT", "3234")
            bodies.append(signal(i, symbol=symbol, stop=stop, side="long"))
    try:
        results = await asyncio.gather(*(post(http, hook, b) for b in bodies))
    finally:
        await hook.stop()
    statuses = [answer["status"] for code, _, answer in results if code == 200]
    assert len(statuses) == 100
    assert statuses.count("placed") == 25 and statuses.count("duplicate") == 75
    entries = [r.params for r in rig.server.mutating_requests() if r.path == ORDER]
    stops = [r.params for r in rig.server.mutating_requests() if r.path == ALGO]
    assert len(entries) == 25 and len(stops) == 25
    assert len({p["newClientOrderId"] for p in entries}) == 25
    assert len({p["clientAlgoId"] for p in stops}) == 25  # timed in bench/bench_webhook.py


async def test_the_published_schema_is_the_one_served(rig: GuardRig, http: aiohttp.ClientSession) -> None:
    hook = await _hook(rig)
    try:
        async with http.get(f"{hook.url}/schema") as resp:
            served = await resp.text()
    finally:
        await hook.stop()
    assert served == signal_schema() == (DOCS / "webhook-signal.schema.json").read_text(encoding="utf-8")


def _template(name: str) -> str:
    """A TradingView alert message as docs/webhook.md gives it (the fenced block after the marker)."""
    text = (DOCS / "webhook.md").read_text(encoding="utf-8")
    m = re.search(rf"<!-- template: {name} -->\s*```json\n(.*?)```", text, re.DOTALL)
    assert m is not None, name
    return m.group(1)


# what TradingView puts in place of each placeholder (its documented forms)
TRADINGVIEW = {
    "{{ticker}}": "BTCUSDT.P",
    "{{exchange}}": "BINANCE",
    "{{interval}}": "60",
    "{{time}}": "2025-10-10T12:00:00Z",
    "{{timenow}}": "2025-10-10T12:00:03Z",
    "{{close}}": "95000",
    "{{plot_0}}": "93100.5",
    "{{plot_1}}": "97000",
    "{{strategy.market_position}}": "long",
    "{{strategy.order.action}}": "buy",
    "{{strategy.order.id}}": "Long",
    "{{strategy.order.comment}}": "Long entry",
}


@pytest.mark.parametrize("name", ["strategy", "indicator"])
async def test_the_tradingview_templates_work_as_pasted(
    rig: GuardRig, http: aiohttp.ClientSession, name: str
) -> None:
    message = _template(name).replace("PASTE-YOUR-SECRET-HERE", SECRET)
    for placeholder, value in TRADINGVIEW.items():
        message = message.replace(placeholder, value)
    assert "{{" not in message
    hook = await _hook(rig)
    try:
        status, _, answer = await post(http, hook, message, **{"Content-Type": "text/plain; charset=utf-8"})
    finally:
        await hook.stop()
    assert status == 200 and answer["status"] == "placed", answer
    assert rig.qty("BTCUSDT") > 0


async def test_a_strategy_alerts_exit_is_ignored(rig: GuardRig, http: aiohttp.ClientSession) -> None:
    hook = await _hook(rig)
    try:
        status, _, answer = await post(http, hook, signal(side="flat"))
    finally:
        await hook.stop()
    assert status == 200 and answer["status"] == "ignored"
    assert rig.server.mutating_requests() == []
