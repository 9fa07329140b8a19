"""Telegram commands that act: /size, /open, /stops, /pause, /resume, /flatten.

/open, /resume and /flatten ask first (tg_confirm.py); what a confirmed one does is here, in
`_execute`, after the button was pressed. /open is the manual source of the entry path
(tg_entries.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram import Update

from guardbot.cycle import AccountGuard
from guardbot.domain import Side
from guardbot.notify import tg_format as fmt
from guardbot.notify.tg_base import USAGE, Context, UsageError, command
from guardbot.notify.tg_confirm import Pending
from guardbot.notify.tg_entries import EntryCommands
from guardbot.operator import guards as look
from guardbot.operator import inputs, trading
from guardbot.operator.sizing import TradeRequest

# ---------------------------------------------------------------------------- parsing (pure)


def parse_number(text: str, what: str, usage: str) -> float:
    try:
        return inputs.parse_number(text, what)
    except inputs.InputError as err:
        raise UsageError(f"{err}. Usage: {usage}") from None


def parse_trade(args: Sequence[str], usage: str) -> TradeRequest:
    """SYMBOL long|short STOP [ENTRY] [RISK]; ENTRY may be "-" (at mark), RISK "50" or "1%"."""
    if not 3 <= len(args) <= 5:
        raise UsageError(f"usage: {usage} (e.g. BTC long 58000 - 1%)")
    symbol, side_text, stop_text, *rest = args
    sides = {"long": Side.LONG, "buy": Side.LONG, "short": Side.SHORT, "sell": Side.SHORT}
    side = sides.get(side_text.lower())
    if side is None:
        raise UsageError(f"side must be long or short, got {side_text!r}. Usage: {usage}")
    stop = parse_number(stop_text, "STOP", usage)
    entry = None
    if rest:
        head = rest.pop(0)
        if head.endswith("%") and not rest:  # "/size BTC long 58000 1%": a risk, not an entry
            rest = [head]
        elif head.lower() not in ("-", "market", "mark"):
            entry = parse_number(head, "ENTRY", usage)
    risk = inputs.Risk()
    if rest:
        try:
            risk = inputs.parse_risk(rest[0], "RISK")
        except inputs.InputError as err:
            raise UsageError(f"{err}. Usage: {usage}") from None
    return TradeRequest(symbol, side, stop, entry, risk.amount, risk.pct)


class TradingCommands(EntryCommands):
    """Handlers that size, check stops or change something (the last ones after a Confirm)."""

    def parse_trade(self, args: Sequence[str], usage: str) -> TradeRequest:
        return parse_trade(args, usage)

    @command("size")
    async def cmd_size(self, update: Update, context: Context) -> None:
        guard, rest = self.pick(context.args or [], USAGE["size"])
        result = look.size_for_guard(guard, self.host.settings, parse_trade(rest, USAGE["size"]))
        await self.reply(update, fmt.sizing_html(guard.name, result, self._ccy(guard.name)))

    @command("stops")
    async def cmd_stops(self, update: Update, context: Context) -> None:
        args = list(context.args or [])
        names = self._names()
        if len(args) > 1 or (args and args[0] not in names):
            raise UsageError(
                f"unknown account {args[0]!r}; accounts: {', '.join(names)}. Usage: {USAGE['stops']}"
            )
        scope = [self.host.guard(args[0])] if args else list(self.host.guards)
        lines = []
        for c in await look.check_stops(self.host, scope):
            dry = f" · {fmt.DRY_RUN}" if c.dry_run else ""
            name = f"<b>{fmt.esc(c.account)}</b>"
            if not c.seen:
                lines.append(f"⚫ {name}: cannot see the account ({fmt.esc(c.error)})")
                continue
            if c.stops:
                lines.append(f"{name}: {len(c.stops)} stop(s){dry}")
                lines += [f"   {fmt.action_line(a)}" for a in c.stops]
            elif not c.positions:
                lines.append(f"{name}: no open positions{dry}")
            elif c.unprotected:
                bare = ", ".join(fmt.short(s) for s in c.unprotected)
                lines.append(
                    f"{name}: no stop placed; still unprotected: "
                    f"{fmt.esc(bare)} (new positions get a grace period){dry}"
                )
            else:
                lines.append(f"{name}: every position has a stop{dry}")
            lines += [f"   {fmt.action_line(a)}" for a in c.others]
        await self.reply(update, "\n".join(lines))

    @command("pause")
    async def cmd_pause(self, update: Update, context: Context) -> None:
        guard, rest = self.pick(context.args or [], USAGE["pause"])
        if rest:
            raise UsageError(f"unexpected {' '.join(rest)!r}. Usage: {USAGE['pause']}")
        already = await trading.pause_entries(guard)
        await self._event(guard.name, "command", f"/pause by user {self._user(update)}", {"command": "pause"})
        note = "already paused" if already else "entries paused"
        await self.reply(
            update,
            f"⏸ <b>{fmt.esc(guard.name)}</b>: {note}. /open is refused until /resume; "
            "the guard keeps protecting open positions.",
        )

    @command("resume")
    async def cmd_resume(self, update: Update, context: Context) -> None:
        guard, rest = self.pick(context.args or [], USAGE["resume"])
        if rest:
            raise UsageError(f"unexpected {' '.join(rest)!r}. Usage: {USAGE['resume']}")
        st = guard.state
        refused = trading.resume_refusal(guard)
        if refused is not None:  # refuse first: no Confirm button for what would be refused anyway
            mark = "" if not trading.resumable(st) else "❌ "
            await self.reply(update, f"{mark}<b>{fmt.esc(guard.name)}</b>: {fmt.esc(refused)}")
            return
        now = int(guard.clock())
        what = fmt.state_text(st, now)
        summary = f"<b>{fmt.esc(guard.name)}</b> is {what}.\nResume new entries?"
        if st.locked:
            summary += " The drawdown is re-based from the next reading."
        await self._ask(update, "resume", guard, summary)

    @command("flatten")
    async def cmd_flatten(self, update: Update, context: Context) -> None:
        guard, rest = self.pick(context.args or [], USAGE["flatten"])
        if rest:
            raise UsageError(f"unexpected {' '.join(rest)!r}. Usage: {USAGE['flatten']}")
        snapshot, figures = look.seen(guard)
        orders = trading.reopeners(snapshot, guard.limits.flatten_cancels)
        if not figures.positions and not orders:
            await self.reply(update, f"<b>{fmt.esc(guard.name)}</b>: no open positions, nothing to flatten")
            return
        names = ", ".join(
            f"{p.position.side.value} {fmt.short(p.symbol)} {fmt.qty(p.position.contracts)}"
            for p in figures.positions
        )
        dry = f"\n{fmt.DRY_RUN}: nothing will be sent" if guard.dry_run else ""
        summary = f"🚨 <b>{fmt.esc(guard.name)}</b>: close EVERY position with reduce-only market orders?\n"
        if figures.positions:
            summary += f"{fmt.esc(names)} (unrealized PnL {fmt.signed_money(figures.unrealized_pnl)})"
        if orders:
            whose = "every" if guard.limits.flatten_cancels == "all" else "guardbot's"
            listed = "; ".join(fmt.esc(fmt.order_text(o)) for o in orders)
            summary += f"\nand cancel {whose} order that could re-open one: {listed}"
        summary += dry
        await self._ask(update, "flatten", guard, summary)

    # ------------------------------------------------------------------ after Confirm

    async def _execute(self, p: Pending, user_id: int) -> str:
        guard = self.host.guard(p.account)
        if p.kind == "open":
            return await self._do_open(guard, p, user_id)
        if p.kind == "flatten":
            return await self._do_flatten(guard, p, user_id)
        return await self._do_resume(guard, p, user_id)

    async def _do_flatten(self, guard: AccountGuard, p: Pending, user_id: int) -> str:
        flat = await trading.flatten(self.host, guard, episode=p.token)
        if not flat.seen:
            return f"❌ cannot see the account ({fmt.esc(flat.error)}): nothing sent"
        results = flat.results
        await self._event(
            guard.name,
            "command",
            f"/flatten confirmed by user {user_id}: " + ", ".join(f"{r.symbol} {r.status}" for r in results),
            {"token": p.token},
        )
        if not results:
            return "no open positions: nothing to close"
        return "\n".join(fmt.action_line(r) for r in results)

    async def _do_resume(self, guard: AccountGuard, p: Pending, user_id: int) -> str:
        ok, why = await trading.resume_entries(guard)
        await self._event(guard.name, "command", f"/resume by user {user_id}: {why}", {"ok": ok})
        return f"{'▶️' if ok else '❌'} {fmt.esc(why)}"
