"""What each `guardbot` subcommand does. Parsing lives in cli.py; math in risk/; output in render.py."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guardbot.domain import AccountSnapshot, Side
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
    from guardbot.risk.correlation import CorrelationReport
    from guardbot.risk.sizing import SizingLimits

EXAMPLES = Path(__file__).parent / "examples"


def one_line_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that carry a message meant for the user (printed without a traceback)."""
    from guardbot.cli import UserError
    from guardbot.config import ConfigError
    from guardbot.risk.margin import MissingTiersError
    from guardbot.risk.sizing import SizingError
    from guardbot.snapshot_file import SnapshotFileError

    return (UserError, ConfigError, SnapshotFileError, SizingError, MissingTiersError)


def _settings(args: argparse.Namespace) -> Settings:
    from guardbot.config import load_settings

    return load_settings(getattr(args, "config", None))


def resolve_symbol(snapshot: AccountSnapshot, text: str) -> str:
    """Accept the full ccxt symbol or just its base asset ("SOL" -> "SOL/USDT:USDT")."""
    known = list(dict.fromkeys([*snapshot.tiers, *snapshot.mark_prices, *snapshot.symbols()]))
    if text in known:
        return text
    matches = [s for s in known if s.split("/", 1)[0].upper() == text.upper()]
    if len(matches) == 1:
        return matches[0]
    from guardbot.cli import UserError

    if len(matches) > 1:
        raise UserError(f"symbol {text!r} is ambiguous: {', '.join(matches)}")
    raise UserError(f"unknown symbol {text!r}: the snapshot knows {', '.join(known) or 'no symbols'}")


_SHOCK = re.compile(r"^\s*([^=\s]+)\s*=\s*([+-]?\d+(?:\.\d+)?)\s*%?\s*$")


def parse_shock(snapshot: AccountSnapshot, text: str) -> tuple[str, float]:
    from guardbot.cli import UserError

    m = _SHOCK.match(text)
    if not m:
        raise UserError(f"--shock {text!r}: expected SYMBOL=PCT, like BTC=-10%")
    move = float(m.group(2)) / 100
    if move <= -1:
        raise UserError(f"--shock {text!r}: a price cannot fall 100% or more")
    return resolve_symbol(snapshot, m.group(1)), move


def _correlation(snapshot: AccountSnapshot, settings: Settings) -> CorrelationReport | None:
    from guardbot.risk.correlation import correlation_report

    if not snapshot.closes:
        return None
    return correlation_report(
        snapshot.closes,
        benchmark=settings.risk.benchmark,
        threshold=settings.risk.cluster_threshold,
        timeframe=snapshot.closes_timeframe or settings.risk.correlation_timeframe,
        lookback=settings.risk.correlation_lookback,
    )


def analyze(args: argparse.Namespace) -> int:
    from guardbot.risk.account import measure_account
    from guardbot.risk.exposure import exposure_report
    from guardbot.risk.stress import shock, stress_report
    from guardbot.snapshot_file import load_snapshot

    settings = _settings(args)
    snapshot = load_snapshot(args.snapshot)
    shocks = [parse_shock(snapshot, s) for s in args.shock]
    figures = measure_account(snapshot)
    corr = _correlation(snapshot, settings)
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
    from guardbot.risk.sizing import SizingRequest, size_trade
    from guardbot.snapshot_file import load_snapshot

    settings = _settings(args)
    snapshot = load_snapshot(args.snapshot)
    symbol = resolve_symbol(snapshot, args.symbol)
    risk_amount, risk_pct = args.risk, args.risk_pct
    if risk_amount is None and risk_pct is None:  # fall back to the configured default
        risk_amount, risk_pct = settings.risk.risk_per_trade, settings.risk.risk_per_trade_pct
    req = SizingRequest(
        symbol=symbol,
        side=Side(args.side),
        stop=args.stop,
        entry=args.entry,
        risk_amount=risk_amount,
        risk_pct=risk_pct,
        leverage=args.leverage,
    )
    corr = _correlation(snapshot, settings)
    cluster = corr.cluster_of(symbol) if corr else None
    result = size_trade(snapshot, req, sizing_limits(settings), cluster=cluster)
    if args.json:
        print(dumps(sizing_json(result)))
    else:
        c = console()
        c.print(sizing_table(result, snapshot.settle_currency))
        for w in result.warnings:
            c.print(f"[yellow]warning:[/] {w}")
    return 0


def sizing_limits(settings: Settings) -> SizingLimits:
    from guardbot.risk.sizing import SizingLimits

    r = settings.risk
    return SizingLimits(
        max_leverage=r.max_leverage,
        default_leverage=r.default_leverage,
        max_position_pct=r.max_position_pct,
        taker_fee=r.taker_fee,
        slippage_pct=r.slippage_pct,
        stop_buffer_pct=settings.guard.stop_buffer_pct,
        max_cluster_pct=r.max_cluster_pct,
        sectors=r.sectors,
        sector_caps=r.sector_caps,
    )


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
    from guardbot.cli import UserError

    raise UserError("guardbot snapshot arrives with the exchange layer (issue 3)")


def sim(args: argparse.Namespace) -> int:
    from guardbot.cli import UserError

    raise UserError("guardbot sim arrives with the exchange emulator (issue 3)")


def demo(args: argparse.Namespace) -> int:
    # Until the daemon lands, the demo analyses the bundled over-leveraged book.
    ns = argparse.Namespace(
        snapshot=str(EXAMPLES / "alt-book.json"), shock=["BTC=-10%"], json=False, config=None
    )
    return analyze(ns)
