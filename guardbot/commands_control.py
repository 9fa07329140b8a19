"""`guardbot pause|resume|flatten --account NAME`: what Telegram's /pause, /resume and /flatten do,
from a shell, with or without a running daemon (operator/requests.py says how each path works).

Exit codes: 0 done; 1 not confirmed (nothing done); 2 a user error or a refusal (a cool-down, an
account that cannot be read, no answer from the daemon), with one line saying why.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from guardbot.config import Settings
from guardbot.errors import UserError
from guardbot.guard import GuardLimits
from guardbot.guard.state import GuardState
from guardbot.operator.trading import resumable as trading_resumable
from guardbot.operator.trading import resume_refusal_of
from guardbot.runlock import AlreadyRunning, Holder, JournalLock
from guardbot.store import Journal, JournalReader
from guardbot.store.requests import RequestAction, RequestStatus

if TYPE_CHECKING:  # the exchange layer (ccxt, slow to import) loads only when this process acts itself
    from guardbot.cycle import AccountGuard

DAEMON = "guardbot run"
POLL_S = 0.2


def requester() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "?"
    return f"guardbot CLI (user {user}, pid {os.getpid()})"


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- entry points


def pause(args: argparse.Namespace, settings: Settings) -> int:
    return _run(args, settings, RequestAction.PAUSE)


def resume(args: argparse.Namespace, settings: Settings) -> int:
    return _run(args, settings, RequestAction.RESUME)


def flatten(args: argparse.Namespace, settings: Settings) -> int:
    return _run(args, settings, RequestAction.FLATTEN)


def _run(args: argparse.Namespace, settings: Settings, action: RequestAction) -> int:
    account = settings.account(args.account).name  # an unknown name: one line listing the known ones
    journal = Path(settings.storage.path)
    if action is RequestAction.RESUME:
        _refuse_resume_first(settings, account)
    lock = JournalLock(journal, f"guardbot {action}")
    try:
        lock.acquire()
    except AlreadyRunning as busy:
        if busy.holder is None or busy.holder.command != DAEMON:
            who = busy.holder.describe() if busy.holder else "another process"
            raise UserError(f"journal {journal} is busy ({who}); try again in a moment") from None
        return _ask_daemon(args, settings, account, action, busy.holder)
    try:
        return asyncio.run(_apply_here(args, settings, account, action))
    finally:
        lock.release()


def _finish(status: RequestStatus, text: str) -> int:
    if status is RequestStatus.DONE:
        print(text)
        return 0
    raise UserError(text.replace("\n", "; "))


def _confirm(question: str, yes: bool) -> bool:
    if yes:
        return True
    _say(f"{question} [y/N] ")
    answer = sys.stdin.readline()
    if not answer:
        raise UserError("no answer on stdin: nothing done (add --yes to flatten without the question)")
    return answer.strip().lower() in ("y", "yes")


def _positions_line(rows: list[tuple[str, str, float]]) -> str:
    return ", ".join(f"{side} {symbol.split('/')[0]} {qty:g}" for symbol, side, qty in rows)


# ---------------------------------------------------------------------------- a daemon is running


def _journal_view(
    path: Path, account: str
) -> tuple[GuardState | None, list[tuple[str, str, float]], int | None]:
    """The daemon's last saved guard state of `account` and the positions of its last snapshot."""
    if not path.exists():
        return None, [], None
    with JournalReader(path) as reader:
        row = reader.load_guard_state(account)
        state = GuardState.from_dict(row.extra) if row is not None and row.extra else None
        snap = next((s for s in reader.latest_snapshots() if s.account == account), None)
        held = [(p.symbol, p.side, p.contracts) for p in reader.positions_of(snap.id)] if snap else []
    return state, held, snap.ts if snap else None


def _refuse_resume_first(settings: Settings, account: str) -> None:
    """A resume during a cool-down is refused at once, from the guard state the journal holds (the
    daemon saves it every cycle), before a daemon is asked or an exchange connected to."""
    state, _, _ = _journal_view(Path(settings.storage.path), account)
    if state is None:
        return
    limits = GuardLimits.from_config(settings.guard, settings.risk)
    refused = resume_refusal_of(state, int(time.time() * 1000), limits)
    if refused is not None and trading_resumable(state):
        raise UserError(f"{account}: {refused}")


