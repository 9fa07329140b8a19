"""The `guardbot` command: argument parsing, the error boundary, dispatch.

Every user mistake ends in one line on stderr and exit code 2; the command modules raise
`UserError` (or a module's own one-line error) and never print tracebacks for bad input.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import NoReturn

from guardbot import __version__, cli_args
from guardbot.errors import is_one_line
from guardbot.redaction import redact

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the whole usage block; one line that names the problem is kinder
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", metavar="PATH", help="TOML config (default: $GUARDBOT_CONFIG, else ./guardbot.toml)"
    )


def _add_exchange(p: argparse.ArgumentParser, what: str) -> None:
    from guardbot.domain import EXCHANGES  # no ccxt import: --help stays fast

    p.add_argument(
        "--exchange",
        choices=EXCHANGES,
        default="binanceusdm",
        metavar="ID",
        help=f"{what}: {', '.join(EXCHANGES)} (default binanceusdm)",
    )


def _command(
    sub: argparse._SubParsersAction[_Parser], name: str, help: str, example: str
) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with one example that works as typed."""
    return sub.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".",
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


EXAMPLE_BOOK = "guardbot/examples/alt-book.json"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="guardbot", description="Guard cross-margin perpetual-futures accounts.")
    parser.add_argument("--version", action="version", version=f"guardbot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = _command(
        sub,
        "analyze",
        "account figures, liquidation prices, exposure and stress of a snapshot",
        f"guardbot analyze {EXAMPLE_BOOK} --shock BTC=-10%",
    )
    p.add_argument("snapshot", metavar="SNAPSHOT", help="snapshot JSON file (schema 1, see docs/snapshot.md)")
    p.add_argument(
        "--shock",
        action="append",
        default=[],
        metavar="SYMBOL=PCT",
        help="move a symbol by PCT (e.g. BTC=-10%%); the benchmark drags the others by beta",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output (stable keys, docs/cli.md)")
    _add_config(p)

    p = _command(
        sub,
        "size",
        "size a new trade backward from the loss at its stop",
        f"guardbot size {EXAMPLE_BOOK} --symbol XRP --side short --stop 2.45 --risk 150",
    )
    p.add_argument("snapshot", metavar="SNAPSHOT", help="snapshot JSON file")
    p.add_argument("--symbol", required=True, help="e.g. SOL/USDT:USDT (or just SOL)")
    p.add_argument("--side", required=True, choices=["long", "short"], help="the side of the new position")
    p.add_argument("--stop", required=True, type=cli_args.price, metavar="PRICE", help="the stop's price")
    p.add_argument("--entry", type=cli_args.price, metavar="PRICE", help="default: the mark price")
    risk = p.add_mutually_exclusive_group()
    risk.add_argument(
        "--risk",
        type=cli_args.risk,
        metavar="AMOUNT|PCT%",
        help="loss at the stop: an amount in settle currency (150) or a percentage of equity (1%%)",
    )
    risk.add_argument(
        "--risk-pct", type=cli_args.percent, metavar="PCT", help="loss at the stop, %% of equity"
    )
    p.add_argument("--leverage", type=cli_args.amount, metavar="L", help="default: risk.default_leverage")
    p.add_argument("--json", action="store_true", help="machine-readable output (stable keys, docs/cli.md)")
    _add_config(p)

    p = sub.add_parser("config", help="configuration tools")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", parser_class=_Parser)
    c = _command(
        csub,
        "check",
        "validate the config, check every secret variable is set, print it with secrets masked",
        "guardbot config check --config guardbot.toml --online",
    )
    c.add_argument("--json", action="store_true", help="the effective configuration as JSON")
    c.add_argument(
        "--online", action="store_true", help="also connect to each account and read it once (keys, symbols)"
    )
    _add_config(c)

    p = _command(
        sub,
        "snapshot",
        "fetch an account from its exchange and write snapshot JSON",
        "guardbot snapshot --account main --out main.json",
    )
    p.add_argument("--account", required=True, metavar="NAME", help="an account name from the config")
    p.add_argument("--out", metavar="FILE", help="write here instead of stdout (checked before the exchange)")
    p.add_argument("--json", action="store_true", help="print the JSON (default when --out is not given)")
    _add_config(p)

    p = _command(
        sub,
        "sim",
        "run the built-in exchange emulator on loopback",
        "guardbot sim --scenario crash --speed 10",
    )
    p.add_argument(
        "--scenario", default="calm", metavar="NAME|FILE", help="calm, crash, grind, squeeze or a TOML file"
    )
    p.add_argument(
        "--port",
        type=cli_args.port,
        default=8765,
        metavar="N",
        help="TCP port on 127.0.0.1 (default 8765; 0 = any free port)",
    )
    p.add_argument(
        "--speed",
        type=cli_args.amount,
        default=1.0,
        metavar="X",
        help="simulated seconds per wall second (default 1: real time, the pace a guard checking "
        "every 10 s expects; faster needs a shorter schedule.interval_s, which sim prints)",
    )
    _add_exchange(p, "the venue whose wire the emulator speaks")

    p = _command(
        sub,
        "run",
        "the guard daemon: watch and protect every configured account",
        "guardbot run --config guardbot.toml --dry-run",
    )
    p.add_argument(
        "--log-format", choices=["text", "json"], default="text", help="log lines as text (default) or JSON"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="every account in dry-run, whatever the config says"
    )
    _add_config(p)

    p = _command(sub, "status", "latest state of every account, from the journal", "guardbot status --json")
    p.add_argument("--json", action="store_true", help="one object per account (stable keys, docs/cli.md)")
    p.add_argument(
        "--journal",
        action="append",
        metavar="FILE",
        help="read this journal instead of storage.path; repeat it for several guardbot instances",
    )
    _add_config(p)

    p = _command(
        sub,
        "history",
        "decisions, actions, alerts and state changes, from the journal",
        "guardbot history --since 6h --account main",
    )
    p.add_argument("--since", default="24h", help="how far back: 30m, 24h, 7d (default 24h)")
    p.add_argument("--account", metavar="NAME", help="only this account")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true", help="CSV: time_utc, account, kind, text")
    fmt.add_argument("--json", action="store_true", help="one object per line of history (docs/cli.md)")
    _add_config(p)

    from guardbot.intents import cli_parsers

    def command(name: str, help: str, example: str) -> argparse.ArgumentParser:
        return _command(sub, name, help, example)

    cli_parsers.add_parser(command, _add_config)
    cli_parsers.add_strategies_parser(command, _add_config)

    for name, what, example in (
        ("pause", "refuse new entries on an account (the guard keeps protecting it)", "--account main"),
        (
            "resume",
            "allow entries again; unlocks a HALTED account once its cool-down is over",
            "--account main",
        ),
        ("flatten", "close every position of an account with reduce-only market orders", "--account main"),
    ):
        p = _command(sub, name, what, f"guardbot {name} {example}")
        p.add_argument("--account", required=True, metavar="NAME", help="an account name from the config")
        p.add_argument(
            "--wait",
            type=cli_args.amount,
            default=60.0,
            metavar="S",
            help="seconds to wait for a running daemon to apply it (default 60)",
        )
        if name == "flatten":
            p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        _add_config(p)

    p = _command(
        sub,
        "demo",
        "watch guardbot protect an account in a simulated crash (no keys needed)",
        "guardbot demo --fast --out /tmp/guardbot-demo",
    )
    p.add_argument("--out", metavar="DIR", default=".", help="where to write guardbot-demo.db and .png")
    p.add_argument("--fast", action="store_true", help="a 20-minute replay in a few seconds, no pacing")
    _add_exchange(p, "the venue whose wire and margin rules the emulator speaks")
    return parser


def _stop_cleanly_while_starting() -> None:
    """`guardbot run`: a SIGTERM that arrives while Python is still importing (the daemon's modules
    take about a second, several on a busy machine) is a clean stop, exit 0, as it is once the
    daemon's own handlers are set; Python's default would die with -15. Found by the chaos suite."""

    def stop(signum: int, frame: object) -> None:
        print("guardbot: stopped during start-up", file=sys.stderr, flush=True)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)


def _dispatch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.command == "run" and threading.current_thread() is threading.main_thread():
        _stop_cleanly_while_starting()
    from guardbot import commands

    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "analyze": commands.analyze,
        "size": commands.size,
        "snapshot": commands.snapshot,
        "sim": commands.sim,
        "demo": commands.demo,
        "run": commands.run,
        "status": commands.status,
        "history": commands.history,
        "open": commands.open_trade,
        "strategies": commands.strategies,
        "pause": commands.pause,
        "resume": commands.resume,
        "flatten": commands.flatten,
    }
    if args.command == "config":
        if args.config_command != "check":
            parser.parse_args(["config", "--help"])
        return commands.config_check(args)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    return handlers[args.command](args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(args, parser)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `guardbot history | head`
        sys.stderr.close()
        return 0
    except Exception as err:
        if not is_one_line(err):
            raise
        # file errors already start with the file's name, as `config.toml: risk.x: ...`
        text = str(err) if hasattr(err, "problems") else f"guardbot: {err}"
        print(redact(text), file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
