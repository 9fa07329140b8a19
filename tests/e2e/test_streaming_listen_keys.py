"""A user-data stream outlives its listenKey (Binance USDⓈ-M and Aster): the daemon's stream, on
the real ccxt.pro client, takes a new key when one expires anyway, and its order and position
updates still trigger cycles. ccxt.pro alone ignores `listenKeyExpired`, after which the venue sends
no more user data on that line (docs/streaming.md): the stream would look alive and say nothing.
Keys live 0.5 s here instead of 60 minutes, so they expire long before the 20-minute renewal."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from guardbot.sim import SimServer
from guardbot.stream.venue_streams import LISTEN_KEY_VENUES

from . import test_streaming
from .conftest import RecordingNotifier
from .test_streaming import Running, _daemon, _snapshots, _until, closed_by_hand_runs_a_streamed_cycle

pytestmark = pytest.mark.parametrize("exchange", sorted(LISTEN_KEY_VENUES), indirect=True)
server = test_streaming.server  # the emulator with its streams (fixture)


def _keys_taken(server: SimServer) -> int:
    return sum(1 for r in server.request_log if r.method == "POST" and r.path.endswith("/listenKey"))


async def test_an_expired_listen_key_is_replaced_and_the_stream_still_triggers_cycles(
    server: SimServer, tmp_path: Path
) -> None:
    assert server.streams is not None
    keys = server.streams.listen_keys
    keys.ttl_s = 0.5
    acct = server.engine.create_account(2_000)
    server.engine.open_position(acct.api_key, "BTCUSDT", "long", 0.1, leverage=20)
    server.engine.open_position(acct.api_key, "ETHUSDT", "short", 0.5, leverage=20)
    async with Running(_daemon(tmp_path, server, acct, RecordingNotifier(), interval_s=30.0)) as daemon:
        await _until(lambda: _snapshots(tmp_path / "journal.sqlite") >= 2, "the first poll")
        # two keys expired and were replaced, without a poll in between (the next is 30 s away)
        await _until(lambda: _keys_taken(server) >= 3, "a new key after each expiry", wait_s=10.0)
        keys.ttl_s = 3600.0  # the next key lasts: the order below meets a line that listens
        taken = _keys_taken(server)
        await _until(lambda: _keys_taken(server) > taken, "a key that lasts", wait_s=5.0)
        await asyncio.sleep(0.5)  # its line subscribed

        await closed_by_hand_runs_a_streamed_cycle(server, acct, daemon)
