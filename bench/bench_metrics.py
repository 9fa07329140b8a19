"""What a Prometheus scrape costs a daemon guarding many accounts (a desk's sub-accounts): the
registry filled as `guardbot run` fills it after one cycle per account (10 positions each, with
the rule that placed a stop counted), then /metrics rendered. Reports the rendering time per scrape
and the body's size, for 1, 50 and 200 accounts. The render runs on the daemon's event loop, so
its time is time no cycle runs."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

from bench import books
from guardbot.cycle import CycleOutcome
from guardbot.domain import TradingState
from guardbot.exchange.gateway import ActionResult
from guardbot.guard.state import initial_state
from guardbot.ops.metrics import GuardMetrics
from guardbot.risk.account import measure_account

SIZES = (1, 50, 200)
SCRAPES = 50


def _scrape(n: int) -> dict[str, Any]:
    snapshot, _ = books.account(10)
    figures = measure_account(snapshot)
    now = int(time.time() * 1000)
    state = initial_state()
    # what the collector reads of a guard: its name, state and start (the real AccountGuard's fields)
    guards = [
        SimpleNamespace(name=f"acct-{i:03d}", state=state, started_ms=now, limits=None) for i in range(n)
    ]
    metrics = GuardMetrics(lambda: guards, lambda: 0)  # type: ignore[arg-type,return-value]
    stop = ActionResult(
        "stop", "x", books.BENCHMARK, "sell", 1.0, None, 1.0, "gb-1", "confirmed", rule="stop"
    )
    for g in guards:
        outcome = CycleOutcome(g.name, now, True, state, figures, snapshot, actions=[stop])
        metrics.cycle_done(g.name, outcome, 0.3)
    assert state.trading_state is TradingState.ACTIVE
    body = metrics.render()
    started = time.perf_counter()
    for _ in range(SCRAPES):
        metrics.render()
    per_scrape_ms = (time.perf_counter() - started) / SCRAPES * 1000
    return {"accounts": n, "render_ms": round(per_scrape_ms, 3), "body_bytes": len(body)}


def run() -> dict[str, Any]:
    return {f"accounts_{n}": _scrape(n) for n in SIZES}


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
