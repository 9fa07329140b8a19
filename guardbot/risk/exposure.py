"""Exposure of a book: correlated clusters, beta-weighted net, sectors, volatility and VaR.

All notionals are at mark, in the settle currency; "signed" means long positive, short negative.

- Cluster exposure: sum of sign x signed notional over the cluster's held symbols, where sign is the
  member's direction relative to the cluster anchor (see `correlation.Cluster`). With only positive
  correlations this is the plain signed sum; positive means "long the cluster".
- Beta-weighted net exposure: sum of signed notional x beta to the benchmark ("BTC-equivalent").
- Portfolio volatility: sqrt(w' C w) with w the signed notionals and C the per-bar covariance of log
  returns, scaled to one day by sqrt(bars per day). Parametric VaR = z x one-day volatility (normal,
  zero mean) at 95 % and 99 %. A position without closes is mapped onto the benchmark (beta 1.0).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from guardbot.domain import AccountSnapshot, base_asset
from guardbot.risk.correlation import CorrelationReport

VAR_CONFIDENCES = (0.95, 0.99)
Z95 = NormalDist().inv_cdf(0.95)
Z99 = NormalDist().inv_cdf(0.99)


def _pct(value: float, equity: float) -> float | None:
    return value / equity * 100.0 if equity > 0 else None


@dataclass(frozen=True, slots=True)
class ClusterExposure:
    symbols: tuple[str, ...]  # every member of the cluster
    signs: tuple[int, ...]
    held: tuple[str, ...]  # members with a position
    signed_notional: float  # oriented: positive = long the cluster's anchor direction
    gross_notional: float
    pct_of_equity: float | None  # signed_notional / equity x 100

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbols": list(self.symbols),
            "signs": list(self.signs),
            "held": list(self.held),
            "signed_notional": self.signed_notional,
            "gross_notional": self.gross_notional,
            "pct_of_equity": self.pct_of_equity,
        }


@dataclass(frozen=True, slots=True)
class SectorExposure:
    sector: str
    held: tuple[str, ...]
    gross_notional: float
    net_notional: float
    gross_pct_of_equity: float | None
    net_pct_of_equity: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "sector": self.sector,
            "held": list(self.held),
            "gross_notional": self.gross_notional,
            "net_notional": self.net_notional,
            "gross_pct_of_equity": self.gross_pct_of_equity,
            "net_pct_of_equity": self.net_pct_of_equity,
        }


@dataclass(frozen=True, slots=True)
class ExposureReport:
    equity: float
    gross_notional: float
    net_notional: float
    benchmark: str | None
    betas: Mapping[str, float]  # per held symbol, as used
    beta_weighted_net: float
    beta_weighted_net_pct: float | None
    clusters: tuple[ClusterExposure, ...]
    sectors: tuple[SectorExposure, ...]
    unassigned: tuple[str, ...]  # held symbols in no sector (empty when no sector map was given)
    portfolio_vol_1d: float | None  # currency, one standard deviation over one day
    var95_1d: float | None  # currency, loss not exceeded on 95 % of days (parametric normal)
    var99_1d: float | None
    stressed_var99_1d: float | None  # 99 % with the stressed (worst-decile) correlations
    notes: tuple[str, ...]

    def cluster_of(self, symbol: str) -> ClusterExposure | None:
        for c in self.clusters:
            if symbol in c.symbols:
                return c
        return None

    def sector(self, name: str) -> SectorExposure:
        for s in self.sectors:
            if s.sector == name:
                return s
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "equity": self.equity,
            "gross_notional": self.gross_notional,
            "net_notional": self.net_notional,
            "benchmark": self.benchmark,
            "betas": dict(self.betas),
            "beta_weighted_net": self.beta_weighted_net,
            "beta_weighted_net_pct": self.beta_weighted_net_pct,
            "clusters": [c.to_dict() for c in self.clusters],
            "sectors": [s.to_dict() for s in self.sectors],
            "unassigned": list(self.unassigned),
            "portfolio_vol_1d": self.portfolio_vol_1d,
            "var_horizon": "1d",
            "var_method": "parametric normal, zero mean",
            "var95_1d": self.var95_1d,
            "var99_1d": self.var99_1d,
            "stressed_var99_1d": self.stressed_var99_1d,
            "notes": list(self.notes),
        }


def in_sector(symbol: str, names: Collection[str]) -> bool:
    # "SOL" in a sector map matches "SOL/USDT:USDT": users write base assets, snapshots carry symbols.
    return symbol in names or base_asset(symbol) in names


def exposure_report(
    snapshot: AccountSnapshot,
    corr: CorrelationReport | None,
    sectors: Mapping[str, Sequence[str]] | None = None,
    equity: float | None = None,
) -> ExposureReport:
    """Exposure figures of `snapshot`'s positions; `equity` defaults to wallet + unrealized PnL."""
    if equity is None:
        equity = snapshot.wallet_balance + sum(p.unrealized_pnl for p in snapshot.positions)
    notes: list[str] = []
    if equity <= 0:
        notes.append(f"equity {equity:.2f} is not positive: percentages are not given")

    signed: dict[str, float] = {}
    gross: dict[str, float] = {}
    for p in snapshot.positions:
        signed[p.symbol] = signed.get(p.symbol, 0.0) + p.signed_notional
        gross[p.symbol] = gross.get(p.symbol, 0.0) + p.notional
    held = tuple(signed)

    known = set(corr.symbols) if corr is not None else set()
    no_beta = [s for s in held if corr is None or s not in corr.betas]
    if corr is None:
        notes.append("no correlation report: betas are 1.0, no clusters, no volatility or VaR")
    elif corr.benchmark not in known:
        notes.append(f"benchmark {corr.benchmark} has no closes: betas default to 1.0")
    elif no_beta:
        notes.append(f"no closes, following the benchmark with beta 1.0: {', '.join(no_beta)}")
    betas = {s: (corr.beta(s) if corr is not None else 1.0) for s in held}
    beta_net = math.fsum(signed[s] * betas[s] for s in held)

    clusters: list[ClusterExposure] = []
    if corr is not None:
        for c in corr.clusters:
            members = [s for s in c.symbols if s in signed]
            if not members:
                continue
            value = math.fsum(c.sign_of(s) * signed[s] for s in members)
            clusters.append(
                ClusterExposure(
                    symbols=c.symbols,
                    signs=c.signs,
                    held=tuple(members),
                    signed_notional=value,
                    gross_notional=math.fsum(gross[s] for s in members),
                    pct_of_equity=_pct(value, equity),
                )
            )

    sector_rows: list[SectorExposure] = []
    assigned: set[str] = set()
    for name, symbols in (sectors or {}).items():
        names = set(symbols)
        members = [s for s in held if in_sector(s, names)]
        assigned.update(members)
        g = math.fsum(gross[s] for s in members)
        n = math.fsum(signed[s] for s in members)
        sector_rows.append(SectorExposure(name, tuple(members), g, n, _pct(g, equity), _pct(n, equity)))
    unassigned = tuple(s for s in held if s not in assigned) if sectors else ()

    vol_1d = var95 = var99 = stressed99 = None
    if corr is not None and held:
        w = np.zeros(len(corr.symbols), dtype=np.float64)
        proxied: list[str] = []
        dropped: list[str] = []
        for s in held:
            if s in known:
                w[corr.index(s)] += signed[s]
            elif corr.benchmark in known:
                w[corr.index(corr.benchmark)] += signed[s]
                proxied.append(s)
            else:
                dropped.append(s)
        if proxied:
            notes.append(f"volatility of {', '.join(proxied)} taken as the benchmark's (no closes)")
        if dropped:
            notes.append(f"VaR leaves out {', '.join(dropped)}: no closes and no benchmark closes")
        if len(dropped) < len(held):
            scale = math.sqrt(corr.bars_per_day)
            vol_1d = math.sqrt(max(0.0, float(w @ corr.covariance() @ w))) * scale
            var95, var99 = Z95 * vol_1d, Z99 * vol_1d
            if corr.stressed_matrix is not None:
                stressed_vol = math.sqrt(max(0.0, float(w @ corr.covariance(stressed=True) @ w))) * scale
                stressed99 = Z99 * stressed_vol

    gross_total = math.fsum(gross.values())
    return ExposureReport(
        equity=equity,
        gross_notional=gross_total,
        net_notional=math.fsum(signed.values()),
        benchmark=corr.benchmark if corr is not None else None,
        betas=betas,
        beta_weighted_net=beta_net,
        beta_weighted_net_pct=_pct(beta_net, equity),
        clusters=tuple(clusters),
        sectors=tuple(sector_rows),
        unassigned=unassigned,
        portfolio_vol_1d=vol_1d,
        var95_1d=var95,
        var99_1d=var99,
        stressed_var99_1d=stressed99,
        notes=tuple(notes),
    )
