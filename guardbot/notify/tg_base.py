"""What every Telegram command handler shares: the usage lines, the error boundary, replies,
journaled events and picking the account. `CommandCenter` (tg_commands.py) puts the handlers of
tg_reading.py, tg_trading.py and tg_confirm.py together on top of `CommandBase`."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, TypeVar

from telegram import InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import CallbackContext

from guardbot.config import TelegramConfig
from guardbot.cycle import AccountGuard
from guardbot.errors import NotReady, one_line_errors
from guardbot.notify import tg_format as fmt
from guardbot.operator import guards as look
from guardbot.operator.guards import GuardHost

log = logging.getLogger("guardbot.telegram")

Context = CallbackContext[Any, Any, Any, Any]

USAGE = {
    "status": "/status",
    "positions": "/positions [account]",
    "risk": "/risk [account]",
    "size": "/size [account] SYMBOL long|short STOP [ENTRY] [RISK]",
    "open": "/open [account] SYMBOL long|short STOP [ENTRY] [RISK] [TP_PRICE:FRACTION ...]",
    "stops": "/stops [account]",
    "pause": "/pause [account]",
    "resume": "/resume [account]",
    "flatten": "/flatten [account]",
    "strategies": "/strategies [pause|resume NAME]",
    "chart": "/chart [account] [24h|7d]",
    "history": "/history [account] [N]",
    "help": "/help",
}
DESCRIPTIONS = {
    "status": "accounts, equity, margin ratio, drawdown, state",
    "positions": "positions with PnL, liquidation price, stop",
    "risk": "exposure, clusters, stress: where the account liquidates",
    "size": "size a trade from the stop and the risk",
    "open": "size, confirm, then entry + stop (+ take-profits)",
    "stops": "run a guard check now and place missing stops",
    "pause": "refuse new entries (the guard keeps protecting)",
    "resume": "allow entries again / unlock after the cool-down",
    "flatten": "close every position (reduce-only), after confirming",
    "strategies": "strategies: running, paused (and why); pause or resume one",
    "chart": "equity and margin ratio chart",
    "history": "last journal lines",
    "help": "this list",
}


class UsageError(Exception):
    """A malformed command: the message is the one-line reply."""


C = TypeVar("C", bound="CommandBase")
Handler = Callable[[C, Update, Context], Coroutine[Any, Any, None]]


def command(name: str) -> Callable[[Handler[C]], Handler[C]]:
    """Mark a method as the handler of /name; errors become one-line replies."""

    def wrap(fn: Handler[C]) -> Handler[C]:
        @functools.wraps(fn)
        async def run(self: C, update: Update, context: Context) -> None:
            try:
                await fn(self, update, context)
            except (UsageError, NotReady) as exc:  # the message is the whole reply
                await self.reply(update, fmt.esc(str(exc)))
            except one_line_errors() as exc:
                await self.reply(update, "❌ " + fmt.esc(str(exc).splitlines()[0] if str(exc) else exc))
            except ValueError as exc:
                await self.reply(update, "❌ " + fmt.esc(str(exc)))
            except Exception as exc:
                log.exception("telegram: /%s failed", name)
                await self.reply(
                    update, f"❌ /{name} failed: {fmt.esc(type(exc).__name__)} (details in the log)"
                )

        run.command = name  # type: ignore[attr-defined]
        return run

    return wrap


class CommandBase:
    """The state and helpers every handler uses, bound to the daemon (`host`)."""

    def __init__(
        self, host: GuardHost, config: TelegramConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.host = host
        self.config = config
        self.clock = clock

    # ------------------------------------------------------------------ helpers

    async def reply(
        self, update: Update, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> int | None:
        message = update.effective_message
        if message is None:
            return None
        sent = await message.reply_text(
            fmt.clip(text),
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            do_quote=False,
        )
        return sent.message_id

    async def _event(self, account: str | None, kind: str, text: str, details: Mapping[str, Any]) -> None:
        journal = look.journal_of(self.host)
        if journal is None or journal.closed:
            return
        try:
            await journal.record_event(
                account, int(time.time() * 1000), kind=kind, text=text, details=details
            )
        except Exception as exc:
            log.warning("telegram: cannot journal %s event: %s", kind, exc)

    def _names(self) -> list[str]:
        return [g.name for g in self.host.guards]

    def pick(self, args: Sequence[str], usage: str) -> tuple[AccountGuard, list[str]]:
        """The account named first in `args`, or the only one; else a "which account?" reply."""
        names = self._names()
        if args and args[0] in names:
            return self.host.guard(args[0]), list(args[1:])
        if len(names) == 1:
            return self.host.guards[0], list(args)
        if not names:
            raise UsageError("no account is guarded")
        raise UsageError(f"which account? one of {', '.join(names)}. Usage: {usage}")

    def _ccy(self, name: str) -> str:
        return look.settle_currency(self.host.settings, name)

    def _user(self, update: Update) -> int | None:
        return update.effective_user.id if update.effective_user else None
