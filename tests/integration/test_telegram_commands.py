"""Telegram commands end to end: the real python-telegram-bot against a fake Bot API on 127.0.0.1,
real guards on the exchange emulator, a real journal on tmp_path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fake_telegram import Call, FakeTelegram
from telegram_world import CHAT, World, running_bot

from guardbot.guard.state import lock
from guardbot.sim import SimAccount, SimServer

STRANGER = 999


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def book(sim: SimServer, acct: SimAccount) -> None:
    """0.2 BTC and 3 ETH long, 10x, a trader's stop on BTC only."""
    from guardbot.sim import OrderRequest

    sim.engine.open_position(acct.api_key, "BTCUSDT", "long", 0.2, leverage=10)
    sim.engine.open_position(acct.api_key, "ETHUSDT", "long", 3.0, leverage=10)
    sim.engine.place_algo_order(
        acct.api_key,
        OrderRequest(
            "BTCUSDT",
            "SELL",
            "STOP_MARKET",
            trigger_price=90_000.0,
            close_position=True,
            working_type="MARK_PRICE",
        ),
    )


@pytest.fixture
async def world(
    sim: SimServer, sim_account: SimAccount, fake: FakeTelegram, tmp_path: Path
) -> AsyncIterator[World]:
    """One dry-run account holding the book."""
    book(sim, sim_account)
    async with running_bot(sim.base_url, fake, tmp_path, {"main": (sim_account, True)}) as w:
        await w.host.check_now()
        yield w


@pytest.fixture
async def live(
    sim: SimServer, sim_account: SimAccount, fake: FakeTelegram, tmp_path: Path
) -> AsyncIterator[World]:
    """One account with dry_run = false (orders reach the emulator), confirmations after 2 s."""
    book(sim, sim_account)
    accounts = {"main": (sim_account, False)}
    async with running_bot(
        sim.base_url, fake, tmp_path, accounts, extra_telegram="confirm_timeout_s = 2"
    ) as w:
        await w.host.check_now()
        yield w


def buttons(call: Call) -> list[str]:
    markup = call.params.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


async def press(fake: FakeTelegram, call: Call, verb: str, *, edits: bool = True) -> tuple[Call, Call | None]:
    """Press the button starting with `verb` on the message `call` sent; (answer, edit or None).
    With edits=False, check that the press changes no message."""
    data = next(d for d in buttons(call) if d.startswith(verb + ":"))
    mark = len(fake.calls)
    fake.press(data, CHAT)
    answer = await fake.wait_for("answerCallbackQuery", after=mark)
    if not edits:
        await asyncio.sleep(0.2)  # an edit would follow the answer within milliseconds
        assert not [c for c in fake.calls[mark:] if c.method == "editMessageText"]
        return answer, None
    return answer, await fake.wait_for("editMessageText", after=mark)


# ----------------------------------------------------------------------------- looking


async def test_status_shows_equity_margin_colour_drawdown_and_state(world: World) -> None:
    text = (await world.fake.reply_to("/status", CHAT)).text
    assert "<b>main</b> ACTIVE" in text
    assert "🟢" in text  # margin ratio ~1 %: far below the 50 % warn level
    assert "equity 9," in text and "margin ratio" in text and "drawdown 0.0%" in text
    assert "DRY-RUN" in text


async def test_positions_show_pnl_liquidation_and_stop_or_unprotected(world: World) -> None:
    text = (await world.fake.reply_to("/positions", CHAT)).text
    btc, eth = (line for line in text.splitlines() if "LONG" in line)
    assert "BTC" in btc and "PnL" in btc and "ETH" in eth
    detail = text.split("\n")
    assert any("liq" in line and "away" in line and "stop 90,000" in line for line in detail)
    assert any("UNPROTECTED" in line for line in detail)


async def test_risk_reports_exposure_and_the_liquidating_btc_move(world: World) -> None:
    text = (await world.fake.reply_to("/risk", CHAT)).text
    assert "gross" in text and "net" in text
    assert "liquidates if BTC -" in text
    assert "BTC -10%: equity" in text


