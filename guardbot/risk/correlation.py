"""Correlation, betas, clusters and stressed correlation from close prices.

Everything is computed on log returns of closes aligned on their common tail (the last N closes
every kept symbol has), vectorised with numpy: a 200 x 1,000 book is a few milliseconds (see
`bench/bench_correlation.py`).

Choices, stated once:
- Clusters are connected components of the graph whose edges are |corr| > threshold
  (single linkage). Anti-correlated symbols land in the same cluster with an opposite `sign`, so a
  long A + short B where A and B move opposite ways counts as one concentrated bet, not a hedge.
- The stressed matrix is the plain Pearson correlation computed only on the bars where the
  benchmark's return is in its worst decile. Conditioning on a tail *lowers* the correlation of a
  sample that has one regime (truncation bias), so a stressed value above the calm one is a real
  regime effect, not an artefact.
- Symbols with fewer than `min_closes` closes are left out (and named in `notes`) rather than
  shortening every other symbol's history; they follow the benchmark with beta 1.0 downstream.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

DEFAULT_BENCHMARK = "BTC/USDT:USDT"
STRESS_QUANTILE = 0.10  # worst decile of benchmark bars
MIN_STRESS_BARS = 5  # fewer tail bars than this give no stressed matrix

FloatArray = npt.NDArray[np.float64]

_TIMEFRAME = re.compile(r"^\s*(\d+)\s*([smhdwM])\s*$")
# ccxt units; "M" (month) is counted as 30 days, which only matters for scaling volatility
_SECONDS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800, "M": 2_592_000}


def bars_per_day(timeframe: str) -> float:
    """How many bars of `timeframe` ("15m", "1h", "4h", "1d", "1w", "1M") make one day (crypto: 24/7)."""
    m = _TIMEFRAME.match(timeframe)
    if not m or int(m.group(1)) <= 0:
        raise ValueError(
            f"timeframe {timeframe!r}: expected a count and a unit s/m/h/d/w/M, like '15m', '1h', '4h', '1d'"
        )
    return 86_400 / (int(m.group(1)) * _SECONDS[m.group(2)])


@dataclass(frozen=True, slots=True)
class Cluster:
    """Symbols that move together (|corr| > threshold, single linkage).

    `signs[i]` is +1 when symbols[i] moves with the cluster's anchor (the benchmark if it is a
    member, else the first member) and -1 when it moves against it.
    """

    symbols: tuple[str, ...]
    signs: tuple[int, ...]

    def sign_of(self, symbol: str) -> int:
        return self.signs[self.symbols.index(symbol)]

    def to_dict(self) -> dict[str, Any]:
        return {"symbols": list(self.symbols), "signs": list(self.signs)}


@dataclass(frozen=True, slots=True)
class CorrelationReport:
    """Correlation figures of a set of symbols; arrays are read-only and indexed like `symbols`."""

    symbols: tuple[str, ...]
    benchmark: str
    threshold: float
    timeframe: str
    bars: int  # log returns used per symbol (aligned closes - 1)
    betas: Mapping[str, float]  # to the benchmark; 1.0 for every symbol when it has no closes
    volatility: Mapping[str, float]  # std of log returns per bar
    clusters: tuple[Cluster, ...]  # only groups of two or more symbols
    stressed_bars: int  # bars in the benchmark's worst decile (0 when there is no stressed matrix)
    notes: tuple[str, ...]
    matrix: FloatArray = field(repr=False, compare=False)
    stressed_matrix: FloatArray | None = field(default=None, repr=False, compare=False)

    def index(self, symbol: str) -> int:
        return self.symbols.index(symbol)

    def correlation(self, a: str, b: str) -> float:
        return float(self.matrix[self.index(a), self.index(b)])

    def stressed_correlation(self, a: str, b: str) -> float | None:
        if self.stressed_matrix is None:
            return None
        return float(self.stressed_matrix[self.index(a), self.index(b)])

    def beta(self, symbol: str) -> float:
        """Beta to the benchmark; 1.0 for a symbol without closes (it follows the benchmark)."""
        return self.betas.get(symbol, 1.0)

    def cluster_of(self, symbol: str) -> Cluster | None:
        for c in self.clusters:
            if symbol in c.symbols:
                return c
        return None

    def covariance(self, stressed: bool = False) -> FloatArray:
        """Per-bar covariance of log returns (stressed: stressed correlations, full-sample vols)."""
        corr = self.stressed_matrix if stressed and self.stressed_matrix is not None else self.matrix
        vol = np.array([self.volatility[s] for s in self.symbols], dtype=np.float64)
        return np.asarray(corr * np.outer(vol, vol), dtype=np.float64)

    @property
    def bars_per_day(self) -> float:
        return bars_per_day(self.timeframe)

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbols": list(self.symbols),
            "benchmark": self.benchmark,
            "threshold": self.threshold,
            "timeframe": self.timeframe,
            "bars": self.bars,
            "betas": dict(self.betas),
            "volatility_per_bar": dict(self.volatility),
            "clusters": [c.to_dict() for c in self.clusters],
            "matrix": self.matrix.tolist(),
            "stressed_bars": self.stressed_bars,
            "stressed_matrix": None if self.stressed_matrix is None else self.stressed_matrix.tolist(),
            "notes": list(self.notes),
        }


def correlation_report(
    closes: Mapping[str, Sequence[float]],
    benchmark: str = DEFAULT_BENCHMARK,
    threshold: float = 0.8,
    timeframe: str = "1h",
    *,
    lookback: int | None = None,
    min_closes: int = 30,
) -> CorrelationReport:
    """Correlation matrix, betas, clusters and stressed matrix of `closes` (oldest first).

    `lookback` keeps at most that many of the latest closes per symbol. Raises ValueError with one
    line naming the bad input (non-positive or non-finite close, threshold outside [0, 1], bad
    timeframe).
    """
    bars_per_day(timeframe)  # validate early: the report is useless without it
    if not 0.0 <= threshold <= 1.0 or math.isnan(threshold):
        raise ValueError(f"threshold {threshold!r}: expected a correlation between 0 and 1")
    if lookback is not None and lookback < 3:
        raise ValueError(f"lookback {lookback!r}: expected at least 3 closes")
    min_closes = max(3, min_closes)

    notes: list[str] = []
    kept: list[str] = []
    series: list[FloatArray] = []
    short: list[str] = []
    for symbol, values in closes.items():
        if lookback is not None and isinstance(values, (list, tuple)):
            values = values[-lookback:]  # convert only the closes that are used
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 1:
            raise ValueError(f"closes for {symbol}: expected a flat list of prices")
        if lookback is not None:
            arr = arr[-lookback:]
        bad = ~np.isfinite(arr) | (arr <= 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"closes for {symbol}: expected positive finite prices, got {arr[i]!r} at index {i}"
            )
        if arr.size < min_closes:
            short.append(symbol)
            continue
        kept.append(symbol)
        series.append(arr)
    if short:
        notes.append(f"left out (fewer than {min_closes} closes, treated as beta 1.0): {', '.join(short)}")

    if not kept:
        notes.append("no symbol has enough closes: no correlation figures")
        return _empty(benchmark, threshold, timeframe, notes)

    n_closes = min(a.size for a in series)
    if any(a.size > n_closes for a in series):
        notes.append(f"series aligned on their last {n_closes} common closes")
    prices = np.vstack([a[-n_closes:] for a in series])
    returns = np.diff(np.log(prices), axis=1)  # symbols x bars
    n_bars = returns.shape[1]

    corr, vol = _pearson(returns)
    flat = [kept[i] for i in np.flatnonzero(vol == 0.0)]
    if flat:
        notes.append(f"constant prices (no volatility, correlation set to 0): {', '.join(flat)}")

    b = kept.index(benchmark) if benchmark in kept else None
    betas: dict[str, float]
    if b is None:
        betas = dict.fromkeys(kept, 1.0)
        notes.append(f"benchmark {benchmark} has no (or too few) closes: betas default to 1.0")
    elif vol[b] == 0.0:
        betas = dict.fromkeys(kept, 1.0)
        notes.append(f"benchmark {benchmark} did not move: betas default to 1.0")
    else:
        dev = returns - returns.mean(axis=1, keepdims=True)
        cov_b = dev @ dev[b] / (n_bars - 1)
        beta_arr = cov_b / cov_b[b]
        betas = {s: float(x) for s, x in zip(kept, beta_arr, strict=True)}
        betas[benchmark] = 1.0  # exactly, not 0.9999999999999998

    stressed: FloatArray | None = None
    stressed_bars = 0
    if b is not None and vol[b] > 0.0:
        k = math.ceil(n_bars * STRESS_QUANTILE)
        if k >= MIN_STRESS_BARS:
            worst = np.argsort(returns[b], kind="stable")[:k]
            stressed, _ = _pearson(returns[:, np.sort(worst)])
            stressed.flags.writeable = False
            stressed_bars = k
        else:
            notes.append(f"only {k} worst-decile bars (need {MIN_STRESS_BARS}): no stressed matrix")

    clusters = _clusters(corr, kept, threshold, benchmark)
    corr.flags.writeable = False
    return CorrelationReport(
        symbols=tuple(kept),
        benchmark=benchmark,
        threshold=threshold,
        timeframe=timeframe,
        bars=n_bars,
        betas=betas,
        volatility={s: float(v) for s, v in zip(kept, vol, strict=True)},
        clusters=clusters,
        stressed_bars=stressed_bars,
        notes=tuple(notes),
        matrix=corr,
        stressed_matrix=stressed,
    )


def _pearson(returns: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(correlation matrix, per-row sample std); a constant series (zero variance) correlates
    with nothing: 0 off the diagonal instead of NaN."""
    n = returns.shape[1]
    dev = returns - returns.mean(axis=1, keepdims=True)
    cov = dev @ dev.T / (n - 1)
    std = np.sqrt(np.clip(np.diag(cov).copy(), 0.0, None))
    safe = np.where(std > 0, std, 1.0)
    corr = cov / np.outer(safe, safe)
    dead = std == 0
    corr[dead, :] = 0.0
    corr[:, dead] = 0.0
    np.clip(corr, -1.0, 1.0, out=corr)
    np.fill_diagonal(corr, 1.0)
    return np.asarray(corr, dtype=np.float64), np.asarray(std, dtype=np.float64)


