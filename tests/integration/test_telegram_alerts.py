"""Telegram alerts from real guard cycles: deduplicated, escalated at once, routed by level, and
delivered through rate limits and network failures without holding up the guard. The journal
keeps every alert with its final delivery status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fake_telegram import FakeTelegram
from telegram_world import CHAT, World, running_bot

from guardbot.notify.base import Alert
from guardbot.sim import SimAccount, SimServer
from guardbot.store.rows import AlertRow

CRITICAL_CHAT = -100777
# Only the liquidation-distance rule speaks on this path: the other limits are out of the way.
QUIET = """leverage_warn = 50
leverage_hard = 60
max_symbol_notional_pct = 5000
new_position_grace_s = 3600
drawdown_halt_pct = 90
drawdown_reduce_pct = 95
drawdown_flatten_pct = 99
daily_loss_halt_pct = 90
"""


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
    """A dry-run account long 0.5 BTC at 95,000 (cross liquidation near 75,350)."""
    sim.engine.open_position(sim_account.api_key, "BTCUSDT", "long", 0.5, leverage=10)
    accounts = {"main": (sim_account, True)}
    extra = f"critical_chat_id = {CRITICAL_CHAT}"
    async with running_bot(
        sim.base_url, fake, tmp_path, accounts, extra_guard=QUIET, extra_telegram=extra
    ) as w:
        yield w


async def alerts(world: World) -> list[AlertRow]:
    rows = [h.row for h in await world.journal.history(0, kinds=["alert"])]
    return [r for r in rows if isinstance(r, AlertRow)]


async def step(world: World, sim: SimServer, price: float) -> None:
    sim.engine.set_mark("BTCUSDT", price)
    await world.host.check_now()


async def test_alerts_follow_a_price_path_deduplicated_and_escalated(world: World, sim: SimServer) -> None:
    fake = world.fake
    await step(world, sim, 95_000)  # 20.7 % from liquidation: quiet
    await step(world, sim, 88_000)  # 14.4 % < warn 15 %
    warn = await fake.wait_for("sendMessage", lambda c: "WARNING" in c.text)
    assert "liquidation" in warn.text and "DRY-RUN" in warn.text and warn.chat_id == CHAT
    await step(world, sim, 88_000)  # the same reading again
    await step(world, sim, 87_500)  # worse, same level
    assert len([c for c in fake.of("sendMessage") if "liquidation" in c.text]) == 1
    await step(world, sim, 81_000)  # 7.0 % < reduce 7.5 %: escalates inside the flood window
    escalated = await fake.wait_for("sendMessage", lambda c: "escalated warn → reduce" in c.text)
    assert "CRITICAL" in escalated.text
    # critical alerts also reach the critical chat; the warning did not
    await fake.wait_for("sendMessage", lambda c: c.chat_id == CRITICAL_CHAT and "escalated" in c.text)
    assert not [c for c in fake.of("sendMessage", CRITICAL_CHAT) if "WARNING" in c.text]
    # the guard's dry-run reduction is reported with what it would have sent
    await fake.wait_for("sendMessage", lambda c: "reduce-only market sell" in c.text and "DRY-RUN" in c.text)
    await step(world, sim, 95_000)  # back to safety: "cleared", held by the 5-minute flood limit
    assert not [c for c in fake.of("sendMessage") if "cleared" in c.text]
    rows = await alerts(world)
    # one key per subject: warning, then the escalation (with the dry-run cut it decided, in the
    # same message), then the clear
    assert [r.level for r in rows if r.key == "liquidation|BTC/USDT:USDT"] == ["warning", "critical", "info"]


async def test_held_alerts_are_delivered_at_shutdown_and_every_row_ends_sent(
    sim: SimServer, sim_account: SimAccount, fake: FakeTelegram, tmp_path: Path
) -> None:
    sim.engine.open_position(sim_account.api_key, "BTCUSDT", "long", 0.5, leverage=10)
    async with running_bot(
        sim.base_url, fake, tmp_path, {"main": (sim_account, True)}, extra_guard=QUIET
    ) as w:
        for price in (95_000, 88_000, 95_000):  # warning, then cleared inside the flood window
            await step(w, sim, price)
        assert not [c for c in fake.of("sendMessage") if "cleared" in c.text]
    assert [c for c in fake.of("sendMessage") if "cleared" in c.text]
    async with running_bot(sim.base_url, fake, tmp_path, {"main": (sim_account, True)}) as again:
        rows = await alerts(again)
    assert rows and all(r.delivered == "sent" for r in rows), [(r.text[:30], r.delivered) for r in rows]


async def test_rate_limits_and_network_errors_are_retried_without_holding_up_the_guard(
    world: World, sim: SimServer
) -> None:
    fake = world.fake
    fake.fail("sendMessage", "429", retry_after=1)  # AIORateLimiter waits retry_after, then retries
    fake.fail("sendMessage", "502", count=2)
    fake.fail("sendMessage", "drop")
    await step(world, sim, 88_000)
    assert world.guard().last is not None and world.guard().last.ok  # the cycle did not wait for Telegram
    warn = await fake.wait_for("sendMessage", lambda c: "WARNING" in c.text)
    statuses = [c.status for c in fake.calls if c.method == "sendMessage"]
    assert statuses == [429, 502, 502, 0, 200]
    assert warn.chat_id == CHAT
    await world.notifier.close()
    (row,) = [r for r in await alerts(world) if r.level == "warning"]
    assert row.delivered == "sent" and row.attempts == 4  # 429 (retried inside PTB), 502, 502, drop, ok


async def test_an_unreachable_api_fails_the_alert_not_the_guard(world: World, sim: SimServer) -> None:
    fake = world.fake
    fake.fail("sendMessage", "drop", count=1000)
    await step(world, sim, 88_000)
    await step(world, sim, 81_000)
    guard = world.guard()
    assert guard.last is not None and guard.last.ok and guard.last.figures is not None
    await world.notifier.close()
    rows = await alerts(world)
    assert rows and all(r.delivered == "failed" for r in rows)
    assert all(r.attempts >= 1 for r in rows)


async def test_messages_are_html_escaped_and_dry_run_is_spelled_out(world: World) -> None:
    await world.notifier.send(Alert("warning", "main", "test|x", "ratio < 5% & <rising>", dry_run=True))
    msg = await world.fake.wait_for("sendMessage", lambda c: "ratio" in c.text)
    assert "ratio &lt; 5% &amp; &lt;rising&gt;" in msg.text
    assert msg.text.startswith("⚠️ <b>main</b> WARNING · <b>DRY-RUN</b>")
    assert msg.params["parse_mode"] == "HTML"
