"""Streaming mode for real: the Daemon with `[accounts.stream] enabled = true`, the real ccxt.pro
client over loopback websockets to guardbot.sim's streams (Binance USDⓈ-M, Bybit v5, Aster and
Hyperliquid, every test on each), the REST client for the cycles, and the SQLite journal. Nothing
of ccxt is patched (on Aster, guardbot's own client setup tells ccxt.pro its messages are futures
and subscribes to orders itself, see docs/streaming.md).

The emulator pushes marks every 100 ms here (`mark_interval_ms`; Binance's and Aster's own cadence
is 1 s, Bybit's 100 ms when the ticker changed, Hyperliquid's as the context changes) so the waits stay
short; bench/bench_reaction.py measures at Binance's cadence. Waits are bounded;
the one timing assertion (a protective order long before the next poll) is the feature itself:
polling every 30 s could not have produced the order within the second it is given.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from venue_accounts import credential_config
from venue_spec import SPECS, Sent

from guardbot.config import load_settings
from guardbot.config.stream import STREAMING_EXCHANGES as STREAM_VENUES
from guardbot.cycle import AccountGuard, CycleOutcome
from guardbot.daemon import Daemon
from guardbot.sim import SimAccount, SimExchange, SimServer
from guardbot.sim.book import OrderRequest
from guardbot.store import JournalError, JournalReader
from guardbot.stream import runner
from guardbot.stream.venue_streams import PUSH_ON_CHANGE

from .conftest import START_MS, RecordingNotifier

WAIT_S = 20.0
pytestmark = pytest.mark.parametrize("exchange", STREAM_VENUES, indirect=True)


@pytest.fixture
async def server(exchange: str) -> AsyncIterator[SimServer]:
    server = SimServer(SimExchange(seed=1, start_ms=START_MS, exchange=exchange))
    await server.start()
    assert server.streams is not None
    server.streams.mark_interval_ms = 100
    try:
        yield server
    finally:
        await server.stop()


def _config(
    tmp_path: Path,
    exchange: str,
    base_url: str,
    credentials: str,
    *,
    interval_s: float,
    fallback_after_s: float = 30.0,
    grace_s: int = 3600,
) -> Path:
    path = tmp_path / "guardbot.toml"
    path.write_text(
        f"""
[[accounts]]
name = "main"
exchange = "{exchange}"
base_url = "{base_url}"
dry_run = false
{credentials}
[accounts.stream]
enabled = true
fallback_after_s = {fallback_after_s}
reconnect_max_s = 0.5

[guard]
new_position_grace_s = {grace_s}
# 0.1 BTC on 2,000 USDT is 475 % of equity: not this test's business (and a level read once
# makes the first look take a confirming second reading)
max_symbol_notional_pct = 1000.0
max_snapshot_age_s = 120

[storage]
path = "{tmp_path / "journal.sqlite"}"

