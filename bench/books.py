"""Synthetic books shared by the benchmarks: Binance-like 10-tier brackets, N cross positions, and a
one-factor market of closes (so betas, clusters and VaR have something to find)."""

from __future__ import annotations

import numpy as np

from guardbot.domain import AccountSnapshot, Position, Side, Tier
from guardbot.risk.margin import continuous_deductions

BENCHMARK = "BTC/USDT:USDT"
# Binance BTCUSDT-like brackets: 10 tiers, continuous maintenance amounts
FLOORS = [0, 50e3, 600e3, 3e6, 12e6, 70e6, 100e6, 230e6, 480e6, 600e6]
RATES = [0.004, 0.005, 0.0065, 0.01, 0.02, 0.025, 0.05, 0.1, 0.125, 0.15]
LEVERAGES = [125, 100, 75, 50, 25, 20, 10, 5, 4, 3]
CAPS = [*FLOORS[1:], 1e12]
TIERS = tuple(
    Tier(f, c, r, a, lev)
    for f, c, r, a, lev in zip(
        FLOORS, CAPS, RATES, continuous_deductions(FLOORS, RATES), LEVERAGES, strict=True
    )
)


def symbol(i: int) -> str:
    return BENCHMARK if i == 0 else f"ALT{i:03d}/USDT:USDT"


def account(
    n: int = 50, seed: int = 3, marks: list[float] | None = None
) -> tuple[AccountSnapshot, dict[str, float]]:
    """n cross positions (one per symbol), 70 % long, notionals spanning the first three brackets,
    wallet scaled so the book sits around a 25-30 % margin-ratio headroom; plus a beta per symbol."""
    rng = np.random.default_rng(seed)
    positions = []
    betas: dict[str, float] = {}
    for i in range(n):
        mark = marks[i] if marks is not None else (50_000.0 if i == 0 else float(rng.uniform(0.1, 500)))
        notional = float(rng.uniform(20e3, 800e3))
        side = Side.LONG if rng.random() < 0.7 else Side.SHORT
        entry = mark * float(rng.uniform(0.95, 1.05))
        positions.append(Position(symbol(i), side, notional / mark, entry, mark, leverage=10))
        betas[symbol(i)] = 1.0 if i == 0 else float(rng.uniform(0.8, 2.0))
    wallet = 2_500_000 * n / 50
    snap = AccountSnapshot("binanceusdm", wallet, tuple(positions), {p.symbol: TIERS for p in positions})
    return snap, betas


def closes(symbols: int, n_closes: int, seed: int = 7) -> dict[str, list[float]]:
    """`n_closes` closes per symbol; every alt = beta x BTC + its own noise, so clusters exist."""
    rng = np.random.default_rng(seed)
    market = rng.normal(0, 0.01, n_closes - 1)
    out = {BENCHMARK: list(50_000 * np.exp(np.concatenate([[0.0], np.cumsum(market)])))}
    for i in range(1, symbols):
        r = rng.uniform(0.5, 2.0) * market + rng.normal(0, rng.uniform(0.002, 0.02), n_closes - 1)
        start = rng.uniform(0.1, 100)
        out[symbol(i)] = [float(x) for x in start * np.exp(np.concatenate([[0.0], np.cumsum(r)]))]
    return out
