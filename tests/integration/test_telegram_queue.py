"""The alert queue's policies (flood limit, bounded queue, retries) on a real journal, with the
Telegram call replaced by a recorder: what is checked here is guardbot's queueing, not PTB."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram.error import BadRequest, RetryAfter, TimedOut

from guardbot.notify.base import Alert
from guardbot.notify.tg_queue import DeliveryPolicy, TelegramNotifier
from guardbot.store import Journal

CHAT, ONCALL = 1, 2


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str, bool]] = []
        self.errors: list[Exception] = []

    async def __call__(self, chat_id: int, text: str, html: bool) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append((chat_id, text, html))


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    async with await Journal.open(tmp_path / "j.db") as j:
        yield j


async def alert(journal: Journal, level: str, key: str, text: str) -> Alert:
    alert_id = await journal.record_alert("main", 1, level=level, key=key, text=text)
    return Alert(level, "main", key, text, alert_id=alert_id)  # type: ignore[arg-type]


async def delivered(journal: Journal) -> dict[str, str]:
    return {h.row.text: h.row.delivered for h in await journal.history(0, kinds=["alert"])}  # type: ignore[union-attr]


async def test_same_key_is_held_for_the_window_unless_the_level_rises(journal: Journal) -> None:
    now = [0.0]
    send = Recorder()
    n = TelegramNotifier(
        send, [CHAT], ONCALL, journal, DeliveryPolicy(flood_window_s=300), clock=lambda: now[0]
    )
    n.start()
    n.mark_ready()
    assert await n.send(await alert(journal, "warning", "margin", "ratio 55%")) == "pending"
    await n.send(await alert(journal, "warning", "margin", "ratio 57%"))  # same level: held
    await n.send(await alert(journal, "info", "margin", "ratio 52%"))  # lower: held
    await asyncio.sleep(0.05)
    assert len(send.sent) == 1 and "55%" in send.sent[0][1]
    await n.send(await alert(journal, "critical", "margin", "ratio 91%"))  # rises: at once, to on-call too
    await asyncio.sleep(0.05)
    assert [c for c, _, _ in send.sent] == [CHAT, CHAT, ONCALL]
    assert "2 earlier update(s)" in send.sent[1][1]
    await n.send(await alert(journal, "info", "margin", "cleared"))
    await asyncio.sleep(0.05)
    assert len(send.sent) == 3
    now[0] = 301.0  # the window ends: the held one goes out by itself
    n._wake.set()  # the worker sleeps until the window's end on the real clock; wake it now
    await asyncio.sleep(0.05)
    assert "cleared" in send.sent[-1][1]
    await n.close()
    assert set((await delivered(journal)).values()) == {"sent"}


async def test_a_full_queue_drops_the_oldest_info_first_and_journals_it_failed(journal: Journal) -> None:
    send = Recorder()
    n = TelegramNotifier(send, [CHAT], None, journal, DeliveryPolicy(max_queue=3))
    n.start()  # not ready yet: everything queues
    for i, level in enumerate(["info", "warning", "info", "critical", "warning"]):
        await n.send(await alert(journal, level, f"k{i}", f"{level} {i}"))
    assert n.queued == 3 and n.dropped == 2
    n.mark_ready()
    await n.close()
    assert [t.split("\n")[1] for _, t, _ in send.sent] == ["warning 1", "critical 3", "warning 4"]
    assert await delivered(journal) == {
        "info 0": "failed",
        "warning 1": "sent",
        "info 2": "failed",
        "critical 3": "sent",
        "warning 4": "sent",
    }


async def test_retry_after_is_honoured_and_bad_html_is_resent_as_text(journal: Journal) -> None:
    send = Recorder()
    send.errors = [RetryAfter(0), TimedOut(), BadRequest("Can't parse entities: unsupported start tag")]
    policy = DeliveryPolicy(base_delay_s=0.01, max_delay_s=0.02)
    n = TelegramNotifier(send, [CHAT], None, journal, policy)
    n.start()
    n.mark_ready()
    await n.send(await alert(journal, "warning", "k", "a <b>"))
    await n.close()
    ((_, text, html),) = send.sent
    assert not html and "a <b>" in text and "<b>main</b>" not in text
    row = (await journal.history(0, kinds=["alert"]))[0].row
    assert row.delivered == "sent" and row.attempts == 4  # type: ignore[union-attr]


async def test_close_journals_undeliverable_alerts_as_failed(journal: Journal) -> None:
    send = Recorder()
    n = TelegramNotifier(send, [CHAT], None, journal, DeliveryPolicy(shutdown_wait_s=0.05))
    n.start()  # never becomes ready: the Bot API was unreachable the whole time
    await n.send(await alert(journal, "critical", "k", "liquidation near"))
    await n.close()
    assert await delivered(journal) == {"liquidation near": "failed"}
    assert await n.send(await alert(journal, "info", "k2", "late")) == "failed"
