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
- `sharded`: 1,000 accounts as four `guardbot run` instances of 250 (each its own config, journal
  and emulator process, as four venues' worth of load would be), all at once on this machine: the
  same figures per instance.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from guardbot.sim import SimExchange, SimServer
from guardbot.store import JournalReader

INTERVAL_S = 5.0
WARM_S = 12.0  # start-up, first stops, the spread of first cycles over the interval
WINDOW_S = 30.0  # measured: six intervals
SIZES = (10, 100, 300)
SHARDS, PER_SHARD = 4, 250


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


def _shard_emulator(n: int, conn: Any) -> None:
    """A child process: an emulator with `n` funded accounts (their keys sent back); it answers
    "count" with its request count until told anything else."""
    emu = _Emulator()
    conn.send((emu.server.base_url, [_funded(emu.server.engine) for _ in range(n)]))
    while conn.recv() == "count":
        conn.send(len(emu.server.request_log))
    emu.stop()


class _ShardEmulator:
    """An emulator in a process of its own, so four of them do not share one interpreter."""

    def __init__(self, n: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_shard_emulator, args=(n, child), daemon=True)
        self.proc.start()
        self.base_url, self.keys = self.conn.recv()

    def requests(self) -> int:
        self.conn.send("count")
        return int(self.conn.recv())

    def stop(self) -> None:
        self.conn.send("stop")
        self.proc.join(30)
        if self.proc.is_alive():
            self.proc.kill()


def _funded(engine: SimExchange) -> tuple[str, str]:
    acct = engine.create_account(20_000)
    engine.open_position(acct.api_key, "BTCUSDT", "long", 0.05, leverage=10)
    engine.open_position(acct.api_key, "ETHUSDT", "short", 1.0, leverage=10)
    return acct.api_key, acct.secret


def _cpu_s(pid: int) -> float:
    """User + system CPU time the process has used (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def _daemon(base_url: str, keys: list[tuple[str, str]], home: Path) -> tuple[subprocess.Popen[bytes], Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDBOT_")}
    text = ""
    for i, (key, secret) in enumerate(keys):
        env[f"K{i}"], env[f"S{i}"] = key, secret
        text += (
            f'[[accounts]]\nname = "a{i}"\nexchange = "binanceusdm"\nbase_url = "{base_url}"\n'
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


Shard = tuple[str, list[tuple[str, str]], Callable[[], int]]  # base url, keys, request count


def _guarded(shards: list[Shard], warm_s: float) -> list[dict[str, Any]]:
    """Run one `guardbot run` per shard at once; each one's figures over the same window."""
    with tempfile.TemporaryDirectory() as d:
        started = []
        for k, (base_url, keys, _) in enumerate(shards):
            home = Path(d) / f"instance-{k}"
            home.mkdir()
            started.append(_daemon(base_url, keys, home))
        try:
            time.sleep(warm_s)
            before = [(_cycles(db, len(s[1])), s[2]()) for s, (_, db) in zip(shards, started, strict=True)]
            cpu_before = [_cpu_s(proc.pid) for proc, _ in started]
            t0 = time.monotonic()
            time.sleep(WINDOW_S)
            after = [(_cycles(db, len(s[1])), s[2]()) for s, (_, db) in zip(shards, started, strict=True)]
            elapsed = time.monotonic() - t0
            cpu = [_cpu_s(proc.pid) - c for (proc, _), c in zip(started, cpu_before, strict=True)]
            rss = [_rss_kb(proc.pid) for proc, _ in started]
        finally:
            for proc, _ in started:
                _stop(proc)
    return [
        _figures(len(s[1]), b, a, elapsed, kb, c)
        for s, b, a, kb, c in zip(shards, before, after, rss, cpu, strict=True)
    ]


def _figures(
    n: int,
    before: tuple[list[int], int],
    after: tuple[list[int], int],
    elapsed: float,
    rss_kb: int,
    cpu_s: float,
) -> dict[str, Any]:
    got = [b - a for a, b in zip(before[0], after[0], strict=True)]
    done = max(1, sum(got))
    expected = elapsed / INTERVAL_S
    missed = [max(0.0, expected - g) / expected * 100 for g in got]
    return {
        "accounts": n,
        "interval_s": INTERVAL_S,
        "window_s": round(elapsed, 1),
        "cycles_expected_per_account": round(expected, 2),
        "cycles_min_per_account": min(got),
        # one cycle of slack: the window's edges can cut one
        "accounts_missing_more_than_one_cycle": sum(1 for g in got if g < int(expected) - 1),
        "missed_pct_mean": round(sum(missed) / n, 2),
        "requests_per_s": round((after[1] - before[1]) / elapsed, 1),
        "rss_mb": round(rss_kb / 1024, 1),
        # the daemon's own CPU (the emulator's is not counted): what sizes a deployment
        "cpu_ms_per_cycle": round(cpu_s * 1000 / done, 2),
        "cpu_cores_used": round(cpu_s / elapsed, 2),
    }


def _measure(n: int) -> dict[str, Any]:
    emu = _Emulator()
    try:
        keys = [_funded(emu.server.engine) for _ in range(n)]
        [figures] = _guarded([(emu.server.base_url, keys, lambda: len(emu.server.request_log))], WARM_S)
    finally:
        emu.stop()
    return figures


def _sharded() -> dict[str, Any]:
    emulators = [_ShardEmulator(PER_SHARD) for _ in range(SHARDS)]
    try:
        # four instances start at once on a small machine: a longer warm-up before the window
        instances = _guarded([(e.base_url, e.keys, e.requests) for e in emulators], 2 * WARM_S)
    finally:
        for e in emulators:
            e.stop()
    return {
        "instances": SHARDS,
        "accounts": SHARDS * PER_SHARD,
        "accounts_missing_more_than_one_cycle": sum(
            i["accounts_missing_more_than_one_cycle"] for i in instances
        ),
        "requests_per_s": round(sum(i["requests_per_s"] for i in instances), 1),
        "cpu_cores_used": round(sum(i["cpu_cores_used"] for i in instances), 2),
        "per_instance": instances,
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
        "sharded": _sharded(),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
