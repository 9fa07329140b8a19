"""Arguments of the entry path's commands (only argparse here, so `guardbot --help` stays fast).

`guardbot open ACCOUNT SYMBOL SIDE --stop P [--entry P] [--risk R | --risk-pct X] [--tp P:F ...] [--yes]`:
the command line's door to the one entry path (source `manual`): the trade is sized and checked on
the account read now, shown, and sent after `y` (or at once with `--yes`), the account read once
more just before sending. The work is in guardbot/intents/manual.py.

`guardbot strategies [pause|resume NAME] [--json]`: where each strategy stands; pause or resume one
(guardbot/strategies_runtime/status.py).

Exit codes: 0 sent (or, in dry-run, checked and journaled); 1 not confirmed, or the exchange
refused the entry; 2 a mistake in the command or a refused trade (one line on stderr saying why).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def _positive(what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text.replace(",", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number for {what} (got {text!r})") from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"{what} must be greater than 0 (got {text})")
        return value

    return parse


def _take_profit(text: str) -> object:
    from guardbot.intents.model import parse_take_profit

    try:
        return parse_take_profit(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


Command = Callable[[str, str, str], argparse.ArgumentParser]  # (name, help, example) -> parser


def add_parser(command: Command, add_config: Callable[..., None]) -> None:
    """Add `open` to the `guardbot` command's subparsers."""
    p = command(
        "open",
        "open a trade sized from its stop: entry, its reduce-only stop, optional take-profits",
        "guardbot open main BTC long --stop 93100 --risk 200 --tp 99000:0.5",
    )
    p.add_argument("account", metavar="ACCOUNT", help="account name from the config")
    p.add_argument("symbol", metavar="SYMBOL", help="e.g. BTC/USDT:USDT, or just BTC")
    p.add_argument("side", metavar="SIDE", choices=["long", "short", "buy", "sell"], help="long or short")
    p.add_argument(
        "--stop",
        required=True,
        type=_positive("the stop"),
        metavar="PRICE",
        help="the stop-loss price: the trade is sized so that a fill there loses the risk",
    )
    p.add_argument(
        "--entry", type=_positive("the entry"), metavar="PRICE", help="a limit entry (default: market)"
    )
    risk = p.add_mutually_exclusive_group()
    risk.add_argument("--risk", type=_positive("the risk"), metavar="AMOUNT", help="loss at the stop")
    risk.add_argument(
        "--risk-pct", type=_positive("the risk percent"), metavar="PCT", help="loss at the stop, %% of equity"
    )
    p.add_argument(
        "--tp",
        action="append",
        default=[],
        type=_take_profit,
        metavar="PRICE:FRACTION",
        help="a reduce-only take-profit closing FRACTION of the position at PRICE (repeatable), e.g. 190:0.5",
    )
    p.add_argument("--yes", action="store_true", help="send without asking")
    add_config(p)


def run(args: argparse.Namespace) -> int:
    from guardbot.intents.manual import open_from_args

    return open_from_args(args)


def add_strategies_parser(command: Command, add_config: Callable[..., None]) -> None:
    p = command(
        "strategies",
        "strategies: running, paused (and why); pause or resume one",
        "guardbot strategies pause breakout",
    )
    p.add_argument(
        "action",
        nargs="?",
        choices=["list", "pause", "resume"],
        default="list",
        help="list (the default), pause NAME or resume NAME",
    )
    p.add_argument("name", nargs="?", metavar="NAME", help="the strategy to pause or resume")
    p.add_argument("--json", action="store_true", help="machine-readable output (stable keys)")
    add_config(p)


def run_strategies(args: argparse.Namespace) -> int:
    from guardbot.strategies_runtime.cli import strategies_command

    return strategies_command(args)
