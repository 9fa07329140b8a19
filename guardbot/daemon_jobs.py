"""The daemon's periodic jobs besides the cycle: the correlation refresh from OHLCV, and the texts
of the heartbeat and the daily digest (daemon.py schedules them)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from guardbot.config import Settings
from guardbot.cycle import AccountGuard
from guardbot.exchange.session import AccountSession
from guardbot.risk.correlation import correlation_report

log = logging.getLogger("guardbot.daemon")


async def refresh_correlation(guard: AccountGuard, session: AccountSession, settings: Settings) -> None:
    """Betas and pairwise correlations of the held symbols (and the benchmark) from OHLCV closes."""
    last = guard.last
    if last is None or last.figures is None:
        return
    symbols = sorted({p.symbol for p in last.figures.positions} | {settings.risk.benchmark})
    closes: dict[str, list[float]] = {}
    for sym in symbols:
        try:
            bars = await session.client.fetch_ohlcv(
                sym, settings.risk.correlation_timeframe, limit=settings.risk.correlation_lookback
            )
        except asyncio.CancelledError:  # only at exit (as the cycle): the old figures are kept
            log.info("%s: correlation refresh interrupted by shutdown", guard.name)
            return
        except Exception as exc:  # a missing market or a network error: keep the old figures
            log.warning("%s: no OHLCV for %s (%s); correlation not refreshed", guard.name, sym, exc)
            return
        closes[sym] = [float(b[4]) for b in bars if b[4]]
    report = correlation_report(
        closes,
        benchmark=settings.risk.benchmark,
        threshold=settings.risk.cluster_threshold,
        timeframe=settings.risk.correlation_timeframe,
    )
    guard.betas = dict(report.betas)
    guard.correlations = {
        (a, b): report.correlation(a, b) for a in report.symbols for b in report.symbols if a != b
    }


def heartbeat_text(guards: Sequence[AccountGuard]) -> str:
    states = ", ".join(
        f"{g.name} {g.state.trading_state.value}" + (" (blind)" if g.state.blind else "") for g in guards
    )
    return f"guard alive, {len(guards)} account(s): {states}"


def digest_text(guard: AccountGuard) -> str:
    last = guard.last
    if last is None or last.figures is None:
        return "no snapshot yet"
    f = last.figures
    hwm = guard.state.high_water_mark
    dd = f" drawdown {max(0.0, (hwm - f.equity) / hwm):.1%} from {hwm:,.2f}" if hwm else ""
    return (
        f"daily digest: equity {f.equity:,.2f}{dd}, margin ratio {f.margin_ratio:.1%}, "
        f"leverage {f.effective_leverage:.2f}x, {len(f.positions)} position(s), "
        f"state {guard.state.trading_state.value}"
    )
