"""`guardbot run` for real: the Daemon from a TOML config, APScheduler, the ccxt clients over HTTP
to emulators on 127.0.0.1, and the SQLite journal it writes, read back while it runs.

These are the only tests here that wait on the wall clock (the scheduler's interval is 0.2 s); the
waits are bounded and assert nothing about speed.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from guardbot.config import load_settings
from guardbot.daemon import Daemon
from guardbot.sim import SimAccount, SimExchange, SimServer
from guardbot.store import JournalError, JournalReader

from .conftest import START_MS, RecordingNotifier

ALGO = "/fapi/v1/algoOrder"
WAIT_S = 30.0  # upper bound of every wait below; a healthy run needs a small fraction of it


def _account_toml(name: str, base_url: str, *, live: bool) -> str:
    prefix = name.upper()
    return f"""
[[accounts]]
name = "{name}"
exchange = "binanceusdm"
base_url = "{base_url}"
dry_run = {"false" if live else "true"}
api_key_env = "{prefix}_API_KEY"
api_secret_env = "{prefix}_API_SECRET"
"""


def _write_config(tmp_path: Path, accounts: Mapping[str, tuple[str, bool]]) -> Path:
    text = "".join(_account_toml(name, url, live=live) for name, (url, live) in accounts.items())
    text += f"""
[guard]
new_position_grace_s = 0
max_snapshot_age_s = 2

[storage]
path = "{tmp_path / "journal.sqlite"}"

