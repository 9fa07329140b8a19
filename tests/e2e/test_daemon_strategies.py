"""`guardbot run` with [[strategies]]: a broken strategy file and bad parameters are one line each at
start and the guard runs on; the webhook inside the daemon takes a signal into the entry path."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from guardbot.config import load_settings
from guardbot.daemon import Daemon
from guardbot.sim import SimServer

from .conftest import RecordingNotifier
from .test_daemon import _bounded, _snapshots, _until

SECRET = "daemon-secret-daemon-secret"
QUIET = """
from guardbot.strategies_runtime import Needs, Strategy, StrategyParams


class P(StrategyParams):
    pass


STRATEGY = Strategy(
    name="quiet", params=P, needs=lambda p: Needs(("BTC/USDT:USDT",), "1m", 3), propose=lambda v, p: []
)
"""


async def test_broken_strategies_do_not_stop_the_guard_and_the_webhook_trades(
    sim: SimServer, tmp_path: Path
) -> None:
    acct = sim.engine.create_account(10_000)
    broken = tmp_path / "broken.py"
    broken.write_text("def propose(:\n")
    quiet = tmp_path / "quiet.py"
    quiet.write_text(QUIET)
    config = tmp_path / "guardbot.toml"
    config.write_text(
        f"""
[[accounts]]
name = "main"
exchange = "binanceusdm"
base_url = "{sim.base_url}"
dry_run = false
api_key_env = "KEY"
api_secret_env = "SECRET"

[storage]
path = "{tmp_path / "journal.sqlite"}"

[schedule]
interval_s = 0.2

[[strategies]]
name = "broken"
path = "{broken}"
accounts = ["main"]

[[strategies]]
name = "donchian_breakout"
accounts = ["main"]
[strategies.parameters]
channel = "wide"

[[strategies]]
name = "quiet"
path = "{quiet}"
accounts = ["main"]

[[strategies]]
name = "webhook"
accounts = ["main"]
[strategies.parameters]
port = 0
"""
    )
    env = {"KEY": acct.api_key, "SECRET": acct.secret, "GUARDBOT_WEBHOOK_SECRET": SECRET}
    notifier = RecordingNotifier()
    daemon = Daemon(load_settings(config, environ=env), notifier)
    run = asyncio.create_task(daemon.run())
    db = tmp_path / "journal.sqlite"
    await _until(lambda: _snapshots(db, "main") >= 2, "two guard cycles")
    assert daemon.entries is not None and daemon.entries.webhook is not None
    assert set(daemon.entries.runners) == {"quiet"}
    assert daemon.scheduler is not None
    job = daemon.scheduler.get_job("strategy:quiet")  # just after each one-minute bar closes
    assert job is not None and job.next_run_time.second == 3 and job.trigger.interval.total_seconds() == 60

    problems = sorted(a.text for a in notifier.alerts if a.key.startswith("strategy|"))
    assert problems == [
        f"strategy 'broken': {broken}:1: syntax error: invalid syntax",
        "strategy 'donchian_breakout': parameters: channel: Input should be a valid integer, "
        "unable to parse string as an integer (got 'wide')",
    ]
    body = {"secret": SECRET, "id": "d-1", "symbol": "ETH", "side": "short", "stop": 3_400, "risk": 20}
    url = f"{daemon.entries.webhook.url}/signal"
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as resp:
        answer = await resp.json()
    assert answer["status"] == "placed", answer
    assert acct.positions[("ETHUSDT", "BOTH")].amount < 0  # short, with its stop
    assert [o.side for o in acct.algo_orders.values() if o.is_open] == ["BUY"]

    daemon.stop_event.set()
    assert await _bounded(run, "the daemon's shutdown") == 0