async def test_size_names_the_binding_constraint(world: World) -> None:
    text = (await world.fake.reply_to("/size SOL long 170", CHAT)).text
    assert "size: <b>LONG" in text and "binding: <b>risk</b>" in text
    # 1 % risk with a 0.1 % stop would be a huge position: a cap binds instead
    capped = (await world.fake.reply_to("/size SOL long 179.9 - 1%", CHAT)).text
    assert "binding: <b>" in capped and "binding: <b>risk</b>" not in capped


async def test_history_lists_recent_journal_lines(world: World) -> None:
    await world.fake.reply_to("/pause", CHAT)
    text = (await world.fake.reply_to("/history 5", CHAT)).text
    assert text.startswith("<b>history</b>")
    assert "/pause by user" in text
    assert 1 <= len(text.splitlines()) - 1 <= 5


async def test_chart_sends_a_png_of_equity_and_margin_ratio(world: World) -> None:
    await world.host.check_now()
    await world.host.check_now()
    mark = len(world.fake.calls)
    world.fake.command("/chart 24h", CHAT)
    photo = await world.fake.wait_for("sendPhoto", after=mark)
    assert photo.files["photo"].startswith(b"\x89PNG")
    assert "equity" in photo.text


async def test_help_and_menu_list_every_command(world: World) -> None:
    text = (await world.fake.reply_to("/help", CHAT)).text
    for name in (
        "status",
        "positions",
        "risk",
        "size",
        "open",
        "stops",
        "pause",
        "resume",
        "flatten",
        "chart",
    ):
        assert f"/{name}" in text
    assert {c["command"] for c in world.fake.commands} >= {"status", "open", "flatten", "history", "help"}


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/size BTC", "usage: /size"),
        ("/size BTC up 90000", "side must be long or short"),
        ("/size BTC long cheap", "STOP 'cheap': expected a number"),
        ("/size XRP short 2,45", "STOP '2,45': use a dot for decimals (did you mean 2.45?)"),
        ("/size SOL long 170 - 150%", "RISK '150%': a percentage of equity must be at most 100%"),
        ("/size BTC long 99000", "above entry"),
        ("/size NOPE long 1", "unknown symbol"),
        ("/open BTC long -5", "STOP '-5': must be greater than 0"),
        ("/positions main extra", "unexpected"),
        ("/history lots", "N must be a whole number"),
        ("/chart 99x", "window must look like 24h or 7d"),
        ("/stops nobody", "unknown account"),
        ("/frobnicate", "unknown command /frobnicate"),
    ],
)
async def test_malformed_commands_get_one_line_usage(world: World, command: str, expected: str) -> None:
    text = (await world.fake.reply_to(command, CHAT)).text
    assert expected in text
    assert "\n" not in text.strip() and "Traceback" not in text


async def test_unauthorized_chat_and_user_are_ignored_and_journaled(
    sim: SimServer, sim_account: SimAccount, fake: FakeTelegram, tmp_path: Path
) -> None:
    accounts = {"main": (sim_account, True)}
    async with running_bot(
        sim.base_url, fake, tmp_path, accounts, extra_telegram=f"allowed_user_ids = [{CHAT}]"
    ) as w:
        mark = len(fake.calls)
        fake.command("/status", STRANGER)  # a chat that is not configured
        fake.command("/flatten", CHAT, user_id=STRANGER)  # the right chat, a user who is not allowed
        reply = await fake.reply_to("/help", CHAT)  # processed after both
        sent = [c for c in fake.calls[mark:] if c.method == "sendMessage"]
        assert sent == [reply]
        for _ in range(100):  # updates run concurrently: the journal write may land just after
            events = [
                h.row for h in await w.journal.history(0, kinds=["event"]) if h.row.kind == "unauthorized"
            ]
            if len(events) == 2:
                break
            await asyncio.sleep(0.01)
        assert len(events) == 2
        assert {e.details["chat_id"] for e in events} == {STRANGER, CHAT}


