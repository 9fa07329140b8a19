"""A burst of signals at the webhook: 100 POSTs at once (25 signal ids, 4 copies each) over loopback,
into a real guard on the emulator through real ccxt. Reports the orders sent, how many were sent
twice (must be 0), and the wall time from the first POST to the last answer."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr

from guardbot.config import AccountConfig, Credentials, Settings
from guardbot.cycle import AccountGuard
from guardbot.exchange.cache import TiersCache
from guardbot.exchange.client import make_client
from guardbot.exchange.session import AccountSession
from guardbot.guard import GuardLimits
from guardbot.intents.desk import EntryDesk
from guardbot.notify import ConsoleNotifier
from guardbot.sim import SimExchange, SimServer
from guardbot.store import Journal
from guardbot.webhook.server import WebhookServer
from guardbot.webhook.signal import WebhookParams

SECRET = "bench-secret-bench-secret"


async def _burst(n_ids: int = 25, copies: int = 4) -> dict[str, Any]:
    server = SimServer(SimExchange(seed=1))
    await server.start(host="127.0.0.1", port=0)
    acct = server.engine.create_account(10_000.0)
    account = AccountConfig(name="main", exchange="binanceusdm", base_url=server.base_url, dry_run=False)
    creds = Credentials(api_key=SecretStr(acct.api_key), secret=SecretStr(acct.secret))
    client = make_client(account, creds, rate_limit=False)
    client.timeout_on_exit = 0
    session = AccountSession(account, client, TiersCache())
    with tempfile.TemporaryDirectory() as tmp:
        journal = await Journal.open(Path(tmp) / "journal.sqlite")
        settings = Settings()
        guard = AccountGuard(
            "main",
            session.snapshot,
            session.gateway(),
            journal,
            ConsoleNotifier(lambda _: None),
            GuardLimits.from_config(settings.guard, settings.risk),
        )
        await guard.start()
        await guard.cycle()
        params = WebhookParams(
            port=0, rate_limit_burst=1_000, rate_limit_per_minute=60_000, reply_within_s=30
        )
        hook = WebhookServer(params, SECRET, {"main": EntryDesk(guard, settings)}, journal)
        await hook.start()
        bodies = [
            json.dumps(
                {
                    "secret": SECRET,
                    "id": f"sig-{i}",
                    "symbol": "BTCUSDT" if i % 2 else "ETHUSDT",
                    "side": "long",
                    "stop": "93100" if i % 2 else "3234",
                    "risk": 10,
                }
            )
            for _ in range(copies)
            for i in range(n_ids)
        ]
        try:
            async with aiohttp.ClientSession() as http:

                async def post(body: str) -> str:
                    async with http.post(f"{hook.url}/signal", data=body) as resp:
                        return str((await resp.json())["status"])

                t0 = time.perf_counter()
                statuses = await asyncio.gather(*(post(b) for b in bodies))
                elapsed = time.perf_counter() - t0
        finally:
            await hook.stop()
            await journal.close()
            await session.close()
            await server.stop()
    sent = [r.params for r in server.mutating_requests() if r.method == "POST"]
    entries = [p["newClientOrderId"] for p in sent if "newClientOrderId" in p]
    stops = [p["clientAlgoId"] for p in sent if "clientAlgoId" in p]
    return {
        "signals": len(bodies),
        "distinct_ids": n_ids,
        "placed": statuses.count("placed"),
        "duplicates_answered": statuses.count("duplicate"),
        "entries_sent": len(entries),
        "stops_sent": len(stops),
        "orders_sent_twice": (len(entries) - len(set(entries))) + (len(stops) - len(set(stops))),
        "seconds": round(elapsed, 3),
    }


def run() -> dict[str, Any]:
    return asyncio.run(_burst())


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
