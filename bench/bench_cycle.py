"""A guard cycle's cost against the floor: the same signed requests from a bare aiohttp client.

For books of 1, 10 and 50 positions on the emulator (Binance USDⓈ-M dialect, in this process):
- `orders`: the first cycle of positions without stops (grace 0): read, measure, decide, and place
  one stop per position, journaled;
- `steady`: the next cycles (the stops rest, nothing to send).
The floor replays exactly the requests the guard's cycle made (from the emulator's request log),
HMAC-signed by hand, on a fresh identical account: the reads together (as the reader sends them),
then the orders with the executor's concurrency. `cycle_floor_ratio` = guard / floor (medians).

On loopback the emulator answers in well under a millisecond, so the ratio there is the guard's
own CPU (ccxt's request building, signing and parsing, the risk math, the journal) against a bare
client's. `rtt_25ms` runs the same with every answer 25 ms late (the emulator's latency fault, for
guard and floor alike), the order of a round trip from a server near the venue: the ratio a
trader's cycle actually has.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from pydantic import SecretStr

from guardbot.config import AccountConfig, Credentials
from guardbot.cycle import AccountGuard
from guardbot.exchange.cache import TiersCache
from guardbot.exchange.client import make_client
from guardbot.exchange.order_reads import OrderReads
from guardbot.exchange.session import AccountSession
from guardbot.execution import ORDER_CONCURRENCY
from guardbot.guard import GuardLimits
from guardbot.notify.base import Alert, Delivery
from guardbot.sim import SimAccount, SimExchange, SimServer
from guardbot.store import Journal

SIZES = (1, 10, 50)
REPEATS = 5
RTT_S = 0.025
START_MS = 1_760_097_600_000


class _Quiet:
    async def send(self, alert: Alert) -> Delivery:
        return "console"


def _limits() -> GuardLimits:
    return GuardLimits(
        new_position_grace_s=0,
        liquidation_warn_pct=1e-6,
        liquidation_reduce_pct=5e-7,
        leverage_warn=1e6,
        leverage_hard=1e6,
        max_symbol_notional_pct=1e9,
        max_cluster_pct=1e9,
        max_net_beta_pct=1e9,
        margin_ratio_warn=0.95,
        margin_ratio_reduce=0.96,
        margin_ratio_flatten=0.97,
        drawdown_halt_pct=90,
        drawdown_reduce_pct=95,
        drawdown_flatten_pct=99,
        daily_loss_halt_pct=90,
    )


def _markets(engine: SimExchange, n: int) -> list[str]:
    ids = list(engine.markets)
    base = engine.markets["SUIUSDT"]
    k = 0
    while len(ids) < n:
        k += 1
        m = dataclasses.replace(base, id=f"BX{k:02d}USDT", base=f"BX{k:02d}")
        engine.list_market(m, price=3.8)
        ids.append(m.id)
    return ids[:n]


def _book(engine: SimExchange, symbols: list[str]) -> SimAccount:
    acct = engine.create_account(10_000_000)
    for sym in symbols:
        m = engine.markets[sym]
        steps = max(1, round(2_000 / engine.marks[sym] / m.step))
        qty = float(Decimal(m.step_size) * steps)  # on the lot grid exactly
        engine.open_position(acct.api_key, sym, "long", max(qty, float(m.min_qty)), leverage=5)
    return acct


async def _guard(
    server: SimServer, acct: SimAccount, db: Path
) -> tuple[AccountGuard, AccountSession, Journal]:
    engine = server.engine
    account = AccountConfig(name="bench", exchange="binanceusdm", base_url=server.base_url, dry_run=False)
    creds = Credentials(api_key=SecretStr(acct.api_key), secret=SecretStr(acct.secret))
    client = make_client(account, creds, rate_limit=False)
    client.timeout_on_exit = 0
    session = AccountSession(
        account, client, TiersCache(), order_reads=OrderReads(clock=lambda: engine.now_ms)
    )
    journal = await Journal.open(db)
    guard = AccountGuard(
        "bench",
        session.snapshot,
        session.gateway(),
        journal,
        _Quiet(),
        _limits(),
        clock=lambda: engine.now_ms,
    )
    await guard.start()
    await session.snapshot()  # markets, tiers, position mode: loaded once, not part of a cycle
    return guard, session, journal


def _signed(params: dict[str, str], secret: str) -> str:
    query = urlencode({**params, "timestamp": str(int(time.time() * 1000)), "recvWindow": "10000"})
    return query + "&signature=" + hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()


async def _floor(http: aiohttp.ClientSession, base: str, acct: SimAccount, log: list[Any]) -> float:
    """Replay `log` (method, path, params) for `acct`: the reads at once, the orders as the guard."""
    reads = [r for r in log if r.method == "GET"]
    writes = [r for r in log if r.method != "GET"]
    headers = {"X-MBX-APIKEY": acct.api_key}

    async def one(r: Any) -> None:
        params = {k: v for k, v in r.params.items() if k not in ("timestamp", "recvWindow", "signature")}
        body = _signed(params, acct.secret)
        if r.method == "GET":
            async with http.get(f"{base}{r.path}?{body}", headers=headers) as resp:
                await resp.read()
        else:
            form = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
            async with http.request(r.method, f"{base}{r.path}", data=body, headers=form) as resp:
                await resp.read()

    started = time.perf_counter()
    await asyncio.gather(*(one(r) for r in reads))
    gate = asyncio.Semaphore(ORDER_CONCURRENCY)

    async def bounded(r: Any) -> None:
        async with gate:
            await one(r)

    await asyncio.gather(*(bounded(r) for r in writes))
    return time.perf_counter() - started


async def _size(n: int, tmp: Path, rtt_s: float = 0.0, repeats: int = REPEATS) -> dict[str, Any]:
    server = SimServer(SimExchange(seed=1, start_ms=START_MS))
    base = await server.start()
    symbols = _markets(server.engine, n)
    guard_orders, floor_orders, guard_steady, floor_steady = [], [], [], []
    try:
        async with aiohttp.ClientSession() as http:
            for i in range(repeats):
                acct, twin = _book(server.engine, symbols), _book(server.engine, symbols)
                guard, session, journal = await _guard(server, acct, tmp / f"j-{n}-{i}-{rtt_s}.db")
                if rtt_s:  # every answer from now on (guard's and floor's) `rtt_s` late
                    server.inject_fault("latency", count=10**9, seconds=rtt_s)
                server.clear_log()
                t0 = time.perf_counter()
                outcome = await guard.cycle()
                guard_orders.append(time.perf_counter() - t0)
                assert len(outcome.actions) == n, f"expected {n} stops, got {len(outcome.actions)}"
                log = list(server.request_log)
                floor_orders.append(await _floor(http, base, twin, log))
                for _ in range(3):
                    server.clear_log()
                    t0 = time.perf_counter()
                    await guard.cycle()
                    guard_steady.append(time.perf_counter() - t0)
                    floor_steady.append(await _floor(http, base, acct, list(server.request_log)))
                server.clear_faults()
                await session.close()
                await journal.close()
    finally:
        await server.stop()
    med = statistics.median
    return {
        "orders": {
            "guard_ms": round(med(guard_orders) * 1000, 2),
            "floor_ms": round(med(floor_orders) * 1000, 2),
            "cycle_floor_ratio": round(med(guard_orders) / med(floor_orders), 2),
        },
        "steady": {
            "guard_ms": round(med(guard_steady) * 1000, 2),
            "floor_ms": round(med(floor_steady) * 1000, 2),
            "cycle_floor_ratio": round(med(guard_steady) / med(floor_steady), 2),
        },
    }


def run() -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as d:
        for n in SIZES:
            out[f"positions_{n}"] = asyncio.run(_size(n, Path(d)))
            out[f"positions_{n}"][f"rtt_{RTT_S * 1000:.0f}ms"] = asyncio.run(
                _size(n, Path(d), RTT_S, repeats=3)
            )
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
