"""/open: the manual source of the one entry path (guardbot/intents).

    /open [account] SYMBOL long|short STOP [ENTRY] [RISK] [PRICE:FRACTION ...]

The trade is checked and sized on the last snapshot and shown with Confirm/Cancel. On Confirm the
account is read again: if the stop has been crossed, a check now fails, or the size moved by more
than `[entries] confirm_tolerance_pct`, nothing is sent and the new figures are shown; otherwise
the bracket goes out (entry, its reduce-only stop with it, the take-profits).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence

from pydantic import ValidationError
from telegram import Update

from guardbot.cycle import AccountGuard
from guardbot.intents.checks import Plan, Refused
from guardbot.intents.desk import Outcome, desk_of
from guardbot.intents.model import Intent, TakeProfit, one_line, parse_take_profit
from guardbot.notify import tg_format as fmt
from guardbot.notify.tg_base import USAGE, Context, UsageError, command
from guardbot.notify.tg_confirm import Confirmations, Pending
from guardbot.operator.sizing import TradeRequest

_TAKE_PROFIT = re.compile(r"^[0-9][0-9.,]*:[0-9.]+%?$")


def split_take_profits(args: Sequence[str], usage: str) -> tuple[list[str], tuple[TakeProfit, ...]]:
    """The PRICE:FRACTION words (take-profits) apart from the rest of the command."""
    rest, tps = [], []
    for word in args:
        if _TAKE_PROFIT.match(word):
            try:
                tps.append(parse_take_profit(word))
            except ValueError as err:
                raise UsageError(f"{err}. Usage: {usage}") from None
        else:
            rest.append(word)
    return rest, tuple(tps)


def plan_html(account: str, plan: Plan, ccy: str, *, verb: str = "open") -> str:
    """The sizing, then the order that will be sent (entry, stop, take-profits)."""
    order = f"limit at {fmt.price(plan.limit)}" if plan.limit is not None else "market"
    lines = [fmt.sizing_html(account, plan.sizing, ccy, verb=verb)]
    lines.append(f"order: {order} entry, with a reduce-only stop at {fmt.price(plan.sizing.stop)}")
    for i, tp in enumerate(plan.take_profits, 1):
        lines.append(f"take-profit {i}: {fmt.qty(tp.quantity)} at {fmt.price(tp.price)} (reduce-only)")
    return "\n".join(lines)


class EntryCommands(Confirmations):
    """/open, and what its Confirm does."""

    def parse_trade(self, args: Sequence[str], usage: str) -> TradeRequest:
        """SYMBOL long|short STOP [ENTRY] [RISK], as /size reads it (tg_trading.py)."""
        raise NotImplementedError

    @command("open")
    async def cmd_open(self, update: Update, context: Context) -> None:
        usage = USAGE["open"]
        guard, rest = self.pick(context.args or [], usage)
        words, take_profits = split_take_profits(rest, usage)
        trade = self.parse_trade(words, usage)
        try:
            intent = Intent(
                symbol=trade.symbol,
                side=trade.side,
                stop=trade.stop,
                entry=trade.entry,
                risk=trade.risk_amount,
                risk_pct=trade.risk_pct,
                take_profits=take_profits,
                reason="/open",
            )
        except ValidationError as err:
            raise UsageError(f"{one_line(err)}. Usage: {usage}") from None
        desk = desk_of(self.host, guard)
        try:
            plan = await desk.propose(intent, key=f"refused-{secrets.token_hex(5)}")
        except Refused as r:
            await self.reply(update, f"❌ {fmt.esc(guard.name)}: {fmt.esc(str(r))}")
            return
        dry = f"\n{fmt.DRY_RUN}: nothing will be sent to the exchange" if guard.dry_run else ""
        summary = plan_html(guard.name, plan, self._ccy(guard.name)) + dry
        await self._ask(update, "open", guard, summary, sizing=plan.sizing, plan=plan)

    async def _do_open(self, guard: AccountGuard, p: Pending, user_id: int) -> str:
        plan = p.plan
        assert isinstance(plan, Plan)
        out = await desk_of(self.host, guard).confirm(plan, key=p.token)
        await self._event(
            guard.name,
            "command",
            f"/open {plan.summary()} confirmed by user {user_id}: {out.status}: {out.reason}",
            {"token": p.token, "intent_id": out.intent_id, "status": out.status},
        )
        return self.outcome_html(guard, out)

    def outcome_html(self, guard: AccountGuard, out: Outcome) -> str:
        if out.status == "changed" and out.plan is not None:
            return (
                f"⚠️ {fmt.esc(out.reason)}\n<b>now:</b>\n"
                + plan_html(guard.name, out.plan, self._ccy(guard.name), verb="would open")
                + f"\n{fmt.esc(USAGE['open'].split()[0])} again to trade the new figures"
            )
        if out.status in ("refused", "duplicate"):
            return f"❌ refused: {fmt.esc(out.reason)}"
        assert out.bracket is not None
        lines = [fmt.action_line(a) for a in out.bracket.actions()]
        if not out.bracket.protected and out.bracket.unwind is None:
            lines.append("⚠️ <b>the position has no stop</b>: the guard places a default one")
        elif out.bracket.unwind is not None:
            lines.append("⚠️ the stop could not be placed: the entry was taken back")
        return "\n".join(lines)
