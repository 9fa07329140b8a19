"""SIGTERM while `guardbot run` is busy: during start-up, and in the middle of a cycle that retries
an order through timeouts. The daemon runs as a subprocess (the real entry point, real signals);
the emulator and the journal are read from the test.

Before: a stop mid-cycle cancelled the cycle after 30 s with a CancelledError traceback, the
HALTED lock and the drawdown cut targets of that cycle were never saved, and after a restart every
position was cut by half a second time; a SIGTERM during start-up killed the daemon with -15.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from process_signals import catches_sigterm

from guardbot.sim import SimAccount, SimExchange, SimServer
from guardbot.store import Journal, JournalError, JournalReader

from .conftest import START_MS

WAIT_S = 30.0  # upper bound of every wait; a healthy run needs a small fraction of it
ORDER = "/fapi/v1/order"


@pytest.fixture
async def slow_sim() -> AsyncIterator[SimServer]:
    """An emulator whose stalled requests hang for 2 s before the connection drops."""
    server = SimServer(SimExchange(seed=1, start_ms=START_MS), fault_delay_s=2.0)
    await server.start(host="127.0.0.1", port=0)
    try:
        yield server
    finally:
        await server.stop()


def write_config(tmp_path: Path, base_url: str) -> Path:
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
new_position_grace_s = 0
max_symbol_notional_pct = 100000
leverage_warn = 50
leverage_hard = 60

[guard.actions]
drawdown = "reduce"

[risk]
max_net_beta_pct = 100000

[storage]
path = "{tmp_path / "journal.sqlite"}"

[schedule]
interval_s = 0.2
"""
    )
    return path


class Daemon:
    """`guardbot run` in a subprocess; stderr collected."""

    def __init__(self, config: Path, acct: SimAccount) -> None:
        self.config = config
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDBOT_")}
        self.env.update(MAIN_API_KEY=acct.api_key, MAIN_API_SECRET=acct.secret)
        self.proc: asyncio.subprocess.Process | None = None
        self.err = b""

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "guardbot.cli",
            "run",
            "--config",
            str(self.config),
            cwd=self.config.parent,
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )

    async def sigterm(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            _, self.err = await asyncio.wait_for(self.proc.communicate(), WAIT_S)
        finally:
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()
        assert self.proc.returncode is not None
        return self.proc.returncode


async def until(condition: object, what: str) -> None:
    assert callable(condition)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not condition():
        assert loop.time() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.05)


def journal(tmp_path: Path) -> JournalReader:
    return JournalReader(tmp_path / "journal.sqlite")


def snapshots(tmp_path: Path) -> int:
    try:
        with journal(tmp_path) as r:
            return r.cycles_journaled("main")
    except JournalError:  # not created, or not migrated yet: the daemon is starting
        return 0


async def test_sigterm_during_start_up_is_a_clean_stop(slow_sim: SimServer, tmp_path: Path) -> None:
    acct = slow_sim.engine.create_account(10_000)
    config = write_config(tmp_path, slow_sim.base_url)
    # an action a previous run left open: start-up looks it up on the exchange, which hangs
    j = await Journal.open(tmp_path / "journal.sqlite")
    await j.add_pending_action(
        "main",
        START_MS,
        rule="stop",
        kind="stop",
        client_order_id="gb-stop-0123456789abcdef0123",
        dry_run=False,
        symbol="BTC/USDT:USDT",
        side="sell",
        quantity=0.1,
        trigger_price=90_000,
    )
    await j.close()
    slow_sim.inject_fault("timeout", count=1000)
    daemon = Daemon(config, acct)
    await daemon.start()
    await until(lambda: slow_sim.request_log, "start-up to reach the exchange")
    assert await daemon.sigterm() == 0, daemon.err.decode()
    err = daemon.err.decode()
    assert "Traceback" not in err and "stopped during start-up" in err


