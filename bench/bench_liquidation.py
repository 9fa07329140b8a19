"""measure_account for a 50-position cross account with 10-tier brackets, and the stress solver."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench import time_ms
from guardbot.domain import AccountSnapshot, Position, Side, Tier
from guardbot.risk.account import measure_account
from guardbot.risk.margin import continuous_deductions
from guardbot.risk.stress import liquidating_move, stress_report

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


def account(n: int = 50, seed: int = 3) -> tuple[AccountSnapshot, dict[str, float]]:
    rng = np.random.default_rng(seed)
    positions = []
    betas: dict[str, float] = {}
    for i in range(n):
        symbol = BENCHMARK if i == 0 else f"ALT{i:02d}/USDT:USDT"
        mark = 50_000.0 if i == 0 else float(rng.uniform(0.1, 500))
        notional = float(rng.uniform(20e3, 800e3))  # spans the first three brackets
        side = Side.LONG if rng.random() < 0.7 else Side.SHORT
        entry = mark * float(rng.uniform(0.95, 1.05))
        positions.append(Position(symbol, side, notional / mark, entry, mark, leverage=10))
        betas[symbol] = float(rng.uniform(0.8, 2.0))
    snap = AccountSnapshot("binanceusdm", 2_500_000, tuple(positions), {p.symbol: TIERS for p in positions})
    return snap, betas


def run() -> dict[str, Any]:
    snap, betas = account()
    return {
        "positions": len(snap.positions),
        "tiers_per_symbol": len(TIERS),
        "margin_ratio": round(measure_account(snap).margin_ratio, 6),
        "measure_account": time_ms(lambda: measure_account(snap), repeat=30),
        "liquidating_move_down": time_ms(lambda: liquidating_move(snap, BENCHMARK, betas, -1), repeat=10),
        "stress_report": time_ms(lambda: stress_report(snap, BENCHMARK, betas), repeat=5),
        "solved_move_down": liquidating_move(snap, BENCHMARK, betas, -1),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