def _clusters(corr: FloatArray, symbols: list[str], threshold: float, benchmark: str) -> tuple[Cluster, ...]:
    linked = np.abs(corr) > threshold
    np.fill_diagonal(linked, False)
    n = len(symbols)
    sign = np.zeros(n, dtype=np.int64)
    out: list[Cluster] = []
    # Anchor each component at the benchmark when it is a member, so a sign reads "with BTC".
    order = list(range(n))
    if benchmark in symbols:
        bi = symbols.index(benchmark)
        order.remove(bi)
        order.insert(0, bi)
    for start in order:
        if sign[start] != 0 or not linked[start].any():
            continue
        sign[start] = 1
        members = [start]
        stack = [start]
        while stack:
            i = stack.pop()
            for j in np.flatnonzero(linked[i] & (sign == 0)):
                sign[j] = sign[i] * (1 if corr[i, j] > 0 else -1)
                members.append(int(j))
                stack.append(int(j))
        members.sort()
        out.append(Cluster(tuple(symbols[i] for i in members), tuple(int(sign[i]) for i in members)))
    out.sort(key=lambda c: symbols.index(c.symbols[0]))
    return tuple(out)


def _empty(benchmark: str, threshold: float, timeframe: str, notes: list[str]) -> CorrelationReport:
    empty = np.zeros((0, 0), dtype=np.float64)
    empty.flags.writeable = False
    return CorrelationReport(
        symbols=(),
        benchmark=benchmark,
        threshold=threshold,
        timeframe=timeframe,
        bars=0,
        betas={},
        volatility={},
        clusters=(),
        stressed_bars=0,
        notes=(*notes, f"benchmark {benchmark} has no (or too few) closes: betas default to 1.0"),
        matrix=empty,
        stressed_matrix=None,
    )
