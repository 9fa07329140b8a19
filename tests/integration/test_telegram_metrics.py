"""The Telegram alert queue's depth on /metrics, with the real daemon, the real PTB bot and the fake
Bot API: alerts that cannot go out (the Bot API answers 5xx) show as waiting, and the depth falls
back to 0 once Telegram answers again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from fake_telegram import FakeTelegram
from prometheus_client.parser import text_string_to_metric_families
from telegram_world import write_config

from guardbot.config import load_settings
from guardbot.daemon import Daemon
from guardbot.notify import Alert
from guardbot.sim import SimAccount, SimServer

WAIT_S = 30.0


async def _queue_depth(address: tuple[str, int]) -> float:
    async with aiohttp.ClientSession() as http, http.get(f"http://{address[0]}:{address[1]}/metrics") as r:
        text = await r.text()
    [family] = [f for f in text_string_to_metric_families(text) if f.name == "guardbot_telegram_queue_depth"]
    return family.samples[0].value


async def test_alerts_waiting_for_telegram_show_in_the_queue_depth(
    sim: SimServer, sim_account: SimAccount, tmp_path: Path
) -> None:
    fake = FakeTelegram()
    await fake.start()
    try:
        config = write_config(tmp_path / "guardbot.toml", sim.base_url, fake.base_url, [("main", True)])
        config.write_text(config.read_text() + "\n[metrics]\nenabled = true\nport = 0\n")
        environ = {
            "GUARDBOT_TELEGRAM_TOKEN": fake.token,
            "MAIN_KEY": sim_account.api_key,
            "MAIN_SECRET": sim_account.secret,
        }
        daemon = Daemon(load_settings(config, environ=environ))
        task = asyncio.create_task(daemon.run())
        await fake.wait_for("sendMessage", lambda c: "guardbot started" in c.text, timeout=WAIT_S)
        assert daemon.ops.address is not None
        assert await _queue_depth(daemon.ops.address) == 0

        fake.fail("sendMessage", "5xx", count=1_000)  # Telegram is down
        for i in range(3):
            await daemon.notifier.send(Alert("warning", "main", f"test-{i}", f"alert {i}"))
        # the first is being retried, the others wait behind it
        assert await _queue_depth(daemon.ops.address) >= 2

        fake.clear_failures()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while await _queue_depth(daemon.ops.address) != 0:
            assert loop.time() < deadline, "the queue did not drain once Telegram answered"
            await asyncio.sleep(0.2)
        daemon.stop_event.set()
        assert await asyncio.wait_for(task, WAIT_S) == 0
    finally:
        await fake.stop()
