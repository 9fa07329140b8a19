"""Benchmarks with machine-readable output: `python -m bench.run` (results in bench/results/latest.json).

Each `bench_*.py` module exposes `run() -> dict` of JSON-friendly timings. Speed claims live here,
never in timed tests.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def time_ms(
    fn: Callable[[], object], repeat: int, warmup: int = 1, budget_s: float | None = None
) -> dict[str, Any]:
    """Median (and spread) of `repeat` calls of `fn`, in milliseconds, after `warmup` calls.

    `budget_s` stops early (after at least 3 calls) once that much time was spent timing, so a
    slow implementation still gets a median without holding the whole run for minutes."""
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    spent = 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - t0
        samples.append(elapsed * 1_000)
        spent += elapsed
        if budget_s is not None and len(samples) >= 3 and spent >= budget_s:
            break
    return {
        "median_ms": round(statistics.median(samples), 3),
        "min_ms": round(min(samples), 3),
        "max_ms": round(max(samples), 3),
        "runs": len(samples),
    }