async def test_with_two_accounts_commands_ask_which_one(
    sim: SimServer, sim_account: SimAccount, fake: FakeTelegram, tmp_path: Path
) -> None:
    other = sim.engine.create_account(wallet=5_000.0)
    accounts = {"main": (sim_account, True), "alt": (other, True)}
    async with running_bot(sim.base_url, fake, tmp_path, accounts) as w:
        await w.host.check_now()
        assert (await fake.reply_to("/positions", CHAT)).text.startswith("which account? one of main, alt")
        assert "<b>alt</b> positions" in (await fake.reply_to("/positions alt", CHAT)).text
        status = (await fake.reply_to("/status", CHAT)).text
        assert "<b>main</b>" in status and "<b>alt</b>" in status


# ----------------------------------------------------------------------------- acting


async def test_open_confirmed_places_entry_and_stop_on_the_exchange(live: World, sim: SimServer) -> None:
    before = len(sim.mutating_requests())
    ask = await live.fake.reply_to("/open SOL long 170 - 50", CHAT)
    assert "open: <b>LONG" in ask.text and sorted(b.split(":")[0] for b in buttons(ask)) == ["no", "ok"]
    answer, edit = await press(live.fake, ask, "ok")
    assert edit is not None and edit.text.count("✅") == 2, edit.text
    sent = sim.mutating_requests()[before:]
    assert [r.path for r in sent] == ["/fapi/v1/order", "/fapi/v1/algoOrder"]
    acct = sim.engine.account(live.guard().gateway.client.apiKey)
    assert ("SOLUSDT", "BOTH") in acct.positions
    stop = next(o for o in acct.algo_orders.values() if o.symbol == "SOLUSDT")
    assert stop.reduce_only and stop.side == "SELL" and stop.trigger_price == 170.0
    # the button works once: a second press answers and does nothing
    answer, _ = await press(live.fake, ask, "ok", edits=False)
    assert "already handled" in answer.params["text"]
    assert len(sim.mutating_requests()) == before + 2


async def test_open_is_refused_while_halted(live: World, sim: SimServer) -> None:
    guard = live.guard()
    ask = await live.fake.reply_to("/open SOL long 170", CHAT)  # asked while ACTIVE
    guard.state = lock(guard.state, guard.clock(), guard.limits, "drawdown 12% ≥ 10%")
    _, edit = await press(live.fake, ask, "ok")
    assert edit is not None and "refused: HALTED" in edit.text
    again = await live.fake.reply_to("/open SOL long 170", CHAT)
    assert "HALTED: new entries refused" in again.text and not buttons(again)
    assert sim.mutating_requests() == []


async def test_cancel_and_expired_buttons_do_nothing(live: World, sim: SimServer) -> None:
    ask = await live.fake.reply_to("/flatten", CHAT)
    answer, edit = await press(live.fake, ask, "no")
    assert edit is not None and "cancelled" in edit.text
    ask = await live.fake.reply_to("/flatten", CHAT)
    mark = len(live.fake.calls)
    expired = await live.fake.wait_for("editMessageText", after=mark, timeout=5.0)  # confirm_timeout_s = 2
    assert "expired" in expired.text
    answer, _ = await press(live.fake, ask, "ok", edits=False)
    assert "already handled or expired" in answer.params["text"]
    assert sim.mutating_requests() == []


async def test_flatten_closes_every_position_reduce_only(live: World, sim: SimServer) -> None:
    ask = await live.fake.reply_to("/flatten", CHAT)
    assert "close EVERY position" in ask.text
    _, edit = await press(live.fake, ask, "ok")
    assert edit is not None and edit.text.count("✅") == 2, edit.text
    orders = [r for r in sim.mutating_requests() if r.path == "/fapi/v1/order"]
    assert len(orders) == 2 and all(r.params["reduceOnly"] == "true" for r in orders)
    acct = sim.engine.account(live.guard().gateway.client.apiKey)
    assert not [p for p in acct.positions.values() if p.amount]