async def test_sigterm_mid_cycle_saves_the_cycles_state_and_a_restart_does_not_cut_twice(
    slow_sim: SimServer, tmp_path: Path
) -> None:
    engine = slow_sim.engine
    acct = engine.create_account(10_000)
    engine.open_position(acct.api_key, "BTCUSDT", "long", 0.5, leverage=10, entry_price=95_000)
    config = write_config(tmp_path, slow_sim.base_url)
    daemon = Daemon(config, acct)
    await daemon.start()
    await until(lambda: snapshots(tmp_path) >= 3, "a few readings at the high-water mark")

    # BTC -3,500: drawdown 17.5 % >= reduce 15 % -> HALTED, every position cut by half; every
    # reduction request hangs, so the cycle is retrying when the stop comes
    slow_sim.inject_fault("timeout", count=1000, path=ORDER)
    engine.set_mark("BTCUSDT", 91_500.0)

    def halted_with_a_cut_in_flight() -> bool:
        with journal(tmp_path) as r:
            state = r.load_guard_state("main")
            return (
                state is not None
                and state.trading_state == "HALTED"
                and any(a.kind.value == "reduce" for a in r.pending_actions("main"))
            )

    await until(halted_with_a_cut_in_flight, "the drawdown cut to be under way")
    assert await daemon.sigterm() == 0, daemon.err.decode()
    assert "Traceback" not in daemon.err.decode()
    assert acct.positions[("BTCUSDT", "BOTH")].qty == 0.5  # nothing got through
    with journal(tmp_path) as r:
        saved = r.load_guard_state("main")
        assert saved is not None and saved.lock_reason and "drawdown" in saved.lock_reason
        assert saved.extra is not None and saved.extra["targets"] == {"BTC/USDT:USDT|long": 0.25}

    slow_sim.clear_faults()
    again = Daemon(config, acct)
    await again.start()
    await until(lambda: acct.positions[("BTCUSDT", "BOTH")].qty < 0.5, "the cut after the restart")
    await until(lambda: snapshots(tmp_path) >= 12, "more cycles after it")
    assert await again.sigterm() == 0, again.err.decode()
    assert acct.positions[("BTCUSDT", "BOTH")].qty == pytest.approx(0.25)  # cut once, not 0.125
    with journal(tmp_path) as r:
        moves = [h.row for h in r.history(0, account="main", kinds=["transition"])]
        assert [getattr(t, "to_state", None) for t in moves] == ["HALTED"], [
            getattr(t, "reason", "") for t in moves
        ]


async def test_sigterm_while_the_correlation_refresh_hangs_is_a_clean_stop(
    slow_sim: SimServer, tmp_path: Path
) -> None:
    # Found by the chaos suite: the hourly candle read (its first run is at start) was cancelled
    # by the shutdown and APScheduler logged the CancelledError with a traceback.
    engine = slow_sim.engine
    acct = engine.create_account(10_000)
    engine.open_position(acct.api_key, "BTCUSDT", "long", 0.1, leverage=10)
    slow_sim.inject_fault("timeout", count=1000, path="/fapi/v1/klines")
    daemon = Daemon(write_config(tmp_path, slow_sim.base_url), acct)
    await daemon.start()
    await until(lambda: any(r.path == "/fapi/v1/klines" for r in slow_sim.request_log), "the candle read")
    assert await daemon.sigterm() == 0, daemon.err.decode()
    err = daemon.err.decode()
    assert "Traceback" not in err and "correlation refresh interrupted by shutdown" in err, err


async def test_sigterm_while_python_is_still_importing_is_a_clean_stop(
    slow_sim: SimServer, tmp_path: Path
) -> None:
    # Found by the chaos suite on a loaded machine: a SIGTERM in the second the daemon's modules
    # take to import met Python's default handler and the daemon died with -15.
    acct = slow_sim.engine.create_account(10_000)
    daemon = Daemon(write_config(tmp_path, slow_sim.base_url), acct)
    await daemon.start()
    assert daemon.proc is not None
    pid = daemon.proc.pid
    await until(lambda: catches_sigterm(pid), "the entry point's handler")
    assert await daemon.sigterm() == 0, daemon.err.decode()
    err = daemon.err.decode()
    # the entry point's own line: the signal came while the daemon's modules were importing
    assert "Traceback" not in err and "guardbot: stopped during start-up" in err, err
    assert slow_sim.request_log == []  # it stopped before reaching the exchange
