"""Telegram commands that look: /status, /positions, /risk, /history, /chart."""

from __future__ import annotations

import asyncio
import time

from telegram import Update

from guardbot.errors import NotReady
from guardbot.notify import tg_format as fmt
from guardbot.notify.tg_base import USAGE, CommandBase, Context, UsageError, command
from guardbot.operator import guards as look
from guardbot.operator.health import Levels
from guardbot.operator.journal import parse_since, recent_history

HISTORY_DEFAULT, HISTORY_MAX = 15, 50
CHART_MAX_MS = 31 * 86_400_000


class ReadingCommands(CommandBase):
    """Handlers that only read: what the guards see now, and the journal."""

    @command("status")
    async def cmd_status(self, update: Update, context: Context) -> None:
        if context.args:
            names = self._names()
            unknown = [a for a in context.args if a not in names]
            if unknown:
                raise UsageError(
                    f"unknown account {unknown[0]!r}; accounts: {', '.join(names)}. Usage: /status"
                )
        views = await look.guard_status(self.host)
        now = int(time.time() * 1000)
        await self.reply(update, fmt.status_html(views, Levels.of(self.host.settings.guard), now))

    @command("positions")
    async def cmd_positions(self, update: Update, context: Context) -> None:
        guard, rest = self.pick(context.args or [], USAGE["positions"])
        if rest:
            raise UsageError(f"unexpected {' '.join(rest)!r}. Usage: {USAGE['positions']}")
        view = look.positions(guard)
        text = fmt.positions_html(
            guard.name, view.snapshot, view.figures, view.stops, int(time.time() * 1000), guard.dry_run
        )
        await self.reply(update, text)

    @command("risk")
    async def cmd_risk(self, update: Update, context: Context) -> None:
        guard, rest = self.pick(context.args or [], USAGE["risk"])
        if rest:
            raise UsageError(f"unexpected {' '.join(rest)!r}. Usage: {USAGE['risk']}")
        view = look.risk_view(guard, self.host.settings)
        if view is None:
            await self.reply(update, f"<b>{fmt.esc(guard.name)}</b> risk: no open positions, nothing at risk")
            return
        text = fmt.risk_html(
            guard.name,
            view.figures,
            view.exposure,
            view.stress,
            view.groups,
            view.signed,
            self._ccy(guard.name),
        )
        await self.reply(update, text)

    @command("history")
    async def cmd_history(self, update: Update, context: Context) -> None:
        args = list(context.args or [])
        names = self._names()
        account = args.pop(0) if args and args[0] in names else None
        limit = HISTORY_DEFAULT
        if args:
            if len(args) > 1 or not args[0].isdigit() or not 0 < int(args[0]) <= HISTORY_MAX:
                raise UsageError(
                    f"N must be a whole number from 1 to {HISTORY_MAX}. Usage: {USAGE['history']}"
                )
            limit = int(args[0])
        journal = look.journal_of(self.host)
        if journal is None:
            raise NotReady("the journal is not open yet")
        lines = await recent_history(journal, account, limit)
        await self.reply(update, fmt.history_html(account, lines))

    @command("chart")
    async def cmd_chart(self, update: Update, context: Context) -> None:
        from guardbot.notify.chart import equity_chart_png

        args = list(context.args or [])
        window = "24h"
        if args and args[-1] not in self._names():
            window = args.pop()
        guard, rest = self.pick(args, USAGE["chart"])
        if rest:
            raise UsageError(f"unexpected {' '.join(rest)!r}. Usage: {USAGE['chart']}")
        try:
            span = parse_since(window)
        except ValueError:
            raise UsageError(
                f"window must look like 24h or 7d, got {window!r}. Usage: {USAGE['chart']}"
            ) from None
        if not 0 < span <= CHART_MAX_MS:
            raise UsageError(f"window must be at most 31d, got {window!r}. Usage: {USAGE['chart']}")
        now = guard.clock()
        series = await guard.journal.equity_series(guard.name, now - span, now)
        if len(series) < 2:
            await self.reply(
                update,
                f"{fmt.esc(guard.name)}: not enough snapshots in the last {fmt.esc(window)} for a chart",
            )
            return
        png = await asyncio.to_thread(equity_chart_png, series, f"{guard.name}: last {window}")
        message = update.effective_message
        if message is None:
            return
        last = series[-1]
        caption = (
            f"{guard.name}: equity {fmt.money(last[1])}, margin ratio {fmt.pct(last[2])} (last {window})"
        )
        await message.reply_photo(png, caption=caption, do_quote=False)
