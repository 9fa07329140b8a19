"""/open through the one entry path: take-profits, and the account read again at Confirm (a crossed
stop or a size that moved beyond the tolerance sends nothing and shows the new figures). The real
python-telegram-bot on the fake Bot API, real guards on the emulator over real ccxt."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fake_telegram import FakeTelegram
from telegram_world import CHAT, World, running_bot
from test_telegram_commands import buttons, press

from guardbot.sim import SimAccount, SimServer


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def live(
    sim: SimServer, sim_account: SimAccount, fake: FakeTelegram, tmp_path: Path
) -> AsyncIterator[World]:
    async with running_bot(sim.base_url, fake, tmp_path, {"main": (sim_account, False)}) as w:
        await w.host.check_now()
        yield w


async def test_open_with_take_profits_sends_the_whole_bracket(live: World, sim: SimServer) -> None:
    ask = await live.fake.reply_to("/open BTC long 93100 - 50 97000:0.5 99000:50%", CHAT)
    assert "open: <b>LONG 0.023 BTC" in ask.text, ask.text
    assert "take-profit 1: 0.011 at 97,000" in ask.text and "take-profit 2: 0.011 at 99,000" in ask.text
    _, edit = await press(live.fake, ask, "ok")
    assert edit is not None and edit.text.count("✅") == 4, edit.text
    acct = sim.engine.account(sim_account_key(live))
    kinds = sorted(o.order_type for o in acct.algo_orders.values() if o.is_open)
    assert kinds == ["STOP_MARKET", "TAKE_PROFIT_MARKET", "TAKE_PROFIT_MARKET"]
    assert acct.positions[("BTCUSDT", "BOTH")].qty == pytest.approx(0.023)


async def test_a_stop_crossed_before_confirm_sends_nothing(live: World, sim: SimServer) -> None:
    ask = await live.fake.reply_to("/open SOL long 170 - 50", CHAT)
    assert buttons(ask)
    sim.engine.set_mark("SOLUSDT", 169.0)  # the market went through the stop while the button waited
    _, edit = await press(live.fake, ask, "ok")
    assert edit is not None and "refused: stop 170 has been crossed" in edit.text and "now 169" in edit.text
    assert sim.mutating_requests() == []


async def test_a_size_that_moved_beyond_the_tolerance_shows_the_new_figures(
    live: World, sim: SimServer
) -> None:
    ask = await live.fake.reply_to("/open BTC long 93100 - 50", CHAT)
    assert "LONG 0.023 BTC" in ask.text
    sim.engine.set_mark("BTCUSDT", 96_500.0)  # the stop is now 3,400 away instead of 1,900
    _, edit = await press(live.fake, ask, "ok")
    assert edit is not None and "the size changed from 0.023 to 0.013" in edit.text, edit.text
    assert "would open: <b>LONG 0.013 BTC" in edit.text and "/open again" in edit.text
    assert sim.mutating_requests() == []


async def test_open_mistakes_are_one_line(live: World) -> None:
    for command, expected in (
        ("/open BTC long 93100 97000:1.5", "the fraction must be in (0, 1]"),
        ("/open BTC long 93100 90000:0.5", "must be above its stop"),
        ("/open BTC long 93100 - 50 97000:0.6 98000:0.6", "add up to 1.2"),
    ):
        text = (await live.fake.reply_to(command, CHAT)).text
        assert expected in text and "\n" not in text.strip(), text


def sim_account_key(w: World) -> str:
    key: str = w.guard().gateway.client.apiKey
    return key


STRATEGIES = (
    '\n[[strategies]]\nname = "donchian_breakout"\naccounts = ["main"]\n'
    '\n[[strategies]]\nname = "webhook"\naccounts = ["main"]\nenabled = false\n'
)


async def test_strategies_lists_pauses_and_resumes(
    sim: SimServer, sim_account: SimAccount, fake: FakeTelegram, tmp_path: Path
) -> None:
    accounts = {"main": (sim_account, True)}
    async with running_bot(sim.base_url, fake, tmp_path, accounts, extra_guard=STRATEGIES) as w:
        text = (await fake.reply_to("/strategies", CHAT)).text
        assert "manual: /open and guardbot open (always on)" in text
        assert "donchian_breakout (main, bar): configured" in text and "webhook (main): off" in text
        assert "paused" in (await fake.reply_to("/strategies pause donchian_breakout", CHAT)).text
        states = await w.journal.strategy_states()
        assert states["donchian_breakout"].paused
        assert f"paused: paused by user {CHAT}" in (await fake.reply_to("/strategies", CHAT)).text
        assert "resumed" in (await fake.reply_to("/strategies resume donchian_breakout", CHAT)).text
        assert not (await w.journal.strategy_states())["donchian_breakout"].paused
        assert (
            "unknown strategy 'nope'; configured: donchian_breakout, webhook"
            in (await fake.reply_to("/strategies resume nope", CHAT)).text
        )
        assert "usage: /strategies" in (await fake.reply_to("/strategies stop x", CHAT)).text
