"""Sizing a trade on a snapshot, the same way for `guardbot size` and Telegram's /size and /open:
the symbol may be given by its base asset, the risk defaults to the configured one, and the caps
come from [risk] and [guard]."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from guardbot.domain import AccountSnapshot, Side, base_asset
from guardbot.errors import UserError
from guardbot.risk.correlation import Cluster

if TYPE_CHECKING:
    from guardbot.config import Settings
    from guardbot.risk.correlation import CorrelationReport
    from guardbot.risk.sizing import SizingLimits, SizingResult


@dataclass(frozen=True, slots=True)
class TradeRequest:
    """A trade as the operator asked for it. `symbol` may be a base asset ("SOL"); without a risk
    amount or percentage the configured default applies; `entry` None means at the mark price."""

    symbol: str
    side: Side
    stop: float
    entry: float | None = None
    risk_amount: float | None = None
    risk_pct: float | None = None
    leverage: float | None = None


def resolve_symbol(snapshot: AccountSnapshot, text: str) -> str:
    """Accept the full ccxt symbol or just its base asset ("SOL" -> "SOL/USDT:USDT")."""
    known = list(dict.fromkeys([*snapshot.tiers, *snapshot.mark_prices, *snapshot.symbols()]))
    if text in known:
        return text
    matches = [s for s in known if base_asset(s).upper() == text.upper()]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise UserError(f"symbol {text!r} is ambiguous: {', '.join(matches)}")
    if not known:
        raise UserError(f"unknown symbol {text!r}: the snapshot lists no market")
    names = sorted(dict.fromkeys(base_asset(s) for s in known))
    raise UserError(f"unknown symbol {text!r}; known: {', '.join(names)} (or a full symbol like {known[0]})")


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


def size_on_snapshot(
    snapshot: AccountSnapshot,
    settings: Settings,
    trade: TradeRequest,
    cluster_of: Callable[[str], Cluster | None],
) -> SizingResult:
    """Size `trade` on `snapshot`; `cluster_of(symbol)` gives the correlated cluster it would join."""
    from guardbot.risk.sizing import SizingRequest, size_trade

    symbol = resolve_symbol(snapshot, trade.symbol)
    risk_amount, risk_pct = trade.risk_amount, trade.risk_pct
    if risk_amount is None and risk_pct is None:  # fall back to the configured default
        risk_amount, risk_pct = settings.risk.risk_per_trade, settings.risk.risk_per_trade_pct
    request = SizingRequest(
        symbol=symbol,
        side=trade.side,
        stop=trade.stop,
        entry=trade.entry,
        risk_amount=risk_amount,
        risk_pct=risk_pct,
        leverage=trade.leverage,
    )
    return size_trade(snapshot, request, sizing_limits(settings), cluster=cluster_of(symbol))


def snapshot_correlation(snapshot: AccountSnapshot, settings: Settings) -> CorrelationReport | None:
    """Correlations from the snapshot's own OHLCV closes (None without closes)."""
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


def size_from_snapshot(snapshot: AccountSnapshot, settings: Settings, trade: TradeRequest) -> SizingResult:
    """`guardbot size`: the cluster comes from the snapshot's closes."""

    def cluster_of(symbol: str) -> Cluster | None:
        corr = snapshot_correlation(snapshot, settings)
        return corr.cluster_of(symbol) if corr else None

    return size_on_snapshot(snapshot, settings, trade, cluster_of)


def correlated_groups(
    symbols: Iterable[str], correlations: Mapping[tuple[str, str], float] | None, threshold: float
) -> list[tuple[str, ...]]:
    """Held symbols that move together (|corr| > threshold, single linkage), groups of two or more."""
    held = list(dict.fromkeys(symbols))
    parent = {s: s for s in held}

    def root(s: str) -> str:
        while parent[s] != s:
            s = parent[s]
        return s

    for (a, b), c in (correlations or {}).items():
        if a in parent and b in parent and math.isfinite(c) and abs(c) > threshold:
            parent[root(a)] = root(b)
    groups: dict[str, list[str]] = {}
    for s in held:
        groups.setdefault(root(s), []).append(s)
    return [tuple(g) for g in groups.values() if len(g) > 1]


def group_cluster(
    symbol: str, held: Sequence[str], correlations: Mapping[tuple[str, str], float] | None, threshold: float
) -> Cluster | None:
    """The correlated cluster `symbol` would join, from a guard's pairwise correlations."""
    for group in correlated_groups([*held, symbol], correlations, threshold):
        if symbol in group:
            anchor = group[0]
            signs = tuple(
                1 if s == anchor or (correlations or {}).get((anchor, s), 1.0) >= 0 else -1 for s in group
            )
            return Cluster(group, signs)
    return None
