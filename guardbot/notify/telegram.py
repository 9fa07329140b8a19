"""Telegram for the daemon: alerts out (`TelegramNotifier`) and commands in (`CommandCenter`),
on python-telegram-bot 22 running in the daemon's own event loop.

    async with telegram_bot(daemon) as notifier:   # the daemon's notifier while it runs
        ...

Lifecycle is manual (the daemon owns the loop; `run_polling` would take it over): initialize,
start, start polling; on exit stop polling first (no new commands), deliver what is queued
(bounded), then stop and shut the application down. If the Bot API cannot be reached at start-up
the guard does not wait for it: the connection is retried in the background while alerts queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

from guardbot.config import ConfigError, TelegramConfig
from guardbot.notify.tg_commands import CommandCenter
from guardbot.notify.tg_queue import DeliveryPolicy, SendFn, TelegramNotifier
from guardbot.operator.guards import GuardHost

__all__ = ["BotRunner", "DeliveryPolicy", "TelegramNotifier", "build_application", "telegram_bot"]

log = logging.getLogger("guardbot.telegram")

App = Application[Any, Any, Any, Any, Any, Any]


def build_application(token: str, config: TelegramConfig) -> App:
    """The PTB application: AIORateLimiter (retries a 429 twice), optional self-hosted Bot API."""
    builder = (
        ApplicationBuilder()
        .token(token)
        .rate_limiter(AIORateLimiter(max_retries=2))
        .concurrent_updates(True)  # a slow /stops must not hold up /status
        .job_queue(None)  # the daemon has its own scheduler
        .connect_timeout(10)
        .read_timeout(15)
        .write_timeout(30)
    )
    if config.api_base_url:
        base = config.api_base_url.rstrip("/")
        builder = builder.base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
    app: App = builder.build()
    return app


def bot_sender(app: App) -> SendFn:
    async def send(chat_id: int, text: str, html: bool) -> None:
        await app.bot.send_message(
            chat_id=chat_id,
            text=text,
            parse_mode=ParseMode.HTML if html else None,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )

    return send


class BotRunner:
    """Connects in the background (retrying), then polls; `stop()` undoes what was done."""

    def __init__(
        self,
        app: App,
        notifier: TelegramNotifier,
        commands: CommandCenter,
        *,
        poll_timeout: int = 30,
        retry_max_s: float = 60.0,
    ) -> None:
        self.app = app
        self.notifier = notifier
        self.commands = commands
        self.poll_timeout = poll_timeout
        self.retry_max_s = retry_max_s
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._initialized = False
        self._started = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._connect(), name="telegram-connect")

    async def _connect(self) -> None:
        delay = 1.0
        while True:
            try:
                await self.app.initialize()
                break
            except InvalidToken:
                log.error("telegram: the bot token was refused; alerts go to the journal only")
                return
            except (NetworkError, RetryAfter) as exc:
                log.warning("telegram: Bot API unreachable (%s); retrying in %.0fs", exc, delay)
            except TelegramError as exc:
                log.warning("telegram: start-up failed (%s); retrying in %.0fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max_s)
        self._initialized = True
        self.notifier.mark_ready()
        try:
            await self.app.bot.set_my_commands(self.commands.bot_commands())
        except TelegramError as exc:  # the menu is a nicety; commands work without it
            log.warning("telegram: setMyCommands failed: %s", exc)
        await self.app.start()
        self._started = True
        updater = self.app.updater
        assert updater is not None
        await updater.start_polling(
            timeout=self.poll_timeout,
            allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY],
            drop_pending_updates=True,  # commands typed while guardbot was down are stale
        )
        self.connected.set()
        log.info("telegram: connected as @%s", self.app.bot.username)

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        updater = self.app.updater
        if updater is not None and updater.running:
            with contextlib.suppress(Exception):
                await updater.stop()
        await self.commands.close()
        await self.notifier.close()  # the bot is still initialized: the last alerts can go out
        if self._started and self.app.running:
            await self.app.stop()
        if self._initialized:
            await self.app.shutdown()
        else:
            with contextlib.suppress(Exception):  # close the HTTP clients a failed start left open
                await self.app.bot.shutdown()
                await self.app.bot.request.shutdown()


@asynccontextmanager
async def telegram_bot(
    host: GuardHost,
    *,
    policy: DeliveryPolicy | None = None,
    poll_timeout: int = 30,
) -> AsyncIterator[TelegramNotifier]:
    """Run the bot for `host` (the daemon) while the block runs; yields the alert notifier.

    Raises ConfigError when the bot token is missing (one line naming the variable).
    """
    config = host.settings.telegram
    token = config.bot_token(host.settings.environ)
    if token is None:
        raise ConfigError(
            [f"telegram.bot_token_env: set {config.bot_token_env} to the bot token from @BotFather"]
        )
    app = build_application(token.get_secret_value(), config)
    notifier = TelegramNotifier(
        bot_sender(app), config.chat_ids, config.critical_chat_id, host.journal, policy
    )
    commands = CommandCenter(host, config)
    commands.register(app)
    notifier.start()
    runner = BotRunner(app, notifier, commands, poll_timeout=poll_timeout)
    runner.start()
    try:
        yield notifier
    finally:
        await runner.stop()
