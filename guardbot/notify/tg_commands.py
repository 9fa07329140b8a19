"""Telegram commands: look, size, pause and flatten from a phone.

Only the configured chats (and, if set, users) are served; anything else is ignored and journaled
as an "unauthorized" event. Every reply is one message; a malformed command gets a one-line usage
reply, an error a one-line message (never a traceback). Commands that change something (/open,
/resume, /flatten) first show what they will do with Confirm/Cancel buttons that expire after
`confirm_timeout_s` and work once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import secrets
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackContext,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from guardbot.config import TelegramConfig
from guardbot.cycle import AccountGuard
from guardbot.domain import Side
from guardbot.errors import NotReady, one_line_errors
from guardbot.notify import tg_format as fmt
from guardbot.operator import guards as look
from guardbot.operator import trading
from guardbot.operator.guards import GuardHost
from guardbot.operator.journal import parse_since, recent_history
from guardbot.operator.sizing import TradeRequest
from guardbot.risk.sizing import SizingResult

log = logging.getLogger("guardbot.telegram")

Context = CallbackContext[Any, Any, Any, Any]
Handler = Callable[["CommandCenter", Update, Context], Coroutine[Any, Any, None]]

HISTORY_DEFAULT, HISTORY_MAX = 15, 50
CHART_MAX_MS = 31 * 86_400_000
UNAUTHORIZED_JOURNAL_EVERY_S = 60.0  # one journal row per stranger per minute, not one per message

USAGE = {
    "status": "/status",
    "positions": "/positions [account]",
    "risk": "/risk [account]",
    "size": "/size [account] SYMBOL long|short STOP [ENTRY] [RISK]",
    "open": "/open [account] SYMBOL long|short STOP [ENTRY] [RISK]",
    "stops": "/stops [account]",
    "pause": "/pause [account]",
    "resume": "/resume [account]",
    "flatten": "/flatten [account]",
    "chart": "/chart [account] [24h|7d]",
    "history": "/history [account] [N]",
    "help": "/help",
}
DESCRIPTIONS = {
    "status": "accounts, equity, margin ratio, drawdown, state",
    "positions": "positions with PnL, liquidation price, stop",
    "risk": "exposure, clusters, stress: where the account liquidates",
    "size": "size a trade from the stop and the risk",
    "open": "size, confirm, then entry + stop",
    "stops": "run a guard check now and place missing stops",
    "pause": "refuse new entries (the guard keeps protecting)",
    "resume": "allow entries again / unlock after the cool-down",
    "flatten": "close every position (reduce-only), after confirming",
    "chart": "equity and margin ratio chart",
    "history": "last journal lines",
    "help": "this list",
}


class UsageError(Exception):
    """A malformed command: the message is the one-line reply."""


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
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


# ---------------------------------------------------------------------------- parsing (pure)


def parse_number(text: str, what: str, usage: str) -> float:
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        raise UsageError(f"{what} must be a number, got {text!r}. Usage: {usage}") from None
    if not (math.isfinite(value) and value > 0):
        raise UsageError(f"{what} must be a positive number, got {text!r}. Usage: {usage}")
    return value


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
    risk_amount = risk_pct = None
    if rest:
        text = rest[0]
        if text.endswith("%"):
            risk_pct = parse_number(text[:-1], "RISK %", usage)
            if risk_pct > 100:
                raise UsageError(f"RISK % must be at most 100, got {text!r}. Usage: {usage}")
        else:
            risk_amount = parse_number(text, "RISK", usage)
    return TradeRequest(symbol, side, stop, entry, risk_amount, risk_pct)


# ---------------------------------------------------------------------------- the handlers


def _command(name: str) -> Callable[[Handler], Handler]:
    """Mark a method as the handler of /name; errors become one-line replies."""

    def wrap(fn: Handler) -> Handler:
        @functools.wraps(fn)
        async def run(self: CommandCenter, update: Update, context: Context) -> None:
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


class CommandCenter:
    """The bot's command handlers, bound to the daemon (`host`)."""

    def __init__(
        self, host: GuardHost, config: TelegramConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.host = host
        self.config = config
        self.clock = clock
        self.pending: dict[str, Pending] = {}
        self._strangers: dict[tuple[int | None, int | None], float] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

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

    async def close(self) -> None:
        for p in self.pending.values():
            if p.timer is not None:
                p.timer.cancel()
        self.pending.clear()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

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

    # ------------------------------------------------------------------ looking

    @_command("help")
    async def cmd_help(self, update: Update, context: Context) -> None:
        lines = ["<b>guardbot commands</b>"]
        lines += [f"{fmt.esc(USAGE[n])} — {fmt.esc(DESCRIPTIONS[n])}" for n in USAGE]
        lines.append(f"accounts: {fmt.esc(', '.join(self._names()) or 'none')}")
        lines.append("RISK is an amount (50) or % of equity (1%); ENTRY '-' means at mark.")
        await self.reply(update, "\n".join(lines))

    @_command("status")
    async def cmd_status(self, update: Update, context: Context) -> None:
        if context.args:
            names = self._names()
            unknown = [a for a in context.args if a not in names]
            if unknown:
                raise UsageError(
                    f"unknown account {unknown[0]!r}; accounts: {', '.join(names)}. Usage: /status"
                )
        views = look.guard_status(self.host)
        gc = self.host.settings.guard
        now = int(time.time() * 1000)
        await self.reply(update, fmt.status_html(views, gc.margin_ratio_warn, gc.margin_ratio_reduce, now))

    @_command("positions")
    async def cmd_positions(self, update: Update, context: Context) -> None:
        guard, rest = self.pick(context.args or [], USAGE["positions"])
        if rest:
            raise UsageError(f"unexpected {' '.join(rest)!r}. Usage: {USAGE['positions']}")
        view = look.positions(guard)
        text = fmt.positions_html(
            guard.name, view.snapshot, view.figures, view.stops, int(time.time() * 1000), guard.dry_run
        )
        await self.reply(update, text)

    @_command("risk")
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

    @_command("history")
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

    @_command("chart")
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

    # ------------------------------------------------------------------ sizing and trading

    @_command("size")
    async def cmd_size(self, update: Update, context: Context) -> None:
        guard, rest = self.pick(context.args or [], USAGE["size"])
        result = look.size_for_guard(guard, self.host.settings, parse_trade(rest, USAGE["size"]))
        await self.reply(update, fmt.sizing_html(guard.name, result, self._ccy(guard.name)))

    @_command("open")
    async def cmd_open(self, update: Update, context: Context) -> None:
        guard, rest = self.pick(context.args or [], USAGE["open"])
        trade = parse_trade(rest, USAGE["open"])
        why = trading.entry_refusal(guard)
        if why is not None:
            await self.reply(update, f"❌ {fmt.esc(guard.name)}: {fmt.esc(why)}")
            return
        result = look.size_for_guard(guard, self.host.settings, trade)
        order = "limit at " + fmt.price(trade.entry) if trade.entry is not None else "market"
        dry = f"\n{fmt.DRY_RUN}: nothing will be sent to the exchange" if guard.dry_run else ""
        summary = (
            fmt.sizing_html(guard.name, result, self._ccy(guard.name), verb="open")
            + f"\norder: {order} entry, then a reduce-only stop at {fmt.price(result.stop)}{dry}"
        )
        await self._ask(update, "open", guard, summary, sizing=result, limit_price=trade.entry)

    @_command("stops")
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

    @_command("pause")
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

    @_command("resume")
    async def cmd_resume(self, update: Update, context: Context) -> None:
        guard, rest = self.pick(context.args or [], USAGE["resume"])
        if rest:
            raise UsageError(f"unexpected {' '.join(rest)!r}. Usage: {USAGE['resume']}")
        st = guard.state
        if not trading.resumable(st):
            await self.reply(
                update, f"<b>{fmt.esc(guard.name)}</b>: nothing to resume ({st.trading_state.value})"
            )
            return
        now = int(guard.clock())
        what = fmt.state_text(st, now)
        summary = f"<b>{fmt.esc(guard.name)}</b> is {what}.\nResume new entries?"
        if st.locked:
            summary += " The drawdown is re-based from the next reading."
        await self._ask(update, "resume", guard, summary)

    @_command("flatten")
    async def cmd_flatten(self, update: Update, context: Context) -> None:
        guard, rest = self.pick(context.args or [], USAGE["flatten"])
        if rest:
            raise UsageError(f"unexpected {' '.join(rest)!r}. Usage: {USAGE['flatten']}")
        _, figures = look.seen(guard)
        if not figures.positions:
            await self.reply(update, f"<b>{fmt.esc(guard.name)}</b>: no open positions, nothing to flatten")
            return
        names = ", ".join(
            f"{p.position.side.value} {fmt.short(p.symbol)} {fmt.qty(p.position.contracts)}"
            for p in figures.positions
        )
        dry = f"\n{fmt.DRY_RUN}: nothing will be sent" if guard.dry_run else ""
        summary = (
            f"🚨 <b>{fmt.esc(guard.name)}</b>: close EVERY position with reduce-only market orders?\n"
            f"{fmt.esc(names)} (unrealized PnL {fmt.signed_money(figures.unrealized_pnl)}){dry}"
        )
        await self._ask(update, "flatten", guard, summary)

    @_command("unknown")
    async def unknown(self, update: Update, context: Context) -> None:
        text = update.effective_message.text if update.effective_message else ""
        word = (text or "").split()[0] if text else "?"
        await self.reply(update, f"unknown command {fmt.esc(word)}; /help lists them")

    # ------------------------------------------------------------------ confirmations

    async def _ask(
        self,
        update: Update,
        kind: Literal["open", "flatten", "resume"],
        guard: AccountGuard,
        summary: str,
        *,
        sizing: SizingResult | None = None,
        limit_price: float | None = None,
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
        guard = self.host.guard(p.account)
        if p.kind == "open":
            return await self._do_open(guard, p, user_id)
        if p.kind == "flatten":
            return await self._do_flatten(guard, p, user_id)
        return await self._do_resume(guard, p, user_id)

    async def _do_open(self, guard: AccountGuard, p: Pending, user_id: int) -> str:
        r = p.sizing
        assert r is not None
        opened = await trading.open_position(guard, r, limit_price=p.limit_price, episode=p.token)
        if opened.refused is not None:
            why = opened.refused
            await self._event(guard.name, "command", f"/open {r.symbol} refused: {why}", {"token": p.token})
            return f"❌ refused: {fmt.esc(why)}"
        entry, stop = opened.entry, opened.stop
        assert entry is not None
        lines = [fmt.action_line(entry)]
        if stop is not None:
            lines.append(fmt.action_line(stop))
            if not stop.ok:
                lines.append("⚠️ <b>the position has no stop</b>: the guard places a default one next cycle")
        await self._event(
            guard.name,
            "command",
            f"/open {r.side.value} {r.quantity:g} {r.symbol} stop {r.stop:g} confirmed by user {user_id}: "
            f"entry {entry.status}, stop {stop.status if stop else 'not placed'}",
            {
                "token": p.token,
                "entry": entry.client_order_id,
                "stop": stop.client_order_id if stop else None,
            },
        )
        return "\n".join(lines)

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
