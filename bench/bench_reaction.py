"""Reaction latency: a price shock on the exchange -> guardbot's protective order on its book.

The real Daemon (APScheduler, the REST ccxt client, ccxt.pro for streams, the SQLite journal) on
one emulator account (Binance USDⓈ-M dialect, in this process, loopback): 0.1 BTC long at 95,000
on 2,000 USDT with the trader's own stop far away, so the guard has nothing to do until the mark
drops 15 % (liquidation 6.7 % away, under `liquidation_reduce_pct` 7.5 %). The protective order is
the guard's reduce-only cut; its time is when the emulator accepted it (request log). Default
guard settings, so a level needs `confirm_readings = 2` readings in both modes.

- `polling_5s`: streaming off, `interval_s = 5`, the shock at phases spread evenly over the
  schedule; the target is half an interval (the average wait for the next poll) plus two round trips (the two
  readings a level needs, taken back to back). `polling_after_poll`: of the same trials, the first
  request of the poll after the shock -> the order on the book (the readings and the order).
- `streaming`: streaming on; the emulator pushes marks at Binance's documented cadence
  (`<symbol>@markPrice@1s`: once a second), the shock at phases spread evenly over it. End to
  end, this includes waiting for the exchange's next push (up to 1 s, ~0.5 s on average).
- `streaming_guard`: of the same trials, the push that carried the shocked mark -> the order on the
  book: guardbot's own share.
- `streaming_bybit`, `streaming_bybit_guard`: the same on the Bybit dialect, whose tickers come
  within 100 ms of a change: end to end, the <= 100 ms loopback target.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from guardbot.config import load_settings
from guardbot.daemon import Daemon
from guardbot.notify.base import Alert, Delivery
from guardbot.sim import SimExchange, SimServer
from guardbot.sim.book import OrderRequest

POLL_TRIALS = 15
STREAM_TRIALS = 15
INTERVAL_S = 5.0
WAIT_S = 30.0


class _Quiet:
    async def send(self, alert: Alert) -> Delivery:
        return "console"


def _toml(base_url: str, name: str, db: Path, streaming: bool, exchange: str) -> str:
    return f"""
[[accounts]]
name = "{name}"
exchange = "{exchange}"
base_url = "{base_url}"
dry_run = false
api_key_env = "KEY"
api_secret_env = "SECRET"

[accounts.stream]
enabled = {"true" if streaming else "false"}

[guard]
new_position_grace_s = 3600
max_symbol_notional_pct = 1000.0
max_snapshot_age_s = 120

[storage]
path = "{db}"

