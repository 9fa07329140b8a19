"""What each `guardbot` subcommand does. Parsing lives in cli.py; the operator actions shared with
Telegram (status, history, size) in guardbot/operator; math in risk/; output in render.py."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guardbot.cli_args import output_dir, output_file
from guardbot.domain import AccountSnapshot, Side
from guardbot.errors import UserError
from guardbot.operator.sizing import TradeRequest, resolve_symbol, size_from_snapshot, snapshot_correlation
from guardbot.render import (
    account_json,
    account_table,
    console,
    dumps,
    positions_table,
    sizing_json,
    sizing_table,
)

if TYPE_CHECKING:
    from guardbot.config import Settings

EXAMPLES = Path(__file__).parent / "examples"


def _settings(args: argparse.Namespace) -> Settings:
    from guardbot.config import load_settings

    return load_settings(getattr(args, "config", None))


_SHOCK = re.compile(r"^\s*([^=\s]+)\s*=\s*([+-]?\d+(?:\.\d+)?)\s*%?\s*$")


def parse_shock(snapshot: AccountSnapshot, text: str) -> tuple[str, float]:
    m = _SHOCK.match(text)
    if not m:
        raise UserError(f"--shock {text!r}: expected SYMBOL=PCT, like BTC=-10%")
    move = float(m.group(2)) / 100
    if move <= -1:
        raise UserError(f"--shock {text!r}: a price cannot fall 100% or more")
    return resolve_symbol(snapshot, m.group(1)), move


def analyze(args: argparse.Namespace) -> int:
    from guardbot.risk.account import measure_account
    from guardbot.risk.exposure import exposure_report
    from guardbot.risk.stress import shock, stress_report
    from guardbot.snapshot_file import load_snapshot

    settings = _settings(args)
    snapshot = load_snapshot(args.snapshot)
    shocks = [parse_shock(snapshot, s) for s in args.shock]
    figures = measure_account(snapshot)
    corr = snapshot_correlation(snapshot, settings)
    exposure = exposure_report(snapshot, corr, settings.risk.sectors, equity=figures.equity)
    benchmark = settings.risk.benchmark
    betas = dict(exposure.betas)
    stress = stress_report(snapshot, benchmark, betas)
    shocked = None
    if shocks:
        moves = dict(shocks)
        if benchmark in moves:  # the benchmark drags every symbol not given explicitly by its beta
            for sym in snapshot.symbols():
                moves.setdefault(sym, betas.get(sym, 1.0) * moves[benchmark])
        shocked = shock(snapshot, moves)

    if args.json:
        out: dict[str, Any] = account_json(figures)
        out["exposure"] = exposure.to_dict()
        out["correlation"] = corr.to_dict() if corr else None
        out["stress"] = stress.to_dict()
        out["shock"] = shocked.to_dict() if shocked else None
        print(dumps(out))
        return 0

    from guardbot.render import exposure_tables, stress_tables

    c = console()
    ccy = snapshot.settle_currency
    c.print(account_table(figures, ccy))
    c.print(positions_table(figures))
    for table in exposure_tables(exposure, corr):
        c.print(table)
    for table in stress_tables(stress, shocked, ccy):
        c.print(table)
    return 0


def size(args: argparse.Namespace) -> int:
    from guardbot.snapshot_file import load_snapshot

    settings = _settings(args)
    snapshot = load_snapshot(args.snapshot)
    trade = TradeRequest(
        symbol=args.symbol,
        side=Side(args.side),
        stop=args.stop,
        entry=args.entry,
        risk_amount=args.risk.amount if args.risk else None,
        risk_pct=args.risk.pct if args.risk else args.risk_pct,
        leverage=args.leverage,
    )
    result = size_from_snapshot(snapshot, settings, trade)
    if args.json:
        print(dumps(sizing_json(result)))
    else:
        c = console()
        c.print(sizing_table(result, snapshot.settle_currency))
        for w in result.warnings:
            c.print(f"[yellow]warning:[/] {w}")
    return 0


def config_check(args: argparse.Namespace) -> int:
    """The effective configuration on stdout; every problem on stderr, one line each (exit 2):
    a missing secret variable is a problem, not an "OK"."""
    from guardbot.config import ConfigError, effective_config, render_effective_config
    from guardbot.preflight import secret_problems

    settings = _settings(args)
    if args.json:
        print(dumps(effective_config(settings)))
    else:
        print(render_effective_config(settings))
    problems = secret_problems(settings)
    notes: list[str] = []
    if args.online and not problems:
        online_problems, notes = asyncio.run(_read_accounts(settings))
        problems += online_problems
    if problems:
        raise ConfigError(problems)
    for note in notes:
        print(f"# {note}", file=sys.stderr)
    where = settings.source or "defaults (no config file found)"
    checked = ", each account read once" if args.online and settings.accounts else ""
    print(f"# OK: {where}, {len(settings.accounts)} account(s), secrets present{checked}", file=sys.stderr)
    return 0


async def _read_accounts(settings: Settings) -> tuple[list[str], list[str]]:
    """`config check --online`: connect to each account and read it once, concurrently."""
    from guardbot.exchange.session import open_account
    from guardbot.preflight import read_once

    async def one(name: str) -> tuple[list[str], list[str]]:
        async with open_account(name, settings, rate_limit=False) as session:  # one read, no throttle
            check = await read_once(session)
        if check.unreachable:
            return [f"{name}: cannot read the account: {check.unreachable}"], []
        snap = check.snapshot
        seen = (
            f"{name}: read: {len(snap.positions)} position(s), wallet {snap.wallet_balance:,.2f}"
            if snap
            else ""
        )
        notes = [seen] if seen and not check.problems else []
        return list(check.problems), notes + [f"{name}: warning: {w}" for w in check.warnings]

    results = await asyncio.gather(*(one(a.name) for a in settings.accounts))
    return [p for r in results for p in r[0]], [n for r in results for n in r[1]]


def snapshot(args: argparse.Namespace) -> int:
    from guardbot.exchange import fetch_snapshot_for
    from guardbot.snapshot_file import snapshot_to_dict

    out = output_file(args.out, "--out") if args.out else None  # before any exchange call
    settings = _settings(args)
    account = settings.account(args.account)
    snap = asyncio.run(fetch_snapshot_for(account.name, settings))
    text = dumps(snapshot_to_dict(snap))
    if out is not None:
        try:
            out.write_text(text + "\n", encoding="utf-8")
        except OSError as err:
            raise UserError(f"--out {args.out}: cannot write: {err.strerror or err}") from None
        print(
            f"wrote {args.out}: {len(snap.positions)} position(s), wallet {snap.wallet_balance:,.2f}",
            file=sys.stderr,
        )
    else:
        print(text)
    return 0


def guard_it_lines(
    base_url: str, api_key: str, secret: str, speed: float, exchange: str = "binanceusdm"
) -> list[str]:
    """What to paste to guard the emulator's account with `guardbot run`, at the emulator's pace.
    On the wallet-signed venues (Aster, Hyperliquid) the key is a wallet address and its private key."""
    interval = round(10.0 / speed, 3)
    pace = (
        ""
        if speed == 1
        else f"   # {speed:g}x: the guard still sees the market every 10 simulated seconds, as live"
    )
    if exchange in ("aster", "hyperliquid"):
        secrets = f"export SIM_PRIVATE_KEY={secret}"
        keys = f'private_key_env = "SIM_PRIVATE_KEY"\nwallet_address = "{api_key}"'
    else:
        secrets = f"export SIM_API_KEY={api_key} SIM_API_SECRET={secret}"
        keys = 'api_key_env = "SIM_API_KEY"\napi_secret_env = "SIM_API_SECRET"'
    return [
        "guard it with guardbot: paste these lines into another terminal",
        secrets,
        "cat > sim.toml <<'EOF'",
        f'[[accounts]]\nname = "sim"\nexchange = "{exchange}"',
        f'base_url = "{base_url}"\ndry_run = false',
        keys,
        f"[schedule]\ninterval_s = {interval:g}{pace}",
        "EOF",
        "guardbot run --config sim.toml",
        "",
    ]


def sim(args: argparse.Namespace) -> int:
    from guardbot.sim.runner import serve

    seen: dict[str, str] = {}

    def out(line: str) -> None:
        # serve() prints the account's key and secret, then the ccxt recipe: put the guardbot
        # recipe (with that key, and an interval matched to the speed) in front of ccxt's
        # Binance and Bybit print an API key and secret; Aster and Hyperliquid a wallet and its key
        for label, key in (("api key:", "key"), ("secret:", "secret"), ("wallet address:", "key")):
            if line.startswith(label):
                seen[key] = line.removeprefix(label).strip()
        if line.startswith("private key:"):
            seen["secret"] = line.removeprefix("private key:").strip()
        if line.startswith("guardbot sim:"):
            seen["url"] = line.split(" at ", 1)[1].split()[0] if " at " in line else ""
        if line.startswith("connect with ccxt:") and len(seen) == 3:
            recipe = guard_it_lines(seen["url"], seen["key"], seen["secret"], args.speed, args.exchange)
            print("\n".join(recipe))
        print(line, flush=True)

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args.scenario, args.port, args.speed, out, exchange=args.exchange))
    except ValueError as err:  # ScenarioError: a bad scenario file or speed, one line
        raise UserError(str(err)) from None
    except (OSError, OverflowError) as err:
        why = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise UserError(f"cannot listen on 127.0.0.1:{args.port}: {why}") from None
    return 0


def run(args: argparse.Namespace) -> int:
    from guardbot.daemon import dry_run_everywhere
    from guardbot.daemon import run as run_daemon
    from guardbot.logs import setup_logging

    settings = _settings(args)
    if args.dry_run:
        settings = dry_run_everywhere(settings)
    setup_logging(args.log_format)
    return asyncio.run(run_daemon(settings))


def pause(args: argparse.Namespace) -> int:
    from guardbot import commands_control

    return commands_control.pause(args, _settings(args))


def resume(args: argparse.Namespace) -> int:
    from guardbot import commands_control

    return commands_control.resume(args, _settings(args))


def flatten(args: argparse.Namespace) -> int:
    from guardbot import commands_control

    return commands_control.flatten(args, _settings(args))


def status(args: argparse.Namespace) -> int:
    from guardbot import commands_journal

    return commands_journal.status(args, _settings(args))


def history(args: argparse.Namespace) -> int:
    from guardbot import commands_journal

    return commands_journal.history(args, _settings(args))


class _LiveConsole:
    """Event lines as they come, plus a status line that keeps moving: rewritten in place on a
    terminal, printed at most every few seconds otherwise (a log still shows progress)."""

    EVERY_S = 5.0

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        self.last = 0.0
        self.pending = False

    def out(self, line: str) -> None:
        import time

        prefix = "\r\x1b[2K" if self.tty and self.pending else ""
        print(prefix + line, flush=True)
        self.pending, self.last = False, time.monotonic()

    def status(self, line: str) -> None:
        import shutil
        import time

        if self.tty:  # cut to the terminal's width: a wrapped line could not be rewritten in place
            width = shutil.get_terminal_size((100, 20)).columns - 1
            print("\r\x1b[2K" + line[:width], end="", flush=True)
            self.pending = True
        elif time.monotonic() - self.last >= self.EVERY_S:
            self.out(line)

    def done(self) -> None:
        if self.pending:
            print("\r\x1b[2K", end="", flush=True)
            self.pending = False


def guardbot_command() -> str:
    """How to run this same guardbot again from the user's shell, as typed: `guardbot` when that is
    on PATH, else the path this one was started by (`.venv/bin/guardbot` after `make demo`)."""
    import os
    import shlex
    import shutil

    here = Path(sys.argv[0])
    if here.name != "guardbot":  # python -m guardbot.cli
        return f"{shlex.quote(sys.executable)} -m guardbot.cli"
    found = shutil.which("guardbot")
    if found and Path(found).resolve() == here.resolve():
        return "guardbot"
    shown = str(here) if here.is_absolute() or os.sep in str(here) else str(here.resolve())
    return shlex.quote(shown)


def demo(args: argparse.Namespace) -> int:
    import shlex

    from guardbot.demo import run_demo
    from guardbot.render import demo_table

    out = output_dir(args.out, "--out")  # before the emulator starts
    live = _LiveConsole()
    try:
        result = asyncio.run(
            run_demo(out, fast=args.fast, out=live.out, status=live.status, exchange=args.exchange)
        )
    finally:
        live.done()
    c = console()
    c.print()
    c.print(demo_table(result))
    c.print(f"journal: {result.journal}   chart: {result.chart or 'not written (matplotlib missing)'}")
    journal = shlex.quote(str(result.journal))
    c.print(
        f"what it did and why: GUARDBOT_STORAGE__PATH={journal} {guardbot_command()} history --since 30d",
        markup=False,
    )
    return 0


def open_trade(args: argparse.Namespace) -> int:
    """`guardbot open`: the one entry path from the command line (guardbot/intents/cli_parsers.py)."""
    from guardbot.intents import cli_parsers

    return cli_parsers.run(args)


def strategies(args: argparse.Namespace) -> int:
    """`guardbot strategies [pause|resume NAME]`."""
    from guardbot.intents import cli_parsers

    return cli_parsers.run_strategies(args)
