"""Prometheus metrics of one daemon, each per account (label `account`).

Every daemon gets its own CollectorRegistry (never the process-wide default): tests run several
daemons in one process, and a second daemon registering the same names on the global registry
would raise. Values a cycle produces are set when the cycle ends (`cycle_done`); values that
change with the clock alone (the last good snapshot's age, the trading state, the alert queue) are
read when Prometheus scrapes, so a hung cycle still shows its snapshot growing old.

METRICS names every series exported here (docs/operations.md explains each; the Grafana
dashboard's test checks its queries against it).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from guardbot.domain import TradingState

if TYPE_CHECKING:
    from prometheus_client import Metric

    from guardbot.cycle import AccountGuard, CycleOutcome

PREFIX = "guardbot_"
CYCLE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# name (as scraped, counters with _total, histograms by their base name) -> meaning
METRICS: dict[str, str] = {
    "guardbot_equity": "margin balance (wallet + unrealized PnL) at the last good snapshot, settle currency",
    "guardbot_margin_ratio": "maintenance margin / equity at the last good snapshot (1 = liquidation)",
    "guardbot_nearest_liquidation_distance_percent": (
        "distance from mark to the nearest cross liquidation price, % of mark (absent with no position)"
    ),
    "guardbot_positions": "open positions at the last good snapshot",
    "guardbot_trading_state": "1 for the account's current trading state (ACTIVE, REDUCING, HALTED)",
    "guardbot_last_good_snapshot_age_seconds": (
        "seconds since the last good snapshot (since the guard started, before the first one)"
    ),
    "guardbot_cycle_duration_seconds": "wall time of a guard cycle (histogram)",
    "guardbot_cycles_total": "guard cycles run",
    "guardbot_cycle_failures_total": "cycles that got no snapshot or crashed",
    "guardbot_actions_total": "orders the guard sent (or, in dry-run, would have), by rule and outcome",
    "guardbot_telegram_queue_depth": "alerts waiting in the Telegram queue (0 without Telegram)",
}


class _ScrapeTime(Collector):
    """Series computed when scraped, from the guards as they are now."""

    def __init__(self, guards: Callable[[], Sequence[AccountGuard]], queue_depth: Callable[[], int]) -> None:
        self._guards = guards
        self._queue_depth = queue_depth

    def collect(self) -> Iterator[Metric]:
        now_ms = int(time.time() * 1000)
        age = GaugeMetricFamily(
            "guardbot_last_good_snapshot_age_seconds",
            METRICS["guardbot_last_good_snapshot_age_seconds"],
            labels=["account"],
        )
        state = GaugeMetricFamily(
            "guardbot_trading_state", METRICS["guardbot_trading_state"], labels=["account", "state"]
        )
        for g in self._guards():
            last = g.state.last_ok_ms if g.state.last_ok_ms is not None else g.started_ms
            if last is not None:
                age.add_metric([g.name], max(0.0, (now_ms - last) / 1000))
            for s in TradingState:
                state.add_metric([g.name, s.value], 1.0 if g.state.trading_state is s else 0.0)
        yield age
        yield state
        yield GaugeMetricFamily(
            "guardbot_telegram_queue_depth",
            METRICS["guardbot_telegram_queue_depth"],
            value=self._queue_depth(),
        )

    def describe(self) -> Iterator[Metric]:
        return iter(())  # computed per scrape; nothing to check for duplicates up front


class GuardMetrics:
    def __init__(self, guards: Callable[[], Sequence[AccountGuard]], queue_depth: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.equity = Gauge("guardbot_equity", METRICS["guardbot_equity"], ["account"], registry=r)
        self.margin_ratio = Gauge(
            "guardbot_margin_ratio", METRICS["guardbot_margin_ratio"], ["account"], registry=r
        )
        self.liquidation = Gauge(
            "guardbot_nearest_liquidation_distance_percent",
            METRICS["guardbot_nearest_liquidation_distance_percent"],
            ["account"],
            registry=r,
        )
        self.positions = Gauge("guardbot_positions", METRICS["guardbot_positions"], ["account"], registry=r)
        self.duration = Histogram(
            "guardbot_cycle_duration_seconds",
            METRICS["guardbot_cycle_duration_seconds"],
            ["account"],
            buckets=CYCLE_BUCKETS,
            registry=r,
        )
        # prometheus_client appends _total to a counter's name when it exposes it
        self.cycles = Counter("guardbot_cycles", METRICS["guardbot_cycles_total"], ["account"], registry=r)
        self.failures = Counter(
            "guardbot_cycle_failures", METRICS["guardbot_cycle_failures_total"], ["account"], registry=r
        )
        self.actions = Counter(
            "guardbot_actions",
            METRICS["guardbot_actions_total"],
            ["account", "rule", "outcome"],
            registry=r,
        )
        r.register(_ScrapeTime(guards, queue_depth))

    def cycle_done(self, account: str, outcome: CycleOutcome, duration_s: float) -> None:
        self.cycles.labels(account).inc()
        self.duration.labels(account).observe(duration_s)
        failures = self.failures.labels(account)  # exported from the first cycle on, at 0
        for action in outcome.actions:
            self.actions.labels(account, action.rule or "none", action.status).inc()
        if not outcome.ok or outcome.figures is None:
            # the figures keep their last good values: the age says how old they are
            failures.inc()
            return
        f = outcome.figures
        self.equity.labels(account).set(f.equity)
        self.margin_ratio.labels(account).set(f.margin_ratio)  # +Inf when equity <= 0
        self.positions.labels(account).set(len(f.positions))
        distances = [p.liquidation_distance_pct for p in f.positions]
        nearest = min((d for d in distances if d is not None and math.isfinite(d)), default=None)
        if nearest is None:
            with contextlib.suppress(KeyError):  # older prometheus_client raises on an absent series
                self.liquidation.remove(account)
        else:
            self.liquidation.labels(account).set(nearest)

    def cycle_crashed(self, account: str, duration_s: float) -> None:
        self.cycles.labels(account).inc()
        self.duration.labels(account).observe(duration_s)
        self.failures.labels(account).inc()

    def render(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)
