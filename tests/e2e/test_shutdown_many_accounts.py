"""A daemon guarding many accounts stops within a container's grace period.

`docker stop` (and systemd) give a process 10 s after SIGTERM before killing it; a killed daemon
leaves its journal to the next start's look-ups. ccxt waits 250 ms after closing each client (TLS
teardown), and the clients used to be closed one after the other: 250 accounts took 64 s to stop
(measured), 60 took 15 s. They are closed together now. The real Daemon in this process, with the
real ccxt clients (their default close wait kept) against the emulator.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from guardbot.config import load_settings
from guardbot.daemon import Daemon
from guardbot.sim import SimExchange, SimServer

from .conftest import START_MS, RecordingNotifier

ACCOUNTS = 60
GRACE_S = 10.0  # docker stop's default


async def test_sixty_accounts_stop_well_within_dockers_grace_period(tmp_path: Path) -> None:
    server = SimServer(SimExchange(seed=1, start_ms=START_MS))
    await server.start()
    try:
        env: dict[str, str] = {}
        text = ""
        for i in range(ACCOUNTS):
            acct = server.engine.create_account(20_000)
            server.engine.open_position(acct.api_key, "BTCUSDT", "long", 0.05, leverage=10)
            env[f"K{i}"], env[f"S{i}"] = acct.api_key, acct.secret
            text += (
                f'[[accounts]]\nname = "a{i}"\nexchange = "binanceusdm"\nbase_url = "{server.base_url}"\n'
                f'dry_run = false\napi_key_env = "K{i}"\napi_secret_env = "S{i}"\n\n'
            )
        text += f'[storage]\npath = "{tmp_path / "journal.sqlite"}"\n\n[schedule]\ninterval_s = 1.0\n'
        config = tmp_path / "guardbot.toml"
        config.write_text(text)
        daemon = Daemon(load_settings(config, environ=env), RecordingNotifier())
        task = asyncio.create_task(daemon.run())
        deadline = time.monotonic() + 60
        while not (len(daemon.guards) == ACCOUNTS and all(g.last is not None for g in daemon.guards)):
            assert time.monotonic() < deadline, "every account's first cycle"
            assert not task.done(), task
            await asyncio.sleep(0.05)
        assert daemon.sessions["a0"].client.timeout_on_exit == 250  # the real close wait is in play

        asked = time.monotonic()
        daemon.stop_event.set()
        assert await asyncio.wait_for(task, 60) == 0
        took = time.monotonic() - asked
        # one close wait for all, not 60 of them in turn (15 s)
        assert took < GRACE_S / 2, f"stopping {ACCOUNTS} accounts took {took:.1f} s"
        assert all(s.client.session is None for s in daemon.sessions.values())  # every client closed
    finally:
        await server.stop()
