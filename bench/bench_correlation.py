"""correlation_report on 200 symbols x 1,000 bars and 50 x 500 (plus exposure and VaR on top)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench import time_ms
from guardbot.domain import AccountSnapshot, Position, Side
from guardbot.risk.correlation import correlation_report
from guardbot.risk.exposure import exposure_report

BENCHMARK = "BTC/USDT:USDT"


def closes(symbols: int, bars: int, seed: int = 7) -> dict[str, list[float]]:
    """A one-factor market: every alt = beta x BTC + its own noise, so clusters exist."""
    rng = np.random.default_rng(seed)
    market = rng.normal(0, 0.01, bars)
    out = {BENCHMARK: list(50_000 * np.exp(np.concatenate([[0.0], np.cumsum(market)])))}
    for i in range(1, symbols):
        r = rng.uniform(0.5, 2.0) * market + rng.normal(0, rng.uniform(0.002, 0.02), bars)
        out[f"ALT{i:03d}/USDT:USDT"] = list(
            rng.uniform(0.1, 100) * np.exp(np.concatenate([[0.0], np.cumsum(r)]))
        )
    return out


def case(symbols: int, bars: int, repeat: int) -> dict[str, Any]:
    data = closes(symbols, bars + 1)
    report = correlation_report(data, BENCHMARK, 0.8, "1h")
    positions = tuple(
        Position(s, Side.LONG if i % 3 else Side.SHORT, 1.0, c[-1], c[-1])
        for i, (s, c) in enumerate(data.items())
    )
    snap = AccountSnapshot("binanceusdm", 1_000_000, positions)
    return {
        "symbols": symbols,
        "bars": bars,
        "clusters": len(report.clusters),
        "correlation_report": time_ms(lambda: correlation_report(data, BENCHMARK, 0.8, "1h"), repeat),
        "exposure_report": time_ms(lambda: exposure_report(snap, report), repeat),
    }


def run() -> dict[str, Any]:
    return {"200x1000": case(200, 1_000, repeat=15), "50x500": case(50, 500, repeat=30)}


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
