"""The world a chaos run drives: the emulator (in a thread of this process), `guardbot run` as a
subprocess against it, a trader with its own ccxt client, and the checks that must hold when the
dust settles.

Everything reaches the emulator over HTTP (its control API for the world's moves, the exchange API
for the trader's), so the daemon and the test never touch the engine at the same time; the engine
is read directly only once the daemon has exited.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ccxt
from process_signals import catches_sigterm

from guardbot.sim import SimAccount, SimExchange, SimServer
from guardbot.store import JournalError, JournalReader

START_MS = 1_760_097_600_000
INTERVAL_S = 0.2
MAX_SNAPSHOT_AGE_S = 3.0  # the blind-alert bound under an outage


class Emulator:
    """SimServer on its own event loop in a background thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = SimServer(SimExchange(seed=7, start_ms=START_MS), fault_delay_s=1.5)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.base_url = asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)

    def ctl(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.base_url}/_sim/{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:  # a refused move (e.g. more than can be withdrawn)
            return {"error": json.loads(err.read() or b"{}").get("error", str(err))}

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@dataclass
class Daemon:
    config: Path
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    exits: list[tuple[str, int, str]] = field(default_factory=list)  # (how, code, stderr tail)

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log, "ab")  # noqa: SIM115 - kept open by the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "guardbot.cli", "run", "--config", str(self.config)],
            cwd=self.config.parent,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
        out.close()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, how: str = "term", timeout: float = 30.0) -> int:
        assert self.proc is not None
        if how == "term":
            # A process is answerable for SIGTERM from when its entry point runs (guardbot/cli.py
            # sets a handler first thing); one signalled within milliseconds of fork, while the
            # interpreter itself is still starting, dies with -15 whatever it would do.
            wait_until_it_catches_sigterm(self.proc.pid)
        mark = self.log.stat().st_size if self.log.exists() else 0
        self.proc.send_signal(signal.SIGTERM if how == "term" else signal.SIGKILL)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
            how += " (hung: killed)"
        tail = self.log.read_bytes()[mark:].decode(errors="replace")
        self.exits.append((how, code, tail))
        self.proc = None
        return code


def write_config(tmp: Path, base_url: str) -> Path:
    path = tmp / "guardbot.toml"
    path.write_text(
        f"""
[[accounts]]
name = "main"
exchange = "binanceusdm"
base_url = "{base_url}"
dry_run = false
api_key_env = "MAIN_KEY"
api_secret_env = "MAIN_SECRET"

[guard]
new_position_grace_s = 0
max_snapshot_age_s = {MAX_SNAPSHOT_AGE_S}
blind_after_failures = 3

[guard.actions]
drawdown = "reduce"
leverage = "reduce"

[storage]
path = "{tmp / "journal.sqlite"}"

[schedule]
interval_s = {INTERVAL_S}
"""
    )
    return path


def trader(base_url: str, acct: SimAccount) -> Any:
    """The trader's own (sync) ccxt client on the emulator."""
    ex = ccxt.binanceusdm(
        {
            "apiKey": acct.api_key,
            "secret": acct.secret,
            "enableRateLimit": False,
            "options": {"fetchCurrencies": False, "fetchOpenOrders": {"warnWithoutSymbol": False}},
        }
    )
    for k in [k for k in ex.urls["api"] if k.startswith("fapi")]:
        ex.urls["api"][k] = ex.urls["api"][k].replace("https://fapi.binance.com", base_url)
    return ex


def snapshots(db: Path) -> int:
    try:
        with JournalReader(db) as r:
            return r.cycles_journaled("main")
    except JournalError:
        return 0


def wait_until_it_catches_sigterm(pid: int, timeout: float = 10.0) -> None:
    """Until the process has a SIGTERM handler, or it is gone (then /proc has no status for it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists() and not catches_sigterm(pid):
        time.sleep(0.005)


def wait_cycles(db: Path, n: int, timeout: float = 20.0) -> bool:
    """Until `n` more snapshots are journaled (or the daemon cannot see the account)."""
    start, deadline = snapshots(db), time.monotonic() + timeout
    while time.monotonic() < deadline:
        if snapshots(db) >= start + n:
            return True
        time.sleep(0.05)
    return False


def settle(world: World) -> None:
    """Faults off, the daemon running, until two clean cycles pass with no action left open."""
    world.emu.ctl("DELETE", "faults")
    if not world.daemon.running:
        world.daemon.start()
    deadline = time.monotonic() + 60
    clean = 0
    while time.monotonic() < deadline and clean < 2:
        assert wait_cycles(world.db, 1), "the daemon took no snapshot in 20 s with no faults"
        with contextlib.suppress(JournalError), JournalReader(world.db) as r:
            clean = clean + 1 if not r.pending_actions("main") else 0


@dataclass
class World:
    emu: Emulator
    acct: SimAccount
    daemon: Daemon
    db: Path
    moves: list[str] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)
    outages: list[tuple[float, float]] = field(default_factory=list)  # (start, end) wall clock

    @classmethod
    def make(cls, tmp: Path, hedge: bool) -> World:
        emu = Emulator()
        made = emu.ctl(
            "POST", "accounts", {"wallet": 20_000, "position_mode": "hedge" if hedge else "one_way"}
        )
        acct = emu.server.engine.account(made["api_key"])
        config = write_config(tmp, emu.base_url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDBOT_")}
        env.update(MAIN_KEY=acct.api_key, MAIN_SECRET=acct.secret)
        return cls(emu, acct, Daemon(config, env, tmp / "daemon.log"), tmp / "journal.sqlite")
