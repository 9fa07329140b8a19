"""The daemon's side of `guardbot pause|resume|flatten`: requests of an account whose exchange hangs
wait for it, and hold up nobody else's; a request nobody picked up in time is dropped, not run late."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from guardbot.config import load_settings
from guardbot.daemon import Daemon
from guardbot.operator.requests import MAX_AGE_MS
from guardbot.sim import SimExchange, SimServer
from guardbot.store.requests import RequestStatus

from .conftest import START_MS, RecordingNotifier
from .test_daemon import WAIT_S, _bounded, _credentials, _until, _write_config


async def test_a_hung_account_holds_up_only_its_own_requests(sim: SimServer, tmp_path: Path) -> None:
    alpha = sim.engine.create_account(10_000)
    hung = SimServer(SimExchange(seed=2, start_ms=START_MS), fault_delay_s=WAIT_S)
    await hung.start()
    beta = hung.engine.create_account(10_000)
    hung.inject_fault("timeout", count=100_000)
    try:
        config = _write_config(tmp_path, {"alpha": (sim.base_url, True), "beta": (hung.base_url, True)})
        daemon = Daemon(
            load_settings(config, environ=_credentials(alpha=alpha, beta=beta)),
            RecordingNotifier(),
            preflight_timeout_s=0.5,
        )
        run = asyncio.create_task(daemon.run())
        await _until(lambda: daemon.journal is not None and bool(daemon.guards), "the daemon's start")
        journal = daemon.journal
        assert journal is not None
        now = int(time.time() * 1000)
        stale = await journal.add_operator_request(
            "alpha", now - MAX_AGE_MS - 1, action="pause", requested_by="t"
        )
        first = await journal.add_operator_request("beta", now, action="pause", requested_by="t")
        other = await journal.add_operator_request("alpha", now, action="pause", requested_by="t")

        async def status(request_id: int) -> RequestStatus | None:
            row = await journal.operator_request(request_id)
            return row.status if row else None

        deadline = time.monotonic() + WAIT_S
        while await status(other) is not RequestStatus.DONE:
            assert time.monotonic() < deadline, "alpha's request waited for beta's"
            await asyncio.sleep(0.05)
        assert await status(first) is RequestStatus.WORKING  # beta's guard is stuck in its cycle
        assert await status(stale) is RequestStatus.EXPIRED  # never applied late
        assert daemon.guard("alpha").state.paused and not daemon.guard("beta").state.paused

        await hung.stop()  # beta's cycle fails and lets go: its request runs then
        while await status(first) is RequestStatus.WORKING:
            assert time.monotonic() < deadline, "beta's request never finished"
            await asyncio.sleep(0.05)
        assert await status(first) is RequestStatus.DONE
        daemon.stop_event.set()
        assert await _bounded(run, "the daemon's shutdown") == 0
    finally:
        await hung.stop()
