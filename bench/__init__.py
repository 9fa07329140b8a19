"""Benchmarks with machine-readable output: `python -m bench.run` (results in bench/results/latest.json).

Each `bench_*.py` module exposes `run() -> dict` of JSON-friendly timings. Speed claims live here,
never in timed tests.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def time_ms(fn: Callable[[], object], repeat: int, warmup: int = 1) -> dict[str, Any]:
    """Median (and spread) of `repeat` calls of `fn`, in milliseconds, after `warmup` calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1_000)
    return {
        "median_ms": round(statistics.median(samples), 3),
        "min_ms": round(min(samples), 3),
        "max_ms": round(max(samples), 3),
        "runs": repeat,
    }
