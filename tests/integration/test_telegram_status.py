"""What a trader reads once on Telegram: /status's dot is the worst of state, margin ratio and
drawdown; the last good figures stay when a cycle fails, with why, and no signed URL anywhere;
/resume refuses before it asks; /chart after /flatten shows the book after it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fake_telegram import FakeTelegram
from telegram_world import CHAT, World, running_bot
from test_telegram_commands import book, buttons, press

from guardbot.guard.state import lock
from guardbot.sim import SimAccount, SimServer

SECRETS_IN_URLS = ("signature", "timestamp=", "http://", "https://", "recvWindow")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def world(
    sim: SimServer, sim_account: SimAccount, fake: FakeTelegram, tmp_path: Path
) -> AsyncIterator[World]:
    book(sim, sim_account)
    async with running_bot(sim.base_url, fake, tmp_path, {"main": (sim_account, True)}) as w:
        await w.host.check_now()
        yield w


@pytest.fixture
async def live(
    sim: SimServer, sim_account: SimAccount, fake: FakeTelegram, tmp_path: Path
) -> AsyncIterator[World]:
    book(sim, sim_account)
    async with running_bot(sim.base_url, fake, tmp_path, {"main": (sim_account, False)}) as w:
        await w.host.check_now()
        yield w


async def test_a_halted_account_never_gets_a_green_dot(world: World) -> None:
    before = (await world.fake.reply_to("/status", CHAT)).text
    assert "🟢 <b>main</b> ACTIVE" in before  # margin ratio ~1 %, no drawdown
    guard = world.guard()
    guard.state = lock(guard.state, guard.clock(), guard.limits, "drawdown 12% ≥ 10%")
    after = (await world.fake.reply_to("/status", CHAT)).text
    assert "🔴 <b>main</b> HALTED" in after and "🟢" not in after, after
    assert "DRY-RUN" in after


async def test_a_failed_cycle_keeps_the_last_good_figures_and_shows_no_signed_url(
    world: World, sim: SimServer
) -> None:
    sim.inject_fault("5xx", count=10_000)
    await world.host.check_now()
    guard = world.guard()
    assert guard.last is not None and not guard.last.ok
    # ccxt's text carries the signed URL; it is redacted where the error is first described
    assert "signature=" not in (guard.last.error or "") and "/fapi/v3/account" in (guard.last.error or "")

    status = (await world.fake.reply_to("/status", CHAT)).text
    assert "equity 9," in status and "2 position(s)" in status, status
    assert "last cycle failed" in status and "ExchangeNotAvailable" in status
    stops = (await world.fake.reply_to("/stops", CHAT)).text
    assert "cannot see the account" in stops
    positions = (await world.fake.reply_to("/positions", CHAT)).text
    history = (await world.fake.reply_to("/history 50", CHAT)).text
    for text in (status, stops, positions, history):
        assert not [s for s in SECRETS_IN_URLS if s in text], text
    events = [h.row for h in await world.journal.history(0, kinds=["event"])]
    failed = [e for e in events if e.kind == "snapshot_failed"]
    assert failed and all("signature" not in e.text and "http" not in e.text for e in failed)
    assert any("/fapi/" in e.text for e in failed)  # the path stays: it says which call failed


async def test_resume_in_a_cool_down_is_refused_before_any_button(world: World) -> None:
    guard = world.guard()
    guard.state = lock(guard.state, guard.clock(), guard.limits, "drawdown 12% ≥ 10%")
    reply = await world.fake.reply_to("/resume", CHAT)
    assert "resume refused: cool-down has" in reply.text and not buttons(reply)
    nothing = await world.fake.reply_to("/resume main", CHAT)
    assert "refused" in nothing.text
    guard.state = lock(
        guard.state, guard.clock() - 10 * guard.limits.cooldown_ms, guard.limits, "x", "reduce"
    )
    ask = await world.fake.reply_to("/resume", CHAT)
    assert buttons(ask)  # past the cool-down: asks, then resumes


async def test_chart_right_after_flatten_shows_the_flat_book(live: World) -> None:
    ask = await live.fake.reply_to("/flatten", CHAT)
    _, edit = await press(live.fake, ask, "ok")
    assert edit is not None and edit.text.count("✅") == 2, edit.text
    mark = len(live.fake.calls)
    live.fake.command("/chart 24h", CHAT)
    photo = await live.fake.wait_for("sendPhoto", after=mark)
    assert "margin ratio 0.0%" in photo.text, photo.text
    status = (await live.fake.reply_to("/status", CHAT)).text
    assert "0 position(s)" in status


async def test_unknown_symbol_lists_the_short_names_people_type(world: World) -> None:
    text = (await world.fake.reply_to("/size NOPE long 1", CHAT)).text
    assert "unknown symbol 'NOPE'; known: " in text and "BTC, " in text and "ETH" in text, text
