"""`guardbot strategies [list|pause NAME|resume NAME] [--json]`: from the config and the journal.

Pause and resume write the journal's `strategy_state`, which a running daemon reads before each of
the strategy's runs."""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from guardbot.config import load_settings
from guardbot.errors import UserError
from guardbot.render import dumps
from guardbot.store import Journal, JournalReader
from guardbot.strategies_runtime.status import check_name, strategy_status


def strategies_command(args: argparse.Namespace) -> int:
    settings = load_settings(getattr(args, "config", None))
    path = Path(settings.storage.path)
    if args.action == "list":
        if args.name:
            raise UserError(
                f"unexpected {args.name!r}: `guardbot strategies` lists; pause NAME or resume NAME"
            )
        states = {}
        if path.is_file():
            with JournalReader(path) as reader:
                states = reader.strategy_states()
        rows = strategy_status(settings, states)
        if args.json:
            print(dumps([dataclasses.asdict(r) for r in rows]))
        else:
            print("manual: /open and guardbot open (always on)")
            for row in rows:
                print(row.line())
            if not rows:
                print("no [[strategies]] configured")
        return 0
    if not args.name:
        raise UserError(f"guardbot strategies {args.action} NAME: which strategy?")
    name = check_name(settings, args.name)
    paused = args.action == "pause"
    with Journal.open_sync(path) as j:
        j.set_strategy_paused_sync(
            name, paused, "paused by hand" if paused else None, int(time.time() * 1000)
        )
    print(f"{name}: {'paused' if paused else 'resumed (it runs again from its next bar)'}")
    return 0