[schedule]
interval_s = 0.2
"""
    path = tmp_path / "guardbot.toml"
    path.write_text(text)
    return path


def _credentials(**accounts: SimAccount) -> dict[str, str]:
    env = {}
    for name, acct in accounts.items():
        env[f"{name.upper()}_API_KEY"] = acct.api_key
        env[f"{name.upper()}_API_SECRET"] = acct.secret
    return env


def _snapshots(db: Path, account: str) -> int:
    try:
        with JournalReader(db) as r:
            return r.cycles_journaled(account)
    except JournalError:  # not created or not migrated yet: the daemon is starting
        return 0


async def _until(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not condition():
        assert loop.time() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.05)


async def _bounded(awaitable: Awaitable[int], what: str) -> int:
    try:
        return await asyncio.wait_for(awaitable, WAIT_S)
    except TimeoutError:
        raise AssertionError(f"{what} did not finish within {WAIT_S:.0f}s") from None


async def test_the_daemon_guards_until_stopped_and_a_hung_exchange_does_not_hold_up_another(
    sim: SimServer, tmp_path: Path
) -> None:
    alpha = sim.engine.create_account(10_000)
    sim.engine.open_position(alpha.api_key, "BTCUSDT", "long", 0.1, leverage=10)  # no stop yet
    # beta lives on another exchange that accepts connections and never answers
    hung = SimServer(SimExchange(seed=2, start_ms=START_MS), fault_delay_s=WAIT_S)
    await hung.start()
    beta = hung.engine.create_account(10_000)
    hung.inject_fault("timeout", count=100_000)
    try:
        config = _write_config(tmp_path, {"alpha": (sim.base_url, True), "beta": (hung.base_url, False)})
        settings = load_settings(config, environ=_credentials(alpha=alpha, beta=beta))
        notifier = RecordingNotifier()
        # beta's first read at start gives up after 0.5 s (a warning), and alpha is guarded meanwhile
        daemon = Daemon(settings, notifier, preflight_timeout_s=0.5)
        run = asyncio.create_task(daemon.run())
        db = tmp_path / "journal.sqlite"

        await _until(lambda: _snapshots(db, "alpha") >= 5, "five cycles of alpha")
        # beta's first cycle is still waiting on its exchange, and alpha went on regardless
        assert _snapshots(db, "beta") == 0
        assert daemon.guard("beta").lock.locked() and daemon.guard("beta").last is None
        assert not run.done()
        # no cycle of beta has failed (it is still waiting), yet it is unwatched: the watchdog says so
        await _until(lambda: bool(notifier.of("blind|late")), "the late-snapshot alert for beta")
        [late] = notifier.of("blind|late")
        assert late.account == "beta" and late.level == "critical"
        assert "has not seen the account" in late.text and "still waiting on the exchange" in late.text

        # the journal's history is thinned hourly (nothing here is a week old: nothing to do)
        assert daemon.scheduler is not None and daemon.scheduler.get_job("downsample") is not None
        assert daemon.journal is not None and await daemon.journal.downsample() == 0

        await hung.stop()  # beta's exchange goes away: its cycle fails and lets go
        daemon.stop_event.set()
        assert await _bounded(run, "the daemon's shutdown") == 0
    finally:
        await hung.stop()

    with JournalReader(db) as r:
        latest = {s.account: s for s in r.latest_snapshots()}
        assert set(latest) == {"alpha"} and latest["alpha"].positions_count == 1
        assert r.pending_actions() == []
        [stop] = r.actions_for("alpha", 0)
    assert stop.kind.value == "stop" and stop.status.value == "confirmed"
    # many cycles, one stop: every later cycle found it in place
    assert len(sim.requests_to(ALGO, "POST")) == 1 and len(alpha.open_algo_orders()) == 1
    assert any("guardbot started: 2 account(s)" in a.text for a in notifier.alerts)


async def _run_until_a_cycle(sim: SimServer, tmp_path: Path, log_format: str) -> tuple[list[str], bytes]:
    """`guardbot run --log-format X` in a subprocess until alpha's first cycle line, then SIGTERM:
    (stderr lines, stdout). Asserts the exit code is 0."""
    alpha = sim.engine.create_account(10_000)
    sim.engine.open_position(alpha.api_key, "ETHUSDT", "short", 2, leverage=10)
    config = _write_config(tmp_path, {"alpha": (sim.base_url, False)})
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDBOT_")}
    env.update(_credentials(alpha=alpha))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "guardbot.cli",
        "run",
        "--config",
        str(config),
        "--log-format",
        log_format,
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    lines: list[str] = []

    async def read_until_a_cycle() -> int:
        while True:
            raw = await proc.stderr.readline()  # type: ignore[union-attr]
            if not raw:
                return -1
            lines.append(raw.decode())
            if "alpha: equity" in lines[-1]:
                return 0

    try:
        assert await _bounded(read_until_a_cycle(), "the first cycle's log line") == 0, "".join(lines)
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), WAIT_S)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    return lines + err.decode().splitlines(keepends=True), out


def _cycle_ids(tmp_path: Path) -> list[int]:
    """The ts of every snapshot alpha's cycles journaled (a cycle's id in the logs)."""
    with JournalReader(tmp_path / "journal.sqlite") as r:
        return [ts for ts, *_ in r.equity_series("alpha", 0)]


async def test_guardbot_run_logs_json_lines_and_exits_0_on_sigterm(sim: SimServer, tmp_path: Path) -> None:
    lines, out = await _run_until_a_cycle(sim, tmp_path, "json")
    records = [json.loads(line) for line in lines if line.strip()]  # every line is one JSON object
    assert all({"ts", "level", "logger", "msg"} <= set(rec) for rec in records)
    assert all(set(rec) <= {"ts", "level", "logger", "msg", "account", "cycle"} for rec in records)
    assert all(rec["ts"].endswith("+00:00") for rec in records)
    [cycle, *_] = [rec for rec in records if rec["msg"].startswith("alpha: equity")]
    assert cycle["logger"] == "guardbot.daemon" and cycle["level"] == "info"
    assert "margin ratio" in cycle["msg"] and "state ACTIVE" in cycle["msg"]
    # the cycle's line names its account and cycle: the ts of the snapshot that cycle journaled
    assert cycle["account"] == "alpha" and int(cycle["cycle"]) in _cycle_ids(tmp_path)
    [stopped] = [rec for rec in records if rec["msg"] == "stopped"]
    assert "account" not in stopped and "cycle" not in stopped  # logged outside any cycle
    assert out == b""


async def test_guardbot_run_text_lines_name_the_account_and_cycle(sim: SimServer, tmp_path: Path) -> None:
    lines, _ = await _run_until_a_cycle(sim, tmp_path, "text")
    [cycle, *_] = [line for line in lines if "alpha: equity" in line]
    match = re.search(r" INFO +account=alpha cycle=(\d+) alpha: equity", cycle)
    assert match is not None, cycle
    assert int(match.group(1)) in _cycle_ids(tmp_path)
    [stopped] = [line for line in lines if line.rstrip().endswith("INFO    stopped")]
    assert "account=" not in stopped


async def test_a_stop_the_trader_cancels_is_placed_again_by_the_running_daemon(
    sim: SimServer, tmp_path: Path
) -> None:
    """Before: the daemon re-sent the cancelled stop's client id, the look-up found the CANCELED
    order, counted it as placed, and every cycle after went `POST 400 -> GET CANCELED` with no stop
    on the exchange while the journal said confirmed."""
    alpha = sim.engine.create_account(10_000)
    sim.engine.open_position(alpha.api_key, "BTCUSDT", "long", 0.1, leverage=10)
    config = _write_config(tmp_path, {"alpha": (sim.base_url, True)})
    settings = load_settings(config, environ=_credentials(alpha=alpha))
    daemon = Daemon(settings, RecordingNotifier())
    run = asyncio.create_task(daemon.run())
    db = tmp_path / "journal.sqlite"

    def live_stops() -> list[str]:
        return [o.client_algo_id for o in alpha.open_algo_orders()]

    try:
        await _until(lambda: len(live_stops()) == 1, "the guard's first stop")
        [first] = live_stops()
        # the trader cancels it, and later adds to the position (the guard must resize its stop)
        sim.engine.cancel_algo_order(alpha.api_key, client_id=first)
        await _until(lambda: len(live_stops()) == 1 and live_stops()[0] != first, "a new stop")
        [second] = live_stops()
        sim.engine.open_position(alpha.api_key, "BTCUSDT", "long", 0.1, leverage=10)
        await _until(
            lambda: [o.quantity for o in alpha.open_algo_orders()] == [0.2], "the stop resized to 0.2"
        )
        await _until(lambda: _snapshots(db, "alpha") >= 10, "a few more cycles")
        daemon.stop_event.set()
        assert await _bounded(run, "the daemon's shutdown") == 0
    finally:
        daemon.stop_event.set()
    [third] = live_stops()
    assert len({first, second, third}) == 3  # one id per order, never reused
    with JournalReader(db) as r:
        rows = {a.client_order_id: a for a in r.actions_for("alpha", 0) if a.kind.value == "stop"}
    algos = {o.client_algo_id: o for o in alpha.algo_orders.values() if o.client_algo_id.startswith("gb-")}
    assert set(rows) == set(algos) == {first, second, third}
    for cid, row in rows.items():  # every row is the exchange's order
        assert row.status.value == "confirmed" and row.exchange_order_id == str(algos[cid].algo_id)
        assert row.quantity == algos[cid].quantity


async def test_an_ignored_symbol_is_journaled_at_start_and_left_alone(sim: SimServer, tmp_path: Path) -> None:
    alpha = sim.engine.create_account(10_000)
    sim.engine.open_position(alpha.api_key, "BTCUSDT", "long", 0.1, leverage=10)
    sim.engine.open_position(alpha.api_key, "ETHUSDT", "long", 1, leverage=10)
    config = _write_config(tmp_path, {"alpha": (sim.base_url, True)})
    config.write_text(
        config.read_text().replace(
            'api_key_env = "ALPHA_API_KEY"', 'api_key_env = "ALPHA_API_KEY"\nignore_symbols = ["BTC"]'
        )
    )
    daemon = Daemon(load_settings(config, environ=_credentials(alpha=alpha)), RecordingNotifier())
    run = asyncio.create_task(daemon.run())
    db = tmp_path / "journal.sqlite"
    await _until(lambda: [o.symbol for o in alpha.open_algo_orders()] == ["ETHUSDT"], "ETH's stop")
    await _until(lambda: _snapshots(db, "alpha") >= 5, "a few cycles")
    daemon.stop_event.set()
    assert await _bounded(run, "the daemon's shutdown") == 0
    assert [o.symbol for o in alpha.open_algo_orders()] == ["ETHUSDT"]  # BTC left alone
    with JournalReader(db) as r:
        events = [h.row for h in r.history(0, account="alpha", kinds=["event"])]
    assert any(
        getattr(e, "kind", "") == "ignored_symbols" and "BTC" in getattr(e, "text", "") for e in events
    )
