"""Capacity of one `guardbot run` process: memory against a bare ccxt import, and how many accounts
it keeps on schedule.

Each measurement starts the real entry point (`python -m guardbot.cli run`) as a subprocess against
the emulator (Binance USDⓈ-M dialect, in a thread of this process, loopback), with N funded
accounts each holding a BTC and an ETH position (the guard places their stops in the first cycles).

- `rss`: the daemon's resident memory (VmRSS) after it has guarded 10 accounts for a while,
  against a process that only does `import ccxt.async_support` (the floor any ccxt-based tool pays).
- `accounts_per_process`: for N accounts at `interval_s = 5`, the cycles each account got in the
  measured window against the cycles the schedule asked for (`missed_pct`), read from the journal
  (`cycles_journaled`), and the emulator's requests per second. An account is on schedule when it
  missed nothing; more accounts than one process holds are run as several processes (docs/
  operations.md, "several instances").
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from guardbot.sim import SimExchange, SimServer
from guardbot.store import JournalReader

INTERVAL_S = 5.0
WARM_S = 12.0  # start-up, first stops, the spread of first cycles over the interval
WINDOW_S = 30.0  # measured: six intervals
SIZES = (10, 100, 300)


class _Emulator:
    """The emulator on its own event loop in a thread, so the daemon's load does not share ours."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = SimServer(SimExchange(seed=7))
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(host="127.0.0.1", port=0), self.loop).result(30)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


_BARE = """
import pathlib
import ccxt.async_support
status = pathlib.Path("/proc/self/status").read_text().splitlines()
print(next(line.split()[1] for line in status if line.startswith("VmRSS:")))
"""


def _bare_ccxt_rss_kb() -> int:
    ran = subprocess.run([sys.executable, "-c", _BARE], capture_output=True, text=True, check=True)
    return int(ran.stdout)


def _daemon(emu: _Emulator, n: int, home: Path) -> tuple[subprocess.Popen[bytes], Path]:
    engine = emu.server.engine
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDBOT_")}
    text = ""
    for i in range(n):
        acct = engine.create_account(20_000)
        engine.open_position(acct.api_key, "BTCUSDT", "long", 0.05, leverage=10)
        engine.open_position(acct.api_key, "ETHUSDT", "short", 1.0, leverage=10)
        env[f"K{i}"], env[f"S{i}"] = acct.api_key, acct.secret
        text += (
            f'[[accounts]]\nname = "a{i}"\nexchange = "binanceusdm"\nbase_url = "{emu.server.base_url}"\n'
            f'dry_run = false\napi_key_env = "K{i}"\napi_secret_env = "S{i}"\n\n'
        )
    db = home / "journal.sqlite"
    text += f'[storage]\npath = "{db}"\n\n[schedule]\ninterval_s = {INTERVAL_S}\n'
    config = home / "guardbot.toml"
    config.write_text(text)
    argv = [sys.executable, "-m", "guardbot.cli", "run", "--config", str(config)]
    proc = subprocess.Popen(argv, cwd=home, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, db


def _cycles(db: Path, n: int) -> list[int]:
    with JournalReader(db) as r:
        return [r.cycles_journaled(f"a{i}") for i in range(n)]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _measure(n: int) -> dict[str, Any]:
    emu = _Emulator()
    try:
        with tempfile.TemporaryDirectory() as d:
            proc, db = _daemon(emu, n, Path(d))
            try:
                time.sleep(WARM_S)
                before, requests_before, t0 = _cycles(db, n), len(emu.server.request_log), time.monotonic()
                time.sleep(WINDOW_S)
                after, requests_after = _cycles(db, n), len(emu.server.request_log)
                elapsed = time.monotonic() - t0
                rss = _rss_kb(proc.pid)
            finally:
                _stop(proc)
    finally:
        emu.stop()
    got = [b - a for a, b in zip(before, after, strict=True)]
    expected = elapsed / INTERVAL_S
    missed = [max(0.0, expected - g) / expected * 100 for g in got]
    return {
        "accounts": n,
        "interval_s": INTERVAL_S,
        "window_s": round(elapsed, 1),
        "cycles_expected_per_account": round(expected, 2),
        "cycles_min_per_account": min(got),
        # one cycle of slack: the window's edges can cut one
        "accounts_missing_more_than_one_cycle": sum(1 for g in got if g < expected - 1),
        "missed_pct_mean": round(sum(missed) / n, 2),
        "requests_per_s": round((requests_after - requests_before) / elapsed, 1),
        "rss_mb": round(rss / 1024, 1),
    }


def run() -> dict[str, Any]:
    by_size = {str(n): _measure(n) for n in SIZES}
    floor_mb = _bare_ccxt_rss_kb() / 1024
    ten = by_size["10"]["rss_mb"]
    return {
        "rss": {
            "bare_ccxt_import_mb": round(floor_mb, 1),
            "daemon_10_accounts_mb": ten,
            "ratio": round(ten / floor_mb, 2),
        },
        "accounts_per_process": by_size,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
