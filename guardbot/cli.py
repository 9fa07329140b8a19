"""The `guardbot` command: argument parsing, the error boundary, dispatch.

Every user mistake ends in one line on stderr and exit code 2; the command modules raise
`UserError` (or a module's own one-line error) and never print tracebacks for bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from guardbot import __version__, cli_args
from guardbot.errors import one_line_errors
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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="guardbot", description="Guard cross-margin perpetual-futures accounts.")
    parser.add_argument("--version", action="version", version=f"guardbot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "analyze", help="account figures, liquidation prices, exposure and stress of a snapshot"
    )
    p.add_argument("snapshot", metavar="SNAPSHOT", help="snapshot JSON file (schema 1, see docs/snapshot.md)")
    p.add_argument(
        "--shock",
        action="append",
        default=[],
        metavar="SYMBOL=PCT",
        help="move a symbol by PCT (e.g. BTC=-10%%); the benchmark drags the others by beta",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output (stable keys)")
    _add_config(p)

    p = sub.add_parser("size", help="size a new trade backward from the loss at its stop")
    p.add_argument("snapshot", metavar="SNAPSHOT", help="snapshot JSON file")
    p.add_argument("--symbol", required=True, help="e.g. SOL/USDT:USDT (or just SOL)")
    p.add_argument("--side", required=True, choices=["long", "short"])
    p.add_argument("--stop", required=True, type=cli_args.price, metavar="PRICE")
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
    p.add_argument("--json", action="store_true", help="machine-readable output (stable keys)")
    _add_config(p)

    p = sub.add_parser("config", help="configuration tools")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", parser_class=_Parser)
    c = csub.add_parser("check", help="validate the config and print it with secrets masked")
    c.add_argument("--json", action="store_true")
    _add_config(c)

    p = sub.add_parser("snapshot", help="fetch an account from its exchange and write snapshot JSON")
    p.add_argument("--account", required=True, metavar="NAME")
    p.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--json", action="store_true", help="print the JSON (default when --out is not given)")
    _add_config(p)

    p = sub.add_parser("sim", help="run the built-in exchange emulator on loopback")
    p.add_argument(
        "--scenario", default="calm", metavar="NAME|FILE", help="calm, crash, grind, squeeze or a TOML file"
    )
    p.add_argument("--port", type=cli_args.port, default=8765)
    p.add_argument(
        "--speed",
        type=cli_args.amount,
        default=None,
        help="simulated seconds per wall second (default: the scenario's)",
    )

    p = sub.add_parser("run", help="the guard daemon: watch and protect every configured account")
    p.add_argument("--log-format", choices=["text", "json"], default="text")
    _add_config(p)

    p = sub.add_parser("status", help="latest state of every account, from the journal")
    p.add_argument("--json", action="store_true")
    _add_config(p)

    p = sub.add_parser("history", help="decisions, actions, alerts and state changes, from the journal")
    p.add_argument("--since", default="24h", help="how far back: 30m, 24h, 7d (default 24h)")
    p.add_argument("--account", metavar="NAME")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true")
    fmt.add_argument("--json", action="store_true")
    _add_config(p)

    p = sub.add_parser("demo", help="watch guardbot protect an account in a simulated crash (no keys needed)")
    p.add_argument("--out", metavar="DIR", default=".", help="where to write guardbot-demo.db and .png")
    p.add_argument("--fast", action="store_true", help="short run (CI)")
    return parser


def _dispatch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
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
    except one_line_errors() as err:
        # file errors already start with the file's name, as `config.toml: risk.x: ...`
        text = str(err) if hasattr(err, "problems") else f"guardbot: {err}"
        print(redact(text), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `guardbot history | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