async def test_flatten_also_cancels_the_orders_that_could_reopen_a_position(
    sim: SimServer, sim_account: SimAccount, fake: FakeTelegram, tmp_path: Path
) -> None:
    """Flatten means flat: a resting limit buy would re-open BTC the moment the market dips. The
    confirmation says it will be cancelled, and it is."""
    from guardbot.sim import OrderRequest

    entry = sim.engine.place_order(
        sim_account.api_key,
        OrderRequest("BTCUSDT", "BUY", "LIMIT", quantity=0.1, price=90_000, time_in_force="GTC"),
    )
    book(sim, sim_account)
    async with running_bot(sim.base_url, fake, tmp_path, {"main": (sim_account, False)}) as w:
        await w.host.check_now()
        ask = await fake.reply_to("/flatten", CHAT)
        assert "close EVERY position" in ask.text
        assert "cancel every order that could re-open one: buy 0.1 BTC limit 90,000" in ask.text, ask.text
        _, edit = await press(fake, ask, "ok")
        assert edit is not None and edit.text.count("✅") == 3, edit.text
    assert entry.status == "CANCELED"
    acct = sim.engine.account(sim_account.api_key)
    assert not [p for p in acct.positions.values() if p.amount]


async def test_stops_runs_a_check_and_places_missing_stops(
    sim: SimServer, sim_account: SimAccount, fake: FakeTelegram, tmp_path: Path
) -> None:
    book(sim, sim_account)
    accounts = {"main": (sim_account, False)}
    async with running_bot(
        sim.base_url, fake, tmp_path, accounts, extra_guard="new_position_grace_s = 0"
    ) as w:
        mark = len(fake.calls)
        fake.command("/stops", CHAT)
        reply = await fake.wait_for("sendMessage", lambda c: "stop(s)" in c.text, after=mark)
        assert "1 stop(s)" in reply.text and "ETH" in reply.text and "✅" in reply.text, reply.text
        algo = [
            o for o in sim.engine.account(sim_account.api_key).algo_orders.values() if o.symbol == "ETHUSDT"
        ]
        assert len(algo) == 1 and algo[0].status == "NEW"
        assert "every position has a stop" in (await fake.reply_to("/stops", CHAT)).text
        assert w.guard().last is not None


async def test_pause_persists_and_resume_needs_confirmation(world: World) -> None:
    guard = world.guard()
    assert "entries paused" in (await world.fake.reply_to("/pause", CHAT)).text
    assert guard.state.paused
    saved = await world.journal.load_guard_state("main")
    assert saved is not None and saved.paused
    refused = await world.fake.reply_to("/open SOL long 170", CHAT)
    assert "paused" in refused.text and not buttons(refused)
    ask = await world.fake.reply_to("/resume", CHAT)
    assert guard.state.paused  # nothing changes before the button
    _, edit = await press(world.fake, ask, "ok")
    assert edit is not None and "pause lifted" in edit.text
    assert not guard.state.paused
    saved = await world.journal.load_guard_state("main")
    assert saved is not None and not saved.paused


async def test_resume_respects_the_drawdown_cool_down(world: World) -> None:
    guard = world.guard()
    guard.state = lock(guard.state, guard.clock(), guard.limits, "drawdown 12% ≥ 10%")
    refused = await world.fake.reply_to("/resume", CHAT)  # refused first: no button to press
    assert "cool-down" in refused.text and "refused" in refused.text and not buttons(refused)
    assert guard.state.locked
    # after the cool-down it unlocks
    guard.state = lock(
        guard.state, guard.clock() - 10 * guard.limits.cooldown_ms, guard.limits, "x", "reduce"
    )
    ask = await world.fake.reply_to("/resume", CHAT)
    _, edit = await press(world.fake, ask, "ok")
    assert edit is not None and "resumed after lock" in edit.text
    assert not guard.state.locked
    await asyncio.sleep(0)