[schedule]
interval_s = {INTERVAL_S}
"""


async def _until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"bench_reaction: gave up waiting for {what}")
        await asyncio.sleep(0.002)


async def _trial(
    server: SimServer, workdir: Path, i: int, streaming: bool, phase: float
) -> tuple[float, float | None]:
    """One shock; (shock -> order, the push or the poll that saw it -> order, or None) in seconds."""
    engine = server.engine
    engine.set_mark("BTCUSDT", 95_000)
    acct = engine.create_account(2_000)
    engine.open_position(acct.api_key, "BTCUSDT", "long", 0.1, leverage=20)
    stop = OrderRequest(
        "BTCUSDT", "SELL", "STOP_MARKET", trigger_price=77_000, close_position=True, working_type="MARK_PRICE"
    )
    engine.place_algo_order(acct.api_key, stop)
    name = f"trial-{i}"
    path = workdir / f"{name}.toml"
    path.write_text(_toml(server.base_url, name, workdir / f"{name}.sqlite", streaming, engine.exchange))
    settings = load_settings(path, environ={"KEY": acct.api_key, "SECRET": acct.secret})
    daemon = Daemon(settings, _Quiet())
    run = asyncio.create_task(daemon.run())
    try:
        await _until(lambda: daemon.guards and daemon.guards[0].last is not None, "a first cycle")
        if streaming:
            await _until(lambda: daemon.streams is not None and daemon.streams.streams, "streams")
            stream = daemon.streams.streams[name] if daemon.streams else None
            await _until(lambda: stream is not None and stream.last_mark_ms is not None, "a mark")
        await asyncio.sleep(phase)  # after the first cycle (polling) or a mark (streaming)
        shocked = time.time()
        engine.shock("BTCUSDT", -15)

        def cut() -> float | None:
            # the guard's cut reduced the position: its time is the first order request the
            # exchange got from this account after the shock (the venue's own order path)
            book = engine.accounts[acct.api_key].positions
            if sum(abs(p.amount) for (symbol, _), p in book.items() if symbol == "BTCUSDT") >= 0.1:
                return None
            sent = [
                r.ts
                for r in server.request_log
                if r.api_key == acct.api_key
                and r.ts >= shocked
                and server.venue.is_mutating(r.method, r.path)
            ]
            return sent[0] if sent else None

        await _until(lambda: cut() is not None, "the protective order")
        placed = cut()
        assert placed is not None
        if streaming and server.streams is not None:
            start = next((t for t, _ in server.streams.sent_marks if t >= shocked), None)
        else:  # the poll's first request after the shock
            start = min(r.ts for r in server.request_log if r.api_key == acct.api_key and r.ts >= shocked)
        return placed - shocked, (placed - start if start is not None else None)
    finally:
        daemon.stop_event.set()
        await asyncio.wait_for(run, WAIT_S)


def _phase(i: int, n: int, span_s: float) -> float:
    return (i + 0.5) / n * span_s


def _stats(xs: list[float]) -> dict[str, Any]:
    ms = sorted(x * 1000 for x in xs)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 1), "p95_ms": round(p95, 1)}


async def _bybit_streamed() -> list[tuple[float, float | None]]:
    """Streaming trials on Bybit, whose tickers come within 100 ms of a change (its documented
    cadence for derivatives, the emulator's default)."""
    server = SimServer(SimExchange(seed=1, exchange="bybit"))
    await server.start()
    try:
        with tempfile.TemporaryDirectory() as d:
            return [
                await _trial(server, Path(d), 200 + i, True, _phase(i, STREAM_TRIALS, 0.1))
                for i in range(STREAM_TRIALS)
            ]
    finally:
        await server.stop()


async def _run() -> dict[str, Any]:
    server = SimServer(SimExchange(seed=1))
    await server.start()
    try:
        with tempfile.TemporaryDirectory() as d:
            work = Path(d)
            # the shock's phase in the schedule (or the push cadence), spread evenly over it: the
            # median wait is half of it by design, not by the luck of a few random draws
            polled = []
            for i in range(POLL_TRIALS):
                polled.append(await _trial(server, work, i, False, _phase(i, POLL_TRIALS, INTERVAL_S)))
            streamed = []
            for i in range(STREAM_TRIALS):
                streamed.append(await _trial(server, work, 100 + i, True, _phase(i, STREAM_TRIALS, 1.0)))
    finally:
        await server.stop()
    bybit = await _bybit_streamed()
    guard_share = [g for _, g in streamed if g is not None]
    print(
        "bench_reaction: streamed trials (end to end, guard share) ms:",
        [(round(e * 1000), round(g * 1000) if g else None) for e, g in streamed],
        file=sys.stderr,
    )
    return {
        "polling_5s": {**_stats([e for e, _ in polled]), "target_ms": INTERVAL_S / 2 * 1000},
        "polling_after_poll": _stats([g for _, g in polled if g is not None]),
        "streaming": {**_stats([e for e, _ in streamed]), "mark_push_every_ms": 1000},
        "streaming_guard": {**_stats(guard_share), "target_ms": 100},
        "streaming_bybit": {**_stats([e for e, _ in bybit]), "target_ms": 100, "mark_push_within_ms": 100},
        "streaming_bybit_guard": _stats([g for _, g in bybit if g is not None]),
    }


def run() -> dict[str, Any]:
    logging.disable(logging.WARNING)  # the daemons' start/stop lines are not the measurement
    try:
        return asyncio.run(_run())
    finally:
        logging.disable(logging.NOTSET)


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
