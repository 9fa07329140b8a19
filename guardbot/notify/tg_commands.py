"""Telegram commands: look, size, pause and flatten from a phone.

Only the configured chats (and, if set, users) are served; anything else is ignored and journaled
as an "unauthorized" event. Every reply is one message; a malformed command gets a one-line usage
reply, an error a one-line message (never a traceback). Commands that change something (/open,
/resume, /flatten) first show what they will do with Confirm/Cancel buttons that expire after
`confirm_timeout_s` and work once.

    tg_commands.py  CommandCenter: wiring into PTB, access control, /help
    tg_reading.py   /status /positions /risk /history /chart
    tg_trading.py   /size /open /stops /pause /resume /flatten, and what a Confirm then does
    tg_entries.py   /open: the manual source of the entry path, re-checked at Confirm
    tg_strategies.py /strategies: where each strategy stands; pause or resume one
    tg_confirm.py   the Confirm/Cancel buttons: asking, expiry, one press only
    tg_base.py      usage lines, the error boundary of every handler, reply and journal helpers
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from telegram import BotCommand, Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from guardbot.config import TelegramConfig
from guardbot.notify import tg_format as fmt
from guardbot.notify.tg_base import DESCRIPTIONS, USAGE, Context, command, log
from guardbot.notify.tg_reading import ReadingCommands
from guardbot.notify.tg_strategies import StrategyCommands
from guardbot.notify.tg_trading import TradingCommands
from guardbot.operator.guards import GuardHost

UNAUTHORIZED_JOURNAL_EVERY_S = 60.0  # one journal row per stranger per minute, not one per message


class CommandCenter(ReadingCommands, TradingCommands, StrategyCommands):
    """The bot's command handlers, bound to the daemon (`host`)."""

    def __init__(
        self, host: GuardHost, config: TelegramConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(host, config, clock=clock)
        self._strangers: dict[tuple[int | None, int | None], float] = {}

    # ------------------------------------------------------------------ wiring

    def register(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        app.add_handler(TypeHandler(Update, self._gate), group=-1)
        for name in USAGE:
            handler = getattr(self, f"cmd_{name}")
            app.add_handler(CommandHandler(name, handler))
        app.add_handler(CommandHandler("start", self.cmd_help))
        app.add_handler(CommandHandler("unpause", self.cmd_resume))
        app.add_handler(MessageHandler(filters.COMMAND, self.unknown))
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_error_handler(self._on_error)

    @staticmethod
    def bot_commands() -> list[BotCommand]:
        return [BotCommand(name, DESCRIPTIONS[name]) for name in USAGE]

    # ------------------------------------------------------------------ access control

    def authorized(self, chat_id: int | None, user_id: int | None) -> bool:
        if chat_id is None or chat_id not in self.config.chat_ids:
            return False
        return not self.config.allowed_user_ids or user_id in self.config.allowed_user_ids

    async def _gate(self, update: Update, context: Context) -> None:
        chat = update.effective_chat
        user = update.effective_user
        chat_id = chat.id if chat else None
        user_id = user.id if user else None
        if self.authorized(chat_id, user_id):
            return
        what = ""
        if update.effective_message is not None and update.effective_message.text:
            what = update.effective_message.text[:100]
        elif update.callback_query is not None:
            what = f"button {str(update.callback_query.data)[:40]}"
        now = self.clock()
        last = self._strangers.get((chat_id, user_id))
        if last is None or now - last >= UNAUTHORIZED_JOURNAL_EVERY_S:
            self._strangers[(chat_id, user_id)] = now
            log.warning("telegram: ignored a message from chat %s user %s", chat_id, user_id)
            await self._event(
                None,
                "unauthorized",
                f"ignored Telegram update from chat {chat_id} user {user_id}: {what}",
                {"chat_id": chat_id, "user_id": user_id, "text": what},
            )
        raise ApplicationHandlerStop

    async def _on_error(self, update: object, context: Context) -> None:
        log.warning("telegram: update failed: %s", context.error)

    # ------------------------------------------------------------------ help

    @command("help")
    async def cmd_help(self, update: Update, context: Context) -> None:
        lines = ["<b>guardbot commands</b>"]
        lines += [f"{fmt.esc(USAGE[n])} — {fmt.esc(DESCRIPTIONS[n])}" for n in USAGE]
        lines.append(f"accounts: {fmt.esc(', '.join(self._names()) or 'none')}")
        lines.append("RISK is an amount (50) or % of equity (1%); ENTRY '-' means at mark.")
        await self.reply(update, "\n".join(lines))

    @command("unknown")
    async def unknown(self, update: Update, context: Context) -> None:
        text = update.effective_message.text if update.effective_message else ""
        word = (text or "").split()[0] if text else "?"
        await self.reply(update, f"unknown command {fmt.esc(word)}; /help lists them")
