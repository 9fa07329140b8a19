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
    return _summary(samples)


def time_pair_ms(
    a: Callable[[], object], b: Callable[[], object], repeat: int, warmup: int = 1
) -> tuple[dict[str, Any], dict[str, Any], float]:
    """Time `a` and `b` alternately, `repeat` times each: on a shared machine both see the same
    load, so the ratio of their medians is steadier than from two separate runs. Returns both
    timings and the median of the per-pair ratios b / a."""
    for _ in range(warmup):
        a()
        b()
    sa: list[float] = []
    sb: list[float] = []
    for _ in range(repeat):
        for fn, samples in ((a, sa), (b, sb)):
            t0 = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - t0) * 1_000)
    ratio = statistics.median(y / x for x, y in zip(sa, sb, strict=True))
    return _summary(sa), _summary(sb), round(ratio, 2)


def _summary(samples: list[float]) -> dict[str, Any]:
    return {
        "median_ms": round(statistics.median(samples), 3),
        "min_ms": round(min(samples), 3),
        "max_ms": round(max(samples), 3),
        "runs": len(samples),
    }