[schedule]
interval_s = {interval_s}
"""
    )
    return path


def _long_btc(server: SimServer) -> SimAccount:
    """0.1 BTC long at 95,000 on 2,000 USDT, liquidation ~75,350 (20.7 % away), with the trader's
    own mark-price stop at 77,000: the guard has nothing to do until the price moves."""
    acct = server.engine.create_account(2_000)
    server.engine.open_position(acct.api_key, "BTCUSDT", "long", 0.1, leverage=20)
    stop = OrderRequest(
        "BTCUSDT", "SELL", "STOP_MARKET", trigger_price=77_000, close_position=True, working_type="MARK_PRICE"
    )
    server.engine.place_algo_order(acct.api_key, stop)
    return acct


async def _until(condition: Callable[[], bool], what: str, wait_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + wait_s
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.01)


class Running:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.task: asyncio.Task[int] | None = None

    async def __aenter__(self) -> Daemon:
        self.task = asyncio.create_task(self.daemon.run())
        await _until(lambda: self.daemon.streams is not None and bool(self.daemon.streams.streams), "streams")
        return self.daemon

    async def __aexit__(self, *exc: object) -> None:
        self.daemon.stop_event.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, WAIT_S)


def _daemon(
    tmp_path: Path, server: SimServer, acct: SimAccount, notifier: RecordingNotifier, **kw: Any
) -> Daemon:
    exchange = server.engine.exchange
    lines, env = credential_config(exchange, acct.api_key, acct.secret)
    settings = load_settings(_config(tmp_path, exchange, server.base_url, lines, **kw), environ=env)
    return Daemon(settings, notifier)


def _snapshots(db: Path) -> int:
    try:
        with JournalReader(db) as r:
            return len(r.equity_series("main", 0))
    except JournalError:  # not created or not migrated yet
        return 0


async def closed_by_hand_runs_a_streamed_cycle(server: SimServer, acct: SimAccount, daemon: Daemon) -> None:
    """Close the 0.1 BTC long by hand: a cycle that reads it closed follows from the position
    stream within 2 s (the tests poll every 30 s)."""
    assert daemon.streams is not None
    stream = daemon.streams.streams["main"]
    guard = daemon.guard("main")
    before = len(stream.triggers)
    server.engine.place_order(acct.api_key, OrderRequest("BTCUSDT", "SELL", "MARKET", 0.1, reduce_only=True))
    closed = time.monotonic()

    def btc_gone() -> bool:
        last = guard.last
        return (
            last is not None
            and last.snapshot is not None
            and all(not p.symbol.startswith("BTC/") for p in last.snapshot.positions)
        )

    await _until(btc_gone, "a cycle that read the closed position", wait_s=2.0)
    assert time.monotonic() - closed < 2.0  # the next poll is ~30 s away
    assert any("position changed" in reason for _, reason in stream.triggers[before:]), stream.triggers


def _reductions(server: SimServer) -> list[Sent]:
    """The reduce-only plain orders the exchange received (the venue's own paths and words)."""
    return [o for o in SPECS[server.engine.exchange].orders(server) if o.reduce_only]


async def test_a_price_shock_gets_a_protective_order_from_the_stream_long_before_the_next_poll(
    server: SimServer, tmp_path: Path
) -> None:
    acct = _long_btc(server)
    notifier = RecordingNotifier()
    async with Running(_daemon(tmp_path, server, acct, notifier, interval_s=30.0)) as daemon:
        guard = daemon.guard("main")
        stream = daemon.streams.streams["main"] if daemon.streams else None
        assert stream is not None
        await _until(
            lambda: guard.last is not None and stream.last_mark_ms is not None, "a first look and a mark"
        )
        # the streams' first look, then the scheduler's first poll ("main" has a 0.5 s offset);
        # the next poll is 30 s later: the shock comes between the two
        await _until(lambda: _snapshots(tmp_path / "journal.sqlite") >= 2, "the first poll")
        polled = guard.last.ts if guard.last else 0
        assert _reductions(server) == []

        shocked = time.monotonic()
        server.engine.shock("BTCUSDT", -15)  # 80,750: liquidation 6.7 % away, under reduce 7.5 %
        await _until(lambda: bool(_reductions(server)), "the protective cut", wait_s=1.0)
        reaction = time.monotonic() - shocked

        cut = _reductions(server)[0]
        assert cut.side == "SELL" and cut.qty is not None and cut.qty < 0.1
        # the crossing ran the cycle; the cut's own ACCOUNT_UPDATE may ask for one more look after it
        assert any("liquidation" in reason for _, reason in stream.triggers), stream.triggers
        assert reaction < 1.0  # the next poll is ~30 s away
        # the cut was decided on the exchange's own book, read after the shock
        assert guard.last is not None and guard.last.ts > polled
        position = server.engine.accounts[acct.api_key].positions[("BTCUSDT", "BOTH")]
        assert position.amount < 0.1


async def test_streams_dying_fall_back_to_polling_with_one_alert_and_recover_with_one(
    server: SimServer, tmp_path: Path
) -> None:
    assert server.streams is not None
    acct = _long_btc(server)
    notifier = RecordingNotifier()
    daemon = _daemon(tmp_path, server, acct, notifier, interval_s=0.2, fallback_after_s=1.0)
    async with Running(daemon):
        guard = daemon.guard("main")
        assert daemon.streams is not None
        stream = daemon.streams.streams["main"]
        await _until(lambda: stream.streams_up(), "streams up")

        server.streams.refuse = True
        await server.streams.kill()
        await _until(lambda: bool(notifier.of("stream|fallback")), "the fallback alert")
        seen = guard.last.ts if guard.last else 0
        await asyncio.sleep(1.5)  # still down: no second alert, and polling goes on
        assert len(notifier.of("stream|fallback")) == 1
        assert guard.last is not None and guard.last.ts > seen and guard.last.ok

        server.streams.refuse = False
        await _until(lambda: bool(notifier.of("stream|recovered")), "the recovery alert")
        await asyncio.sleep(0.5)
        assert len(notifier.of("stream|recovered")) == 1
        assert len(notifier.of("stream|fallback")) == 1
        assert "guarding by polling" in notifier.of("stream|fallback")[0].text


async def test_streamed_and_polled_cycles_never_overlap(
    server: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    acct = _long_btc(server)
    running = {"now": 0, "most": 0, "cycles": 0}
    inner = AccountGuard._cycle

    async def counted(self: AccountGuard, *args: Any) -> CycleOutcome:
        running["now"] += 1
        running["most"] = max(running["most"], running["now"])
        try:
            await asyncio.sleep(0.02)  # widen the window an overlap would need
            return await inner(self, *args)
        finally:
            running["now"] -= 1
            running["cycles"] += 1

    monkeypatch.setattr(AccountGuard, "_cycle", counted)  # guardbot's own method, to observe it
    async with Running(_daemon(tmp_path, server, acct, RecordingNotifier(), interval_s=0.5)) as daemon:
        assert daemon.streams is not None
        stream = daemon.streams.streams["main"]
        await _until(lambda: stream.last_mark_ms is not None, "marks")
        for _ in range(6):  # in and out of the warning zone, and direct requests in between
            server.engine.shock("BTCUSDT", -8)
            await asyncio.sleep(0.2)
            stream.request("test: a user-data event")
            server.engine.shock("BTCUSDT", 8 / 0.92)
            await asyncio.sleep(0.2)
            stream.request("test: a user-data event")
        # streamed cycles ran (whether a crossing or a poll saw each move first is the race this
        # test is about; the crossing itself is the first test's)
        assert any("test:" in reason for _, reason in stream.triggers)
    assert running["cycles"] > len(stream.triggers)  # polled ones too
    assert running["most"] == 1


async def test_a_stop_cancelled_by_hand_is_replaced_from_the_user_data_stream(
    server: SimServer, tmp_path: Path
) -> None:
    acct = server.engine.create_account(2_000)
    server.engine.open_position(acct.api_key, "BTCUSDT", "long", 0.1, leverage=20)  # no stop
    daemon = _daemon(tmp_path, server, acct, RecordingNotifier(), interval_s=30.0, grace_s=0)
    async with Running(daemon):
        assert daemon.streams is not None
        stream = daemon.streams.streams["main"]
        book = server.engine.accounts[acct.api_key]
        await _until(lambda: len(book.open_algo_orders()) == 1, "the guard's stop")
        await _until(lambda: _snapshots(tmp_path / "journal.sqlite") >= 2, "the first poll")
        await asyncio.sleep(0.3)
        stop = book.open_algo_orders()[0]

        server.engine.cancel_algo_order(acct.api_key, stop.algo_id, None)  # by hand, on the venue
        cancelled = time.monotonic()
        await _until(lambda: len(book.open_algo_orders()) == 1, "a new stop", wait_s=1.0)
        assert time.monotonic() - cancelled < 1.0  # the next poll is ~30 s away
        assert any("left the book" in reason for _, reason in stream.triggers), stream.triggers
        assert book.open_algo_orders()[0].trigger_price == stop.trigger_price


async def test_a_quiet_market_keeps_the_streams_up(
    server: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Marks that do not move are not a dead stream. Binance pushes the mark on a timer, so its
    marks keep coming; Bybit pushes a ticker (Hyperliquid an asset context) only when it changed,
    so its line falls silent, and its liveness is the connection answering pings, not the age of
    the last mark."""
    assert server.streams is not None
    monkeypatch.setattr(runner, "STALE_MARKS_S", 0.3)  # far shorter than the quiet spell below
    acct = _long_btc(server)
    notifier = RecordingNotifier()
    daemon = _daemon(tmp_path, server, acct, notifier, interval_s=30.0, fallback_after_s=0.5)
    async with Running(daemon):
        assert daemon.streams is not None
        stream = daemon.streams.streams["main"]
        await _until(lambda: stream.last_mark_ms is not None and stream.streams_up(), "marks, streams up")
        pushed, marked = len(server.streams.sent_marks), stream.last_mark_ms
        await asyncio.sleep(2.0)  # no price moves: the emulator's marks move only when told
        assert stream.streams_up()
        assert notifier.of("stream|fallback") == []
        if server.engine.exchange in PUSH_ON_CHANGE:
            assert len(server.streams.sent_marks) == pushed and stream.last_mark_ms == marked  # silent
        else:
            assert len(server.streams.sent_marks) > pushed  # the timer's pushes
        # and the quiet line still carries the next move at once
        server.engine.shock("BTCUSDT", -15)
        await _until(lambda: bool(_reductions(server)), "the protective cut", wait_s=1.0)


async def test_a_position_closed_by_hand_runs_a_cycle_from_the_stream(
    server: SimServer, tmp_path: Path
) -> None:
    # Hyperliquid's position stream drops a closed position from its full state rather than sending
    # it at size 0: the stream must still see that something changed (FULL_POSITION_STATE)
    acct = server.engine.create_account(2_000)  # no stops (the guard's grace is an hour): only the
    server.engine.open_position(acct.api_key, "BTCUSDT", "long", 0.1, leverage=20)  # position stream
    server.engine.open_position(acct.api_key, "ETHUSDT", "short", 0.5, leverage=20)  # can tell
    async with Running(_daemon(tmp_path, server, acct, RecordingNotifier(), interval_s=30.0)) as daemon:
        guard = daemon.guard("main")
        await _until(lambda: _snapshots(tmp_path / "journal.sqlite") >= 2, "the first poll")
        await asyncio.sleep(0.3)
        assert guard.last is not None and guard.last.snapshot is not None
        assert {p.symbol.split("/")[0] for p in guard.last.snapshot.positions} == {"BTC", "ETH"}

        await closed_by_hand_runs_a_streamed_cycle(server, acct, daemon)


async def test_a_line_the_venue_closes_is_reopened_without_an_alert(
    server: SimServer, tmp_path: Path
) -> None:
    # Venues close stream connections on their own schedule (Binance: every connection after 24 h):
    # ccxt.pro reconnects, and a drop shorter than `fallback_after_s` is not the trader's business.
    assert server.streams is not None
    acct = server.engine.create_account(2_000)
    server.engine.open_position(acct.api_key, "BTCUSDT", "long", 0.1, leverage=20)
    server.engine.open_position(acct.api_key, "ETHUSDT", "short", 0.5, leverage=20)
    notifier = RecordingNotifier()
    daemon = _daemon(tmp_path, server, acct, notifier, interval_s=30.0, fallback_after_s=2.0)
    async with Running(daemon):
        assert daemon.streams is not None
        stream = daemon.streams.streams["main"]
        await _until(lambda: _snapshots(tmp_path / "journal.sqlite") >= 2, "the first poll")
        await _until(stream.streams_up, "streams up")
        await server.streams.kill()  # once: the venue's rotation, not an outage
        await _until(lambda: bool(server.streams and server.streams.conns), "the lines reopened")
        await _until(stream.streams_up, "streams up again")
        await asyncio.sleep(0.5)  # subscribed again
        await closed_by_hand_runs_a_streamed_cycle(server, acct, daemon)
        await asyncio.sleep(2.0)  # past fallback_after_s: nothing was ever down that long
        assert notifier.of("stream|") == []
