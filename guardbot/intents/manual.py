"""The manual source from the command line: `guardbot open` (arguments in cli_open.py).

It runs without the daemon, or next to it: the account is read through its own client, the
trading state (HALTED, paused) comes from the journal's guard state the daemon saves every cycle,
and the intent, its bracket and its orders are journaled in the same file (short transactions,
serialized with the daemon's by SQLite), so the daemon's guard follows the bracket from its next
cycle on: it knows the stop belongs to the entry.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from collections.abc import Callable

from pydantic import ValidationError

from guardbot.config import Settings, load_settings
from guardbot.cycle import AccountGuard, CycleOutcome
from guardbot.errors import UserError
from guardbot.exchange.session import open_account
from guardbot.guard import GuardLimits, GuardState
from guardbot.intents.checks import Plan, Refused
from guardbot.intents.desk import EntryDesk, Outcome
from guardbot.intents.model import Intent, one_line
from guardbot.notify import ConsoleNotifier
from guardbot.render import console, sizing_table
from guardbot.risk.account import measure_account
from guardbot.store import Journal
from guardbot.strategies_runtime.candles import CandleCache


def intent_from_args(args: argparse.Namespace) -> Intent:
    try:
        return Intent(
            symbol=args.symbol,
            side=args.side,
            stop=args.stop,
            entry=args.entry,
            risk=args.risk,
            risk_pct=args.risk_pct,
            take_profits=tuple(args.tp),
            reason="guardbot open",
        )
    except ValidationError as err:
        raise UserError(one_line(err)) from None


def open_from_args(args: argparse.Namespace) -> int:
    settings = load_settings(getattr(args, "config", None))
    settings.account(args.account)  # an unknown account is one line, before any connection
    intent = intent_from_args(args)
    return asyncio.run(open_trade(settings, args.account, intent, yes=args.yes))


def _ask(prompt: str) -> str:
    print(prompt, end="", flush=True)
    return sys.stdin.readline()


async def open_trade(
    settings: Settings, account: str, intent: Intent, *, yes: bool, ask: Callable[[str], str] = _ask
) -> int:
    async with open_account(account, settings) as session:
        journal = await Journal.open(settings.storage.path)
        try:
            guard = AccountGuard(
                account,
                session.snapshot,
                session.gateway(),
                journal,
                ConsoleNotifier(),
                GuardLimits.from_config(settings.guard, settings.risk),
            )
            row = await journal.load_guard_state(account)
            if row is not None and row.extra:
                guard.state = GuardState.from_dict(row.extra)
            snapshot = await guard.fresh_snapshot()
            guard.last = CycleOutcome(
                account, guard.clock(), True, guard.state, measure_account(snapshot), snapshot
            )
            desk = EntryDesk(guard, settings, candles=CandleCache(session.client, guard.clock))
            return await _propose_and_send(desk, intent, account, session.account.settle_currency, yes, ask)
        finally:
            await journal.close()


async def _propose_and_send(
    desk: EntryDesk, intent: Intent, account: str, ccy: str, yes: bool, ask: Callable[[str], str]
) -> int:
    token = secrets.token_hex(6)
    try:
        plan = await desk.propose(intent, key=f"cli-refused-{token}")
    except Refused as r:
        raise UserError(f"refused, nothing sent: {r}") from None
    show(plan, account, ccy, dry_run=desk.guard.dry_run)
    if not yes and ask("send it? [y/N] ").strip().lower() not in ("y", "yes"):
        print("not confirmed: nothing sent")
        return 1
    out = await desk.confirm(plan, key=f"cli-{token}")
    return report(out, account, ccy)


def show(plan: Plan, account: str, ccy: str, *, dry_run: bool) -> None:
    c = console()
    c.print(sizing_table(plan.sizing, ccy))
    for w in plan.sizing.warnings:
        c.print(f"[yellow]warning:[/] {w}")
    order = f"limit at {plan.limit:,.6g}" if plan.limit is not None else "market"
    c.print(f"{account}: {order} entry, with a reduce-only stop at {plan.sizing.stop:,.6g}")
    for i, tp in enumerate(plan.take_profits, 1):
        c.print(f"  take-profit {i}: {tp.quantity:g} at {tp.price:,.6g} (reduce-only)")
    if dry_run:
        c.print(f"DRY-RUN: {account} sends nothing to the exchange")


def report(out: Outcome, account: str, ccy: str) -> int:
    if out.status == "changed" and out.plan is not None:
        print(f"guardbot: {out.reason}; the new figures:", file=sys.stderr)
        show(out.plan, account, ccy, dry_run=False)
        print("run the command again to trade them", file=sys.stderr)
        return 2
    if out.status in ("refused", "duplicate"):
        raise UserError(f"refused, nothing sent: {out.reason}")
    assert out.bracket is not None
    for line in out.bracket.lines():
        print(f"  → {line}")
    print(out.reason)
    return 0 if out.status in ("placed", "dry_run") and out.bracket.unwind is None else 1
