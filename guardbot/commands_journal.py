"""`guardbot status` and `guardbot history`: what the journal says, the daemon running or not.

`status --journal A --journal B` reads several journals, one per guardbot instance when accounts are
sharded over several processes (docs/operations.md): each instance has its own config, journal and
metrics port, and one command still shows every account.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from guardbot.errors import UserError
from guardbot.operator.journal import account_history, account_status, parse_since
from guardbot.render import console, dumps
from guardbot.render_journal import history_csv, history_table, status_table
from guardbot.runlock import running_daemon

if TYPE_CHECKING:
    from guardbot.config import Settings


def _on_journal(settings: Settings, path: str) -> Settings:
    """The same settings reading another journal file."""
    return settings.model_copy(update={"storage": settings.storage.model_copy(update={"path": path})})


def status(args: argparse.Namespace, settings: Settings) -> int:
    journals: list[str] = list(dict.fromkeys(args.journal or []))  # given twice is read once
    stale_after_s = max(60.0, 3 * settings.schedule.interval_s)
    now = int(time.time() * 1000)
    if not journals:
        rows = account_status(settings, now)
        if args.json:
            print(dumps(rows))
        elif not rows:
            print("the journal has no snapshot yet")
        else:
            console().print(status_table(rows, _daemon(settings.storage.path), stale_after_s))
        return 0
    # several journals: every one must exist (a typo is not an instance that has nothing to say)
    per_journal = [(path, account_status(_on_journal(settings, path), now)) for path in journals]
    if args.json:
        print(dumps([{**row, "journal": path} for path, rows in per_journal for row in rows]))
        return 0
    for path, rows in per_journal:
        if not rows:
            print(f"{path}: the journal has no snapshot yet")
            continue
        table = status_table(rows, _daemon(path), stale_after_s)
        table.title = f"{path}: {table.title}"
        console().print(table)
    return 0


def _daemon(path: str) -> str | None:
    holder = running_daemon(path)
    return holder.describe() if holder else None


def history(args: argparse.Namespace, settings: Settings) -> int:
    try:
        since = parse_since(args.since)
    except ValueError as err:
        raise UserError(str(err)) from None
    rows: list[dict[str, Any]] = account_history(settings, since, int(time.time() * 1000), args.account)
    if args.csv:
        sys.stdout.write(history_csv(rows))
    elif args.json:
        print(dumps(rows))
    elif not rows:
        print(f"nothing in the last {args.since}")
    else:
        console().print(history_table(rows))
    return 0
