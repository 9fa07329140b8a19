"""/strategies [pause|resume NAME]: where each strategy stands (running, paused and why, not
started and why), and pausing or resuming one. A strategy paused after an error stays paused until
resumed here (or with `guardbot strategies resume NAME`)."""

from __future__ import annotations

import time

from telegram import Update

from guardbot.notify import tg_format as fmt
from guardbot.notify.tg_base import USAGE, CommandBase, Context, UsageError, command
from guardbot.operator import guards as look
from guardbot.strategies_runtime.status import check_name, strategy_status

_MARKS = {"running": "▶️", "paused": "⏸", "off": "⚪", "not started": "❌", "configured": "•"}


class StrategyCommands(CommandBase):
    @command("strategies")
    async def cmd_strategies(self, update: Update, context: Context) -> None:
        args = list(context.args or [])
        usage = USAGE["strategies"]
        journal = look.journal_of(self.host)
        if journal is None:
            raise UsageError("the journal is not open yet")
        settings = self.host.settings
        if not args:
            service = getattr(self.host, "entries", None)
            started = set(getattr(service, "runners", {}))
            if getattr(service, "webhook", None) is not None:
                started.add("webhook")
            rows = strategy_status(
                settings,
                await journal.strategy_states(),
                started=started if service is not None else None,
                problems=getattr(service, "problems", None),
            )
            lines = ["<b>strategies</b>", "manual: /open and guardbot open (always on)"]
            lines += [f"{_MARKS.get(r.state, '•')} {fmt.esc(r.line())}" for r in rows]
            if not rows:
                lines.append("no [[strategies]] configured")
            await self.reply(update, "\n".join(lines))
            return
        if len(args) != 2 or args[0] not in ("pause", "resume"):
            raise UsageError(f"usage: {usage}")
        verb, name = args
        check_name(settings, name)
        who = f"user {self._user(update)}"
        paused = verb == "pause"
        await journal.set_strategy_paused(
            name, paused, f"paused by {who}" if paused else None, int(time.time() * 1000)
        )
        await self._event(None, "command", f"/strategies {verb} {name} by {who}", {"strategy": name})
        if paused:
            text = f"⏸ strategy <b>{fmt.esc(name)}</b> paused: its intents are refused until resumed"
        else:
            text = f"▶️ strategy <b>{fmt.esc(name)}</b> resumed: it runs again from its next bar"
        await self.reply(update, text)
