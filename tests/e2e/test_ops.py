"""The daemon's operations endpoint, for real: `guardbot run`'s Daemon against the emulator on
127.0.0.1, scraped over HTTP with aiohttp and parsed with prometheus_client's own parser, and the
values compared with what the journal (what `guardbot status` reads) says.
"""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from guardbot.config import load_settings
from guardbot.daemon import Daemon
from guardbot.errors import ConfigError
from guardbot.ops.metrics import METRICS
from guardbot.sim import SimServer
from guardbot.store import JournalReader

from .conftest import RecordingNotifier
from .test_daemon import _bounded, _credentials, _snapshots, _until, _write_config

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _with_metrics(config: Path, port: int = 0) -> Path:
    config.write_text(config.read_text() + f"\n[metrics]\nenabled = true\nport = {port}\n")
    return config


async def _get(address: tuple[str, int], path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(f"http://{address[0]}:{address[1]}{path}") as r:
        return r.status, await r.text()


async def _scrape(address: tuple[str, int]) -> Samples:
    status, text = await _get(address, "/metrics")
    assert status == 200
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def _non_loopback_address() -> str | None:
    """An IPv4 address of this machine other than loopback (None when it has none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # UDP: picks a route, sends nothing
        except OSError:
            return None
        address = str(s.getsockname()[0])
    return None if address.startswith("127.") else address


async def _quiet(daemon: Daemon) -> None:
    """No cycle runs from here on (the scheduler paused, the running one finished): what the
    metrics say and what the journal says are about the same cycle."""
    assert daemon.scheduler is not None
    daemon.scheduler.pause()
    for g in daemon.guards:
        async with g.lock:
            pass


async def test_metrics_agree_with_the_journal_and_count_the_stop_the_guard_placed(
    sim: SimServer, tmp_path: Path
) -> None:
    alpha = sim.engine.create_account(2_000)  # ~4.75x: the position has a liquidation price
    sim.engine.open_position(alpha.api_key, "BTCUSDT", "long", 0.1, leverage=10)  # no stop yet
    config = _with_metrics(_write_config(tmp_path, {"alpha": (sim.base_url, True)}))
    daemon = Daemon(load_settings(config, environ=_credentials(alpha=alpha)), RecordingNotifier())
    run = asyncio.create_task(daemon.run())
    db = tmp_path / "journal.sqlite"
    try:
        await _until(lambda: len(alpha.open_algo_orders()) == 1, "the guard's stop")
        await _until(lambda: _snapshots(db, "alpha") >= 5, "a few more cycles")
        await _quiet(daemon)
        assert daemon.ops.address is not None
        assert daemon.ops.address[0] == "127.0.0.1"  # loopback unless the config says otherwise
        outside = _non_loopback_address()
        if outside is not None:  # from another address of this machine, nothing answers
            with pytest.raises(OSError):
                socket.create_connection((outside, daemon.ops.address[1]), timeout=2).close()
        samples = await _scrape(daemon.ops.address)
    finally:
        daemon.stop_event.set()
        assert await _bounded(run, "the daemon's shutdown") == 0

    with JournalReader(db) as r:
        [latest] = r.latest_snapshots()
        [position] = r.positions_of(latest.id)
        journaled = Counter((a.rule, a.status.value) for a in r.actions_for("alpha", 0))
        snapshots = r.cycles_journaled("alpha")  # rows are thinned (docs/journal.md); cycles are counted
    assert _value(samples, "guardbot_equity", account="alpha") == pytest.approx(latest.equity)
    assert _value(samples, "guardbot_margin_ratio", account="alpha") == pytest.approx(latest.margin_ratio)
    assert _value(samples, "guardbot_positions", account="alpha") == latest.positions_count == 1
    assert position.liquidation_distance_pct is not None
    assert _value(samples, "guardbot_nearest_liquidation_distance_percent", account="alpha") == pytest.approx(
        position.liquidation_distance_pct
    )
    assert _value(samples, "guardbot_trading_state", account="alpha", state=latest.state) == 1
    assert sum(v for (n, _), v in samples.items() if n == "guardbot_trading_state") == 1
    # one stop, counted once under the rule and outcome the journal gives it
    scraped = {
        (dict(labels)["rule"], dict(labels)["outcome"]): v
        for (name, labels), v in samples.items()
        if name == "guardbot_actions_total" and dict(labels)["account"] == "alpha"
    }
    assert len(journaled) == 1 and sum(journaled.values()) == 1
    assert scraped == {key: float(n) for key, n in journaled.items()}
    # every cycle that journaled a snapshot was counted, none failed, each was timed
    assert _value(samples, "guardbot_cycles_total", account="alpha") == snapshots
    assert _value(samples, "guardbot_cycle_failures_total", account="alpha") == 0
    assert _value(samples, "guardbot_cycle_duration_seconds_count", account="alpha") == snapshots
    assert 0 <= _value(samples, "guardbot_last_good_snapshot_age_seconds", account="alpha") < 2
    assert _value(samples, "guardbot_telegram_queue_depth") == 0
    # the documented list is what is exported (names as scraped; a histogram by its base name)
    exported = {n.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum") for n, _ in samples}
    assert set(METRICS) <= exported


async def test_healthz_turns_503_naming_the_account_during_an_outage_and_200_after(
    sim: SimServer, tmp_path: Path
) -> None:
    alpha = sim.engine.create_account(10_000)
    config = _with_metrics(_write_config(tmp_path, {"alpha": (sim.base_url, False)}))  # max age 2 s
    daemon = Daemon(load_settings(config, environ=_credentials(alpha=alpha)), RecordingNotifier())
    run = asyncio.create_task(daemon.run())
    db = tmp_path / "journal.sqlite"
    last: list[tuple[int, str]] = [(0, "")]

    async def health_is(status: int) -> bool:
        last[0] = await _get(address, "/healthz")
        return last[0][0] == status

    try:
        await _until(lambda: _snapshots(db, "alpha") >= 2, "two cycles")
        assert daemon.ops.address is not None
        address = daemon.ops.address
        status, text = await _get(address, "/healthz")
        assert status == 200 and text.startswith("ok"), text

        sim.inject_fault("5xx", count=1_000_000)  # the exchange is down: every read fails
        await _until_async(lambda: health_is(503), "/healthz 503")
        status, text = last[0]
        assert text.count("\n") == 1 and text.startswith("stale: alpha last good snapshot")
        assert "(max 2s)" in text
        samples = await _scrape(address)
        assert _value(samples, "guardbot_cycle_failures_total", account="alpha") >= 1
        assert _value(samples, "guardbot_last_good_snapshot_age_seconds", account="alpha") > 2

        sim.clear_faults()  # back: the next good snapshot makes it healthy again
        await _until_async(lambda: health_is(200), "/healthz 200 again")
    finally:
        daemon.stop_event.set()
        assert await _bounded(run, "the daemon's shutdown") == 0


async def _until_async(check: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not await check():
        assert loop.time() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.1)


async def test_a_taken_metrics_port_stops_the_start_with_one_line(sim: SimServer, tmp_path: Path) -> None:
    alpha = sim.engine.create_account(10_000)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = _with_metrics(_write_config(tmp_path, {"alpha": (sim.base_url, False)}), port)
        daemon = Daemon(load_settings(config, environ=_credentials(alpha=alpha)), RecordingNotifier())
        with pytest.raises(ConfigError) as err:
            await _bounded(daemon.run(), "the failed start")
    [line] = err.value.problems
    assert line.startswith(f"metrics.port: 127.0.0.1:{port} is already in use")
    assert "expected a free port" in line
    assert sim.requests_to("/fapi/v3/account", "GET") == []  # stopped before reading the exchange


async def test_a_daemon_that_never_reads_its_exchange_turns_unhealthy_after_the_bound(
    sim: SimServer, tmp_path: Path
) -> None:
    """A container restarted into an outage: the exchange fails from the first request (start-up
    only warns), and /healthz says so once the bound has passed since the guard started."""
    alpha = sim.engine.create_account(10_000)
    sim.inject_fault("5xx", count=1_000_000)
    config = _with_metrics(_write_config(tmp_path, {"alpha": (sim.base_url, False)}))  # max age 2 s
    daemon = Daemon(
        load_settings(config, environ=_credentials(alpha=alpha)), RecordingNotifier(), preflight_timeout_s=1
    )
    run = asyncio.create_task(daemon.run())
    seen: list[str] = []

    async def stale() -> bool:
        if daemon.ops.address is None:
            return False  # not serving yet
        status, text = await _get(daemon.ops.address, "/healthz")
        seen.append(f"{status} {text.strip()}")
        return status == 503 and text.startswith("stale: alpha no good snapshot in")

    try:
        await _until_async(stale, "/healthz 503 naming alpha")
        assert seen[-1].endswith("since start (max 2s)")
        assert daemon.guard("alpha").state.last_ok_ms is None  # indeed never read
    finally:
        daemon.stop_event.set()
        assert await _bounded(run, "the daemon's shutdown") == 0
