"""Reading the running guards: what the daemon sees of each account right now.

Telegram's /status, /positions, /risk, /size and /stops run these against the daemon (any object
with the `GuardHost` attributes). Each returns plain data; the front end renders it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from guardbot.config import Settings
from guardbot.cycle import AccountGuard, positions_rows
from guardbot.domain import AccountSnapshot
from guardbot.errors import NotReady
from guardbot.exchange.gateway import ActionResult
from guardbot.guard.state import GuardState
from guardbot.operator.sizing import TradeRequest, correlated_groups, group_cluster, size_on_snapshot
from guardbot.risk.account import AccountFigures
from guardbot.risk.correlation import Cluster
from guardbot.risk.exposure import ExposureReport, exposure_report
from guardbot.risk.sizing import SizingResult
from guardbot.risk.stress import StressReport, stress_report
from guardbot.store import Journal


class GuardHost(Protocol):
    """What the operator actions need from the daemon (guardbot.daemon.Daemon provides it)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def guards(self) -> list[AccountGuard]: ...
    @property
    def journal(self) -> Journal | None: ...
    def guard(self, name: str) -> AccountGuard: ...
    async def check_now(self, name: str | None = None) -> None: ...


def journal_of(host: GuardHost) -> Journal | None:
    """The daemon's journal (before it is set, the one the guards write to)."""
    if host.journal is not None:
        return host.journal
    return host.guards[0].journal if host.guards else None


def settle_currency(settings: Settings, account: str) -> str:
    try:
        return settings.account(account).settle_currency
    except Exception:
        return "USDT"


def seen(guard: AccountGuard) -> tuple[AccountSnapshot, AccountFigures]:
    """The guard's last good snapshot and its figures; NotReady when there is none."""
    last = guard.last
    if last is None:
        raise NotReady(f"{guard.name}: no snapshot yet (the first guard cycle has not run)")
    if not last.ok or last.snapshot is None or last.figures is None:
        raise NotReady(f"{guard.name}: the last snapshot failed ({last.error}); try /stops to check now")
    return last.snapshot, last.figures


# ---------------------------------------------------------------------------- status


@dataclass(frozen=True, slots=True)
class Seen:
    """The figures of an account's last good snapshot."""

    ts: int
    equity: float
    margin_ratio: float  # a fraction; inf when equity <= 0
    effective_leverage: float
    positions: int


@dataclass(frozen=True, slots=True)
class AccountStatus:
    """One account as its guard sees it now."""

    name: str
    dry_run: bool
    state: GuardState
    seen: Seen | None  # the last good snapshot, even when the latest cycle failed
    ccy: str = "USDT"
    error: str | None = None  # why the latest cycle failed (None: it did not)

    @property
    def drawdown_pct(self) -> float | None:
        hwm = self.state.high_water_mark
        if self.seen is None or not hwm:
            return None
        return max(0.0, (hwm - self.seen.equity) / hwm * 100)


async def last_good(guard: AccountGuard) -> Seen | None:
    """The figures of the guard's last good snapshot: this run's, or the journal's latest one."""
    last = guard.last
    if last is not None and last.ok and last.figures is not None:
        f = last.figures
        return Seen(last.ts, f.equity, f.margin_ratio, f.effective_leverage, len(f.positions))
    for row in await guard.journal.latest_snapshots():
        if row.account == guard.name:
            return Seen(row.ts, row.equity, row.margin_ratio, row.effective_leverage, row.positions_count)
    return None


async def guard_status(host: GuardHost) -> list[AccountStatus]:
    out = []
    for g in host.guards:
        last = g.last
        out.append(
            AccountStatus(
                g.name,
                g.dry_run,
                g.state,
                await last_good(g),
                settle_currency(host.settings, g.name),
                last.error if last and not last.ok else None,
            )
        )
    return out


# ---------------------------------------------------------------------------- positions and risk


@dataclass(frozen=True, slots=True)
class PositionsView:
    snapshot: AccountSnapshot
    figures: AccountFigures
    stops: dict[tuple[str, str], float | None]  # (symbol, side) -> trigger price of its stop


def positions(guard: AccountGuard) -> PositionsView:
    snapshot, figures = seen(guard)
    stops = {(r["symbol"], r["side"]): r["stop_price"] for r in positions_rows(snapshot, figures)}
    return PositionsView(snapshot, figures, stops)


@dataclass(frozen=True, slots=True)
class RiskView:
    figures: AccountFigures
    exposure: ExposureReport
    stress: StressReport
    groups: list[tuple[str, ...]]  # held symbols that move together
    signed: dict[str, float]  # net signed notional per symbol


def risk_view(guard: AccountGuard, settings: Settings) -> RiskView | None:
    """Exposure, correlated groups and stress of the account; None when it holds no position."""
    snapshot, figures = seen(guard)
    if not snapshot.positions:
        return None
    risk = settings.risk
    exposure = exposure_report(snapshot, None, risk.sectors, equity=figures.equity)
    stress = stress_report(snapshot, risk.benchmark, dict(guard.betas or {}))
    signed: dict[str, float] = {}
    for p in snapshot.positions:
        signed[p.symbol] = signed.get(p.symbol, 0.0) + p.signed_notional
    groups = correlated_groups(signed, guard.correlations, risk.cluster_threshold)
    return RiskView(figures, exposure, stress, groups, signed)


def size_for_guard(guard: AccountGuard, settings: Settings, trade: TradeRequest) -> SizingResult:
    """Size `trade` on the guard's last snapshot; the cluster comes from the guard's correlations."""
    snapshot, _ = seen(guard)
    held = [p.symbol for p in snapshot.positions]

    def cluster_of(symbol: str) -> Cluster | None:
        return group_cluster(symbol, held, guard.correlations, settings.risk.cluster_threshold)

    return size_on_snapshot(snapshot, settings, trade, cluster_of)


# ---------------------------------------------------------------------------- a stop check


@dataclass(frozen=True, slots=True)
class StopsCheck:
    """What one guard cycle run on request did about stops."""

    account: str
    dry_run: bool
    seen: bool  # False: the account could not be read; `error` says why
    error: str | None = None
    stops: tuple[ActionResult, ...] = ()  # stops placed by this cycle
    others: tuple[ActionResult, ...] = ()  # any other action of this cycle
    positions: int = 0
    unprotected: tuple[str, ...] = ()  # symbols still without a stop (new ones get a grace period)


async def check_stops(host: GuardHost, guards: Sequence[AccountGuard]) -> list[StopsCheck]:
    """Run a guard cycle now for each of `guards` (placing missing stops), then report."""
    for g in guards:
        await host.check_now(g.name)
    out = []
    for g in guards:
        last = g.last
        if last is None or not last.ok or last.snapshot is None or last.figures is None:
            out.append(StopsCheck(g.name, g.dry_run, False, last.error if last else "no cycle ran"))
            continue
        stops = tuple(a for a in last.actions if a.kind == "stop")
        others = tuple(a for a in last.actions if a.kind != "stop")
        rows = positions_rows(last.snapshot, last.figures) if not stops and last.figures.positions else []
        bare = tuple(r["symbol"] for r in rows if r["stop_price"] is None)
        out.append(
            StopsCheck(g.name, g.dry_run, True, None, stops, others, len(last.figures.positions), bare)
        )
    return out
