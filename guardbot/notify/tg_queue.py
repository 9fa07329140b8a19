"""Telegram alerts that never block or break the guard: a bounded queue drained in the background.

`TelegramNotifier.send` only queues (it never awaits the network) and answers "pending"; a
background task delivers with retries and records the outcome on the alert's journal row
(`journal.update_alert_delivery`). Policies, all in one place:

- Routing: every alert goes to each `chat_ids` chat; critical ones also to `critical_chat_id`.
- Flood limit: the same (account, key) goes out at most once per `flood_window_s` unless its level
  rises. Alerts held back meanwhile are not lost: when the window ends the latest one is sent with a
  note of how many it stands for, and all of their journal rows get that delivery's outcome.
- Bounded queue: when full, the oldest *info* message is dropped first (then a new info message,
  then the oldest warning, then the oldest critical); a dropped alert is journaled as "failed".
- Retries: NetworkError/TimedOut back off exponentially; RetryAfter waits at least retry_after.
  Other API errors (chat not found, bot blocked) fail at once. HTML the API refuses to parse is
  resent once as plain text.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import html
import logging
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError

from guardbot.notify.base import Alert, Delivery
from guardbot.notify.tg_format import alert_html
from guardbot.store import Journal

log = logging.getLogger("guardbot.telegram")

SendFn = Callable[[int, str, bool], Awaitable[None]]
"""(chat_id, text, html) -> None; raises telegram.error.* on failure."""

RANK = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    max_queue: int = 200  # messages (one per alert and chat) waiting to be sent
    flood_window_s: float = 300.0  # same account+key at most once per window unless the level rises
    attempts: int = 6  # tries per message, the first included
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    shutdown_wait_s: float = 5.0  # how long close() keeps delivering before giving up


@dataclass(slots=True)
class _Group:
    """All messages of one delivery (one per chat), and the journal rows it stands for."""

    alert_ids: list[int]
    remaining: int
    sent: bool = False
    attempts: int = 0


@dataclass(slots=True)
class _Item:
    level: str
    chat_id: int
    text: str
    group: _Group
    html: bool = True


@dataclass(slots=True)
class _Flood:
    sent_at: float
    rank: int
    held: list[Alert] = field(default_factory=list)


def retry_after_s(exc: RetryAfter) -> float:
    # PTB 22 keeps a timedelta; the public attribute warns while it migrates from int.
    value = getattr(exc, "_retry_after", None)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return float(exc.retry_after)  # type: ignore[arg-type]


_TAG = re.compile(r"</?[a-z]+[^>]*>")


def plain(text: str) -> str:
    return html.unescape(_TAG.sub("", text))


class TelegramNotifier:
    """The Notifier for Telegram. `start()` the worker, `mark_ready()` once the bot can send."""

    def __init__(
        self,
        send: SendFn,
        chat_ids: Sequence[int],
        critical_chat_id: int | None = None,
        journal: Journal | None = None,
        policy: DeliveryPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self.chat_ids = tuple(dict.fromkeys(chat_ids))
        self.critical_chat_id = critical_chat_id
        self.journal = journal
        self.policy = policy or DeliveryPolicy()
        self._clock = clock
        self._queue: deque[_Item] = deque()
        self._flood: dict[str, _Flood] = {}
        self._journal_updates: list[tuple[int, Delivery, int]] = []
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self._closing = False
        self._worker: asyncio.Task[None] | None = None
        self._current: _Item | None = None  # the message being delivered right now
        self.dropped = 0  # messages dropped because the queue was full

    # ------------------------------------------------------------------ the Notifier protocol

    async def send(self, alert: Alert) -> Delivery:
        """Queue the alert and return "pending" at once (no await inside: never blocks the guard)."""
        if self._closing:
            return "failed"
        key = f"{alert.account}|{alert.key}"
        now = self._clock()
        rank = RANK.get(alert.level, 0)
        flood = self._flood.get(key)
        if flood is not None and now - flood.sent_at < self.policy.flood_window_s and rank <= flood.rank:
            flood.held.append(alert)
            self._wake.set()
            return "pending"
        riders = flood.held if flood is not None else []
        self._flood[key] = _Flood(now, rank)
        self._enqueue(alert, riders)
        return "pending"

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run(), name="telegram-alerts")

    def mark_ready(self) -> None:
        """The bot is initialized: queued messages may go out."""
        self._ready.set()
        self._wake.set()

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def close(self) -> None:
        """Deliver what is queued (held alerts too) for up to `shutdown_wait_s`, then journal the
        rest as failed. Idempotent."""
        if self._closing:
            return
        self._closing = True
        for key in list(self._flood):
            self._release(key)
        self._wake.set()
        if self._worker is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._worker), self.policy.shutdown_wait_s)
            except TimeoutError:
                log.warning("telegram: %d message(s) not delivered before shutdown", len(self._queue))
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._current is not None:  # cancelled mid-delivery
            self._settle(self._current, False, 1)
            self._current = None
        while self._queue:
            self._settle(self._queue.popleft(), False, 0)
        await self._flush_journal()

    # ------------------------------------------------------------------ queueing

    def _targets(self, level: str) -> list[int]:
        out = list(self.chat_ids)
        if level == "critical" and self.critical_chat_id is not None and self.critical_chat_id not in out:
            out.append(self.critical_chat_id)
        return out

    def _enqueue(self, alert: Alert, riders: Sequence[Alert]) -> None:
        ids = [a.alert_id for a in (*riders, alert) if a.alert_id is not None]
        targets = self._targets(alert.level)
        group = _Group(ids, len(targets))
        if not targets:
            self._complete(group)
            return
        text = alert_html(alert, held=len(riders))
        for chat in targets:
            self._push(_Item(alert.level, chat, text, group))
        self._wake.set()

    def _push(self, item: _Item) -> None:
        if len(self._queue) >= self.policy.max_queue:
            victim = self._victim(item)
            self.dropped += 1
            log.warning("telegram: queue full, dropping a %s message", victim.level)
            self._settle(victim, False, 0)
            if victim is item:
                return
            self._queue.remove(victim)
        self._queue.append(item)

    def _victim(self, new: _Item) -> _Item:
        """Which message to drop when full: the oldest info, else the new one if info, else the oldest
        warning, else the new one if a warning; with only criticals, the oldest critical."""
        for level in ("info", "warning"):
            oldest = self._oldest(level)
            if oldest is not None:
                return oldest
            if new.level == level:
                return new
        return self._queue[0]

    def _oldest(self, level: str) -> _Item | None:
        return next((i for i in self._queue if i.level == level), None)

    def _release(self, key: str) -> None:
        """Send the latest held alert of `key`, standing for all held ones."""
        flood = self._flood.get(key)
        if flood is None or not flood.held:
            return
        held, flood.held = flood.held, []
        latest = held[-1]
        self._flood[key] = _Flood(self._clock(), RANK.get(latest.level, 0))
        self._enqueue(latest, held[:-1])

    def _release_due(self) -> float | None:
        """Release held alerts whose window has passed; seconds until the next one is due."""
        now = self._clock()
        nxt: float | None = None
        for key, flood in list(self._flood.items()):
            if not flood.held:
                if now - flood.sent_at >= self.policy.flood_window_s:
                    del self._flood[key]  # forget quiet keys
                continue
            due = flood.sent_at + self.policy.flood_window_s
            if due <= now:
                self._release(key)
            else:
                nxt = due - now if nxt is None else min(nxt, due - now)
        return nxt

    # ------------------------------------------------------------------ outcomes

    def _settle(self, item: _Item, ok: bool, attempts: int) -> None:
        g = item.group
        g.remaining -= 1
        g.sent = g.sent or ok
        g.attempts += attempts
        if g.remaining == 0:
            self._complete(g)

    def _complete(self, g: _Group) -> None:
        status: Delivery = "sent" if g.sent else "failed"
        for alert_id in g.alert_ids:
            self._journal_updates.append((alert_id, status, g.attempts))

    async def _flush_journal(self) -> None:
        updates, self._journal_updates = self._journal_updates, []
        if self.journal is None or self.journal.closed:
            return
        for alert_id, status, attempts in updates:
            try:
                await self.journal.update_alert_delivery(alert_id, status, attempts)
            except Exception as exc:  # the journal must not take the notifier down
                log.warning("telegram: cannot record delivery of alert %s: %s", alert_id, exc)

    # ------------------------------------------------------------------ the worker

    async def _run(self) -> None:
        while True:
            await self._flush_journal()
            if not self._ready.is_set():
                self._wake.clear()
                await self._wake.wait()
                continue
            next_due = self._release_due()
            if self._queue:
                item = self._current = self._queue.popleft()
                ok, attempts = await self._deliver(item)
                self._current = None
                self._settle(item, ok, attempts)
                continue
            await self._flush_journal()
            if self._closing:
                return
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), next_due)

    async def _deliver(self, item: _Item) -> tuple[bool, int]:
        delay = self.policy.base_delay_s
        attempts = 0
        while True:
            attempts += 1
            try:
                await self._send(item.chat_id, item.text, item.html)
                return True, attempts
            except BadRequest as exc:  # a NetworkError subclass in PTB, but final: do not retry
                if item.html and "parse" in str(exc).lower():
                    log.warning("telegram: HTML refused (%s); resending as plain text", exc)
                    item.html, item.text = False, plain(item.text)
                    continue
                log.warning("telegram: chat %s refused the message: %s", item.chat_id, exc)
                return False, attempts
            except RetryAfter as exc:  # honour the server's wait, however long
                wait = max(retry_after_s(exc), delay)
                why = f"rate limited, retry after {retry_after_s(exc):g}s"
            except NetworkError as exc:  # TimedOut is a NetworkError too
                wait, why = delay, f"{type(exc).__name__}: {exc}"
            except TelegramError as exc:
                log.warning("telegram: chat %s: %s", item.chat_id, exc)
                return False, attempts
            except Exception:
                log.exception("telegram: unexpected error sending to chat %s", item.chat_id)
                return False, attempts
            if attempts >= self.policy.attempts:
                log.warning(
                    "telegram: giving up on a message to chat %s after %d tries (%s)",
                    item.chat_id,
                    attempts,
                    why,
                )
                return False, attempts
            log.info("telegram: %s; retrying in %.1fs", why, wait)
            await asyncio.sleep(wait)
            delay = min(delay * 2, self.policy.max_delay_s)
