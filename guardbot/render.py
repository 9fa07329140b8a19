"""Human tables (rich) and stable JSON shapes for CLI output."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from guardbot.domain import base_asset
from guardbot.risk.account import AccountFigures
from guardbot.risk.correlation import CorrelationReport
from guardbot.risk.exposure import ExposureReport
from guardbot.risk.sizing import SizingResult
from guardbot.risk.stress import StressReport, StressResult

if TYPE_CHECKING:
    from guardbot.demo import DemoResult


def finite(x: float | None) -> float | None:
    """JSON has no infinity: a margin ratio of inf (equity <= 0) becomes null."""
    return x if x is None or math.isfinite(x) else None


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, allow_nan=False, default=str)


def account_json(f: AccountFigures) -> dict[str, Any]:
    return {
        "equity": f.equity,
        "wallet_balance": f.wallet_balance,
        "unrealized_pnl": f.unrealized_pnl,
        "initial_margin": f.initial_margin,
        "maintenance_margin": f.maintenance_margin,
        "margin_ratio": finite(f.margin_ratio),
        "available_margin": f.available_margin,
        "gross_notional": f.gross_notional,
        "net_notional": f.net_notional,
        "effective_leverage": finite(f.effective_leverage),
        "positions": [
            {
                "symbol": p.symbol,
                "side": p.position.side.value,
                "contracts": p.position.contracts,
                "entry_price": p.position.entry_price,
                "mark_price": p.position.mark_price,
                "notional": p.notional,
                "unrealized_pnl": p.unrealized_pnl,
                "maintenance_margin": p.maintenance_margin,
                "liquidation_price": p.liquidation_price,
                "liquidation_distance_pct": p.liquidation_distance_pct,
                "exchange_liquidation_price": p.position.exchange_liquidation_price,
            }
            for p in f.positions
        ],
    }


def sizing_json(r: SizingResult) -> dict[str, Any]:
    return {
        "symbol": r.symbol,
        "side": r.side.value,
        "entry": r.entry,
        "stop": r.stop,
        "leverage": r.leverage,
        "risk_budget": r.risk_budget,
        "quantity": r.quantity,
        "closes_opposite": r.closes_opposite,
        "opens": r.opens,
        "notional": r.notional,
        "risk_at_stop": r.risk_at_stop,
        "initial_margin": r.initial_margin,
        "binding_constraint": r.binding_constraint,
        "caps": {k: v for k, v in r.caps.items()},
        "projected": {
            "margin_ratio": finite(r.projected.margin_ratio),
            "effective_leverage": finite(r.projected.effective_leverage),
            "liquidation_price": r.projected.liquidation_price,
            "liquidation_distance_pct": r.projected.liquidation_distance_pct,
        },
        "warnings": list(r.warnings),
    }


def money(x: float | None, ccy: str = "") -> str:
    if x is None:
        return "-"
    return f"{x:,.2f}{' ' + ccy if ccy else ''}"


def price(x: float | None) -> str:
    if x is None:
        return "-"
    if x == 0:
        return "0"
    digits = max(2, 6 - math.floor(math.log10(abs(x))) - 1)
    return f"{x:,.{min(digits, 8)}f}"


def pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.{digits}f}%"


def ratio_mark(mr: float) -> str:
    """Margin ratio with a traffic-light colour (1.0 = liquidation)."""
    if not math.isfinite(mr):
        return "[bold red]∞ (equity ≤ 0)[/]"
    colour = "green" if mr < 0.5 else "yellow" if mr < 0.7 else "red"
    return f"[{colour}]{mr:.2%}[/]"


def account_table(f: AccountFigures, ccy: str) -> Table:
    t = Table(title="Account", show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column(justify="right")
    for label, value in [
        ("Equity", money(f.equity, ccy)),
        ("Wallet balance", money(f.wallet_balance, ccy)),
        ("Unrealized PnL", money(f.unrealized_pnl, ccy)),
        ("Initial margin", money(f.initial_margin, ccy)),
        ("Maintenance margin", money(f.maintenance_margin, ccy)),
        ("Margin ratio", ratio_mark(f.margin_ratio)),
        ("Available margin", money(f.available_margin, ccy)),
        ("Gross / net notional", f"{money(f.gross_notional)} / {money(f.net_notional)}"),
        (
            "Effective leverage",
            f"{f.effective_leverage:.2f}x" if math.isfinite(f.effective_leverage) else "∞",
        ),
    ]:
        t.add_row(label, value)
    return t


def positions_table(f: AccountFigures) -> Table:
    t = Table(title="Positions (liquidation: this symbol moves, the rest of the book held at mark)")
    for col in (
        "Symbol",
        "Side",
        "Size",
        "Entry",
        "Mark",
        "Notional",
        "PnL",
        "Maint.",
        "Liq. price",
        "Distance",
    ):
        t.add_column(col, justify="left" if col in ("Symbol", "Side") else "right")
    for p in f.positions:
        pos = p.position
        dist = p.liquidation_distance_pct
        dist_txt = pct(dist) if dist is None or dist >= 15 else f"[red]{pct(dist)}[/]"
        t.add_row(
            pos.symbol,
            pos.side.value,
            f"{pos.contracts:g}",
            price(pos.entry_price),
            price(pos.mark_price),
            money(p.notional),
            money(p.unrealized_pnl),
            money(p.maintenance_margin),
            price(p.liquidation_price) if p.liquidation_price is not None else "none",
            dist_txt,
        )
    return t


def sizing_table(r: SizingResult, ccy: str) -> Table:
    t = Table(title=f"Size {r.side.value} {r.symbol}", show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column(justify="right")
    quantity = f"{r.quantity:g}"
    if r.closes_opposite:
        quantity += f" (closes {r.closes_opposite:g}, opens {r.opens:g})"
    rows = [
        ("Quantity", quantity),
        ("Notional", money(r.notional, ccy)),
        ("Entry / stop", f"{price(r.entry)} / {price(r.stop)}"),
        ("Loss at stop (fees incl.)", f"{money(r.risk_at_stop, ccy)} of {money(r.risk_budget, ccy)} budget"),
        ("Leverage / initial margin", f"{r.leverage:g}x / {money(r.initial_margin, ccy)}"),
        ("Binding constraint", r.binding_constraint),
        ("Margin ratio after", ratio_mark(r.projected.margin_ratio)),
        ("Effective leverage after", f"{r.projected.effective_leverage:.2f}x"),
        (
            "Liquidation after",
            f"{price(r.projected.liquidation_price)} ({pct(r.projected.liquidation_distance_pct)} away)"
            if r.projected.liquidation_price is not None
            else "none",
        ),
    ]
    for label, value in rows:
        t.add_row(label, value)
    return t


def kv_table(title: str, rows: Mapping[str, str]) -> Table:
    t = Table(title=title, show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column(justify="right")
    for k, v in rows.items():
        t.add_row(k, v)
    return t


def console() -> Console:
    return Console(highlight=False, soft_wrap=False, width=140)


def exposure_tables(e: ExposureReport, corr: CorrelationReport | None) -> list[Table]:
    rows = {
        "Beta-weighted net": f"{money(e.beta_weighted_net)} ({pct(e.beta_weighted_net_pct)} of equity)",
        "1-day volatility": money(e.portfolio_vol_1d),
        "1-day VaR 95% / 99%": f"{money(e.var95_1d)} / {money(e.var99_1d)}",
        "1-day VaR 99%, crash correlations": money(e.stressed_var99_1d),
    }
    tables = [kv_table("Exposure", rows)]
    if e.clusters:
        t = Table(
            title=f"Correlated clusters (|corr| > {corr.threshold:g})" if corr else "Correlated clusters"
        )
        for col in ("Members", "Held", "Signed notional", "% of equity"):
            t.add_column(col, justify="left" if col in ("Members", "Held") else "right")
        for c in e.clusters:
            t.add_row(
                ", ".join(short(s) for s in c.symbols),
                ", ".join(short(s) for s in c.held),
                money(c.signed_notional),
                pct(c.pct_of_equity),
            )
        tables.append(t)
    if e.sectors:
        t = Table(title="Sectors")
        for col in ("Sector", "Held", "Gross", "Net", "Gross % equity"):
            t.add_column(col, justify="left" if col in ("Sector", "Held") else "right")
        for s in e.sectors:
            t.add_row(
                s.sector,
                ", ".join(short(x) for x in s.held),
                money(s.gross_notional),
                money(s.net_notional),
                pct(s.gross_pct_of_equity),
            )
        tables.append(t)
    return tables


def stress_tables(report: StressReport, shocked: StressResult | None, ccy: str) -> list[Table]:
    t = Table(title=f"Stress: {short(report.benchmark)} moves, others follow their beta")
    for col in ("Move", "Equity", "Change", "Margin ratio", "Liquidated"):
        t.add_column(col, justify="right")
    for r in report.rows:
        t.add_row(
            pct((r.benchmark_move or 0) * 100),
            money(r.equity, ccy),
            money(r.equity_change),
            ratio_mark(r.margin_ratio),
            _liquidated(r),
        )
    tables = [t]
    if shocked is not None:
        moves = ", ".join(f"{short(s)} {m * 100:+.1f}%" for s, m in shocked.moves.items())
        tables.append(
            kv_table(
                f"Shock: {moves}",
                {
                    "Equity": f"{money(shocked.equity, ccy)} ({money(shocked.equity_change)})",
                    "Margin ratio": ratio_mark(shocked.margin_ratio),
                    "Liquidated": _liquidated(shocked),
                },
            )
        )
    tables.append(kv_table("Verdict", {f"{i + 1}": line for i, line in enumerate(report.summary())}))
    return tables


def _liquidated(r: StressResult) -> str:
    if not r.liquidated_positions:
        return "no"
    names = ", ".join(f"{short(p.symbol)} {p.side}" for p in r.liquidated_positions)
    return f"[bold red]{'ACCOUNT' if r.liquidated else 'yes'}[/] ({names})"


short = base_asset


def demo_table(result: DemoResult) -> Table:
    g, u = result.guarded, result.unguarded
    t = Table(title=f"guardbot demo: {result.sim_seconds / 60:.0f} simulated minutes of the crash scenario")
    t.add_column("")
    t.add_column("guarded by guardbot", justify="right")
    t.add_column("unguarded", justify="right")
    t.add_row("Final equity", money(g.final_equity, "USDT"), money(u.final_equity, "USDT"))
    t.add_row("Max drawdown", pct(g.max_drawdown_pct), pct(u.max_drawdown_pct))

    def liquidated(r: Any) -> str:
        if not r.liquidated:
            return "[green]no[/]"
        t = int(r.liquidated_at_s) if r.liquidated_at_s is not None else None
        return "[red]yes[/]" + (f" [red]at +{t // 60:02d}:{t % 60:02d}[/]" if t is not None else "")

    t.add_row("Liquidated", liquidated(g), liquidated(u))
    t.add_row("guardbot actions", str(g.actions), "-")
    return t
