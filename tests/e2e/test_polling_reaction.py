"""Polling reacts within the first poll after a shock: the readings a level needs
(`confirm_readings`, 2 by default) are taken back to back, not one interval apart.

The real Daemon (APScheduler, the ccxt REST client over loopback, the SQLite journal), streaming
off. The one timing assertion is the feature itself: with confirmation one interval apart the cut
would come a whole interval later than the bound it is given.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from guardbot.config import load_settings
from guardbot.daemon import Daemon
from guardbot.sim import SimExchange, SimServer
from guardbot.sim.book import OrderRequest
from guardbot.store import JournalReader

from .conftest import START_MS, RecordingNotifier

INTERVAL_S = 4.0
ORDER = "/fapi/v1/order"


def _config(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "guardbot.toml"
    path.write_text(
        f"""
[[accounts]]
name = "main"
exchange = "binanceusdm"
base_url = "{base_url}"
dry_run = false
api_key_env = "MAIN_API_KEY"
api_secret_env = "MAIN_API_SECRET"

[guard]
new_position_grace_s = 3600
max_symbol_notional_pct = 1000.0
max_snapshot_age_s = 120

[storage]
path = "{tmp_path / "journal.sqlite"}"

[schedule]
interval_s = {INTERVAL_S}
"""
    )
    return path


async def _until(condition: Callable[[], bool], what: str, wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.01)


async def test_a_shock_is_cut_in_the_first_poll_after_it_with_both_readings_back_to_back(
    tmp_path: Path,
) -> None:
    server = SimServer(SimExchange(seed=1, start_ms=START_MS, exchange="binanceusdm"))
    await server.start()
    try:
        engine = server.engine
        # 0.1 BTC long at 95,000 on 2,000 USDT with the trader's own stop far away: nothing to do
        acct = engine.create_account(2_000)
        engine.open_position(acct.api_key, "BTCUSDT", "long", 0.1, leverage=20)
        stop = OrderRequest(
            "BTCUSDT",
            "SELL",
            "STOP_MARKET",
            trigger_price=77_000,
            close_position=True,
            working_type="MARK_PRICE",
        )
        engine.place_algo_order(acct.api_key, stop)
        env = {"MAIN_API_KEY": acct.api_key, "MAIN_API_SECRET": acct.secret}
        daemon = Daemon(load_settings(_config(tmp_path, server.base_url), environ=env), RecordingNotifier())
        task = asyncio.create_task(daemon.run())
        try:
            await _until(lambda: daemon.guards and daemon.guards[0].last is not None, "a first poll", 30)
            guard = daemon.guards[0]
            first = guard.last.ts if guard.last else 0
            await asyncio.sleep(INTERVAL_S / 2)  # the shock half an interval after a poll
            assert guard.last is not None and guard.last.ts == first  # no poll in between

            shocked = time.monotonic()
            engine.shock("BTCUSDT", -15)  # 80,750: liquidation 6.7 % away, under reduce 7.5 %

            def cut() -> bool:
                return any(
                    r.path == ORDER and r.params.get("reduceOnly") == "true" and r.status == 200
                    for r in server.mutating_requests()
                )

            await _until(cut, "the protective cut", 3 * INTERVAL_S)
            reaction = time.monotonic() - shocked
            # half an interval to the next poll, then two readings and the order: well within one
            # interval (reading again one interval later would take 1.5 intervals)
            assert reaction < INTERVAL_S, f"cut {reaction:.2f} s after the shock"
            position = engine.accounts[acct.api_key].positions[("BTCUSDT", "BOTH")]
            assert position.amount < 0.1
        finally:
            daemon.stop_event.set()
            assert await asyncio.wait_for(task, 30) == 0
        with JournalReader(tmp_path / "journal.sqlite") as r:
            # the confirming reading is a cycle of its own, journaled like any other
            assert r.cycles_journaled("main") >= 3
    finally:
        await server.stop()