def _ask_daemon(
    args: argparse.Namespace, settings: Settings, account: str, action: RequestAction, daemon: Holder
) -> int:
    path = Path(settings.storage.path)
    _, held, seen_ts = _journal_view(path, account)
    now = int(time.time() * 1000)
    if action is RequestAction.FLATTEN:
        age = f", {(now - seen_ts) // 1000}s ago" if seen_ts else ""
        what = _positions_line(held) or "no position in the last snapshot"
        question = f"{account}: close EVERY position with reduce-only market orders? ({what}{age})"
        if not _confirm(question, args.yes):
            _say("not confirmed: nothing done")
            return 1
    _say(f"asking the running daemon ({daemon.describe()}) to {action} {account}…")
    with Journal.open_sync(path) as journal:
        request_id = journal.add_operator_request_sync(account, now, action=action, requested_by=requester())
        status, text = _wait(journal, request_id, args.wait)
    return _finish(status, text)


def _wait(journal: Journal, request_id: int, timeout_s: float) -> tuple[RequestStatus, str]:
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            row = journal.operator_request_sync(request_id)
            if row is not None and row.status.final:
                return row.status, row.result or str(row.status)
            time.sleep(POLL_S)
    finally:  # Ctrl-C or the deadline: a request nobody waits for must never run later
        expired = journal.move_operator_request_sync(
            request_id,
            to=RequestStatus.EXPIRED,
            only_from=RequestStatus.PENDING,
            result="the requester stopped waiting",
            done_ts=int(time.time() * 1000),
        )
    row = journal.operator_request_sync(request_id)
    if row is not None and row.status.final and not expired:
        return row.status, row.result or str(row.status)
    if expired:
        return RequestStatus.EXPIRED, (
            f"the daemon did not pick the request up within {timeout_s:g}s: nothing done "
            "(is it stuck? see its log)"
        )
    return RequestStatus.FAILED, (
        f"the daemon took the request but has not finished it after {timeout_s:g}s (is the account's "
        "exchange answering?); it will finish it, and `guardbot history` will show the outcome"
    )


# ---------------------------------------------------------------------------- no daemon: act here


class _Host:
    """The one guard this command built, offered to the operator actions like a daemon's."""

    def __init__(self, settings: Settings, journal: Journal) -> None:
        self.settings = settings
        self.journal: Journal | None = journal
        self.guards: list[AccountGuard] = []

    def guard(self, name: str) -> AccountGuard:
        for g in self.guards:
            if g.name == name:
                return g
        raise KeyError(name)

    async def check_now(self, name: str | None = None) -> None:
        for g in self.guards if name is None else [self.guard(name)]:
            await g.cycle()


async def _apply_here(
    args: argparse.Namespace, settings: Settings, account: str, action: RequestAction
) -> int:
    from guardbot.daemon import build_guard
    from guardbot.exchange.session import open_account
    from guardbot.notify import ConsoleNotifier
    from guardbot.operator import trading
    from guardbot.operator.requests import serve

    tell: Callable[[str], None] = _say
    _say(f"no daemon runs on {settings.storage.path}: acting here")
    # a one-shot command sends a few requests (flatten: three snapshots and the orders, about 300 of
    # Binance's 2400 weight a minute): ccxt's throttle would only add seconds of waiting to them
    async with (
        open_account(account, settings, rate_limit=False) as session,
        await Journal.open(settings.storage.path) as journal,
    ):
        host = _Host(settings, journal)
        limits = GuardLimits.from_config(settings.guard, settings.risk)
        guard = build_guard(session, journal, ConsoleNotifier(tell), limits)
        await guard.start()
        host.guards.append(guard)
        if action is RequestAction.RESUME:
            refused = trading.resume_refusal(guard)
            if refused is not None:
                raise UserError(f"{account}: {refused}")
        if action is RequestAction.FLATTEN:
            snap = await session.snapshot()
            held = [(p.symbol, p.side.value, p.contracts) for p in snap.positions]
            if not held:
                print(f"{account}: no open positions, nothing to close")
                return 0
            dry = " (DRY-RUN: nothing will be sent)" if guard.dry_run else ""
            question = (
                f"{account}: close EVERY position with reduce-only market orders? "
                f"({_positions_line(held)}){dry}"
            )
            if not _confirm(question, args.yes):
                _say("not confirmed: nothing done")
                return 1
        now = int(time.time() * 1000)
        request_id = await journal.add_operator_request(account, now, action=action, requested_by=requester())
        row = await journal.operator_request(request_id)
        assert row is not None
        outcome = await serve(host, journal, row, now)
    if outcome is None:
        raise UserError(f"{account}: the request was taken by another process")
    with contextlib.suppress(BrokenPipeError):
        return _finish(outcome.status, outcome.text)
    return 0
