"""Confirmations: Confirm/Cancel buttons under a summary of what will be done; they work once,
only for the person who asked, and expire after `telegram.confirm_timeout_s`."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode

from guardbot.config import TelegramConfig
from guardbot.cycle import AccountGuard
from guardbot.notify import tg_format as fmt
from guardbot.notify.tg_base import CommandBase, Context, log
from guardbot.operator.guards import GuardHost
from guardbot.risk.sizing import SizingResult


@dataclass(slots=True)
class Pending:
    """A confirmation waiting for its button."""

    token: str
    kind: Literal["open", "flatten", "resume"]
    account: str
    chat_id: int
    user_id: int | None
    expires_at: float
    summary: str  # the HTML shown above the buttons
    sizing: SizingResult | None = None
    limit_price: float | None = None
    message_id: int | None = None
    plan: Any = None  # /open: the checked intent (guardbot.intents.checks.Plan) to send on Confirm
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


class Confirmations(CommandBase):
    """Asking, expiring and answering buttons; `_execute` (tg_trading.py) does the confirmed action."""

    def __init__(
        self, host: GuardHost, config: TelegramConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(host, config, clock=clock)
        self.pending: dict[str, Pending] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    async def close(self) -> None:
        """Forget every pending confirmation and stop the expiry tasks."""
        for p in self.pending.values():
            if p.timer is not None:
                p.timer.cancel()
        self.pending.clear()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _ask(
        self,
        update: Update,
        kind: Literal["open", "flatten", "resume"],
        guard: AccountGuard,
        summary: str,
        *,
        sizing: SizingResult | None = None,
        limit_price: float | None = None,
        plan: Any = None,
    ) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        token = secrets.token_hex(5)
        timeout = self.config.confirm_timeout_s
        pending = Pending(
            token,
            kind,
            guard.name,
            chat.id,
            self._user(update),
            self.clock() + timeout,
            summary,
            sizing,
            limit_price,
            plan=plan,
        )
        self.pending[token] = pending
        buttons = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("✅ Confirm", callback_data=f"ok:{token}"),
                    InlineKeyboardButton("✖ Cancel", callback_data=f"no:{token}"),
                ]
            ]
        )
        text = f"{summary}\n<i>Confirm within {timeout}s.</i>"
        try:
            pending.message_id = await self.reply(update, text, buttons)
        except Exception:
            self.pending.pop(token, None)
            raise
        pending.timer = asyncio.get_running_loop().call_later(timeout, self._expire_soon, token, update)

    def _expire_soon(self, token: str, update: Update) -> None:
        pending = self.pending.pop(token, None)
        if pending is None:
            return
        task = asyncio.get_running_loop().create_task(self._expired(pending, update))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _expired(self, pending: Pending, update: Update) -> None:
        if pending.message_id is None:
            return
        try:
            await update.get_bot().edit_message_text(
                f"{pending.summary}\n⌛ <b>expired</b>: nothing done",
                chat_id=pending.chat_id,
                message_id=pending.message_id,
                parse_mode=ParseMode.HTML,
            )
        except Exception as exc:
            log.info("telegram: could not mark a confirmation expired: %s", exc)

    async def on_button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        if query is None:
            return
        verb, _, token = str(query.data or "").partition(":")
        pending = self.pending.get(token)
        if pending is None or verb not in ("ok", "no"):
            await query.answer("already handled or expired")  # a second press does nothing
            return
        if pending.user_id is not None and query.from_user.id != pending.user_id:
            await query.answer("only the person who asked can confirm this")
            return
        del self.pending[token]  # work once, even if pressed twice in a row
        if pending.timer is not None:
            pending.timer.cancel()
        if self.clock() >= pending.expires_at:
            await query.answer("expired")
            await query.edit_message_text(
                f"{pending.summary}\n⌛ <b>expired</b>: nothing done", parse_mode=ParseMode.HTML
            )
            return
        if verb == "no":
            await query.answer("cancelled")
            await query.edit_message_text(
                f"{pending.summary}\n✖ <b>cancelled</b>: nothing done", parse_mode=ParseMode.HTML
            )
            return
        await query.answer("working…")
        try:
            outcome = await self._execute(pending, query.from_user.id)
        except Exception as exc:
            log.exception("telegram: confirmed %s failed", pending.kind)
            outcome = f"❌ {pending.kind} failed: {fmt.esc(type(exc).__name__)}: {fmt.esc(str(exc)[:200])}"
        await query.edit_message_text(fmt.clip(f"{pending.summary}\n{outcome}"), parse_mode=ParseMode.HTML)

    async def _execute(self, p: Pending, user_id: int) -> str:
        raise NotImplementedError
