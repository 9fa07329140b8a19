"""The real daemon with Telegram enabled: `guardbot run` wiring, from a TOML config whose account is
on the emulator and whose Bot API is the fake, to a clean shutdown."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fake_telegram import FakeTelegram
from telegram_world import CHAT, write_config

from guardbot.config import ConfigError, load_settings
from guardbot.daemon import Daemon
from guardbot.sim import SimAccount, SimServer
from guardbot.store import JournalReader


async def test_daemon_runs_the_bot_in_its_loop_and_stops_cleanly(
    sim: SimServer, sim_account: SimAccount, tmp_path: Path
) -> None:
    sim.engine.open_position(sim_account.api_key, "BTCUSDT", "long", 0.1, leverage=5)
    fake = FakeTelegram()
    await fake.start()
    try:
        config = write_config(tmp_path / "guardbot.toml", sim.base_url, fake.base_url, [("main", True)])
        environ = {
            "GUARDBOT_TELEGRAM_TOKEN": fake.token,
            "MAIN_KEY": sim_account.api_key,
            "MAIN_SECRET": sim_account.secret,
        }
        daemon = Daemon(load_settings(config, environ=environ))
        task = asyncio.create_task(daemon.run())
        started = await fake.wait_for("sendMessage", lambda c: "guardbot started" in c.text, timeout=10)
        assert started.chat_id == CHAT
        assert {c["command"] for c in fake.commands} >= {"status", "flatten"}
        await fake.wait_for("getUpdates")
        while not (daemon.guards and daemon.guards[0].last):  # the first cycle runs at start
            await asyncio.sleep(0.02)
        status = await fake.reply_to("/status", CHAT)
        assert "<b>main</b> ACTIVE" in status.text and "DRY-RUN" in status.text
        daemon.stop_event.set()
        assert await asyncio.wait_for(task, 10) == 0
        updater_calls = len(fake.calls)
        await asyncio.sleep(0.1)
        assert len(fake.calls) == updater_calls  # polling stopped
    finally:
        await fake.stop()
    with JournalReader(tmp_path / "guardbot.db") as reader:
        assert reader.latest_snapshots()[0].account == "main"


async def test_a_missing_bot_token_is_one_line_naming_the_variable(
    sim: SimServer, sim_account: SimAccount, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "guardbot.toml", sim.base_url, "http://127.0.0.1:9", [("main", True)])
    environ = {"MAIN_KEY": sim_account.api_key, "MAIN_SECRET": sim_account.secret}
    with pytest.raises(ConfigError) as err:
        await Daemon(load_settings(config, environ=environ)).run()
    assert "GUARDBOT_TELEGRAM_TOKEN" in str(err.value) and len(str(err.value).splitlines()) == 1
