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
    from guardbot.config import effective_config, render_effective_config

    settings = _settings(args)
    if args.json:
        print(dumps(effective_config(settings)))
    else:
        print(render_effective_config(settings))
        where = settings.source or "defaults (no config file found)"
        print(f"# OK: {where}, {len(settings.accounts)} account(s)", file=sys.stderr)
    return 0


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


def sim(args: argparse.Namespace) -> int:
    from guardbot.sim.runner import serve

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args.scenario, args.port, args.speed, print))
    except ValueError as err:  # ScenarioError: a bad scenario file or speed, one line
        raise UserError(str(err)) from None
    except (OSError, OverflowError) as err:
        why = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise UserError(f"cannot listen on 127.0.0.1:{args.port}: {why}") from None
    return 0


def run(args: argparse.Namespace) -> int:
    from guardbot.daemon import run as run_daemon
    from guardbot.daemon import setup_logging

    settings = _settings(args)
    setup_logging(args.log_format)
    return asyncio.run(run_daemon(settings))


def status(args: argparse.Namespace) -> int:
    from guardbot.operator.journal import account_status
    from guardbot.render import status_table

    rows = account_status(_settings(args))
    if args.json:
        print(dumps(rows))
        return 0
    if not rows:
        print("the journal has no snapshot yet")
        return 0
    console().print(status_table(rows))
    return 0


def history(args: argparse.Namespace) -> int:
    import time

    from guardbot.operator.journal import account_history, parse_since
    from guardbot.render import history_csv

    try:
        since = parse_since(args.since)
    except ValueError as err:
        raise UserError(str(err)) from None
    rows = account_history(_settings(args), since, int(time.time() * 1000), args.account)
    if args.csv:
        sys.stdout.write(history_csv(rows))
    elif args.json:
        print(dumps(rows))
    else:
        for r in rows:
            print(f"{r['time']}  {r['account'] or '-':<12} {r['text']}")
        if not rows:
            print(f"nothing in the last {args.since}")
    return 0


def demo(args: argparse.Namespace) -> int:
    from guardbot.demo import run_demo
    from guardbot.render import demo_table

    out = output_dir(args.out, "--out")  # before the emulator starts
    result = asyncio.run(run_demo(out, fast=args.fast))
    c = console()
    c.print()
    c.print(demo_table(result))
    c.print(f"journal: {result.journal}   chart: {result.chart or 'not written (matplotlib missing)'}")
    c.print(f"why it acted: GUARDBOT_STORAGE__PATH={result.journal} guardbot history --since 30d")
    return 0
