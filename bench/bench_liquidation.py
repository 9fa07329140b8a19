"""measure_account at 10/50/200 cross positions with 10-tier brackets (and 1,000, to show how it
scales), one liquidation_price in a 200-position book (the guard planner's inner call), and the
stress solver and report at 50/200/1,000."""

from __future__ import annotations

from typing import Any

from bench import time_ms
from bench.books import BENCHMARK, TIERS, account
from guardbot.risk.account import liquidation_price, measure_account
from guardbot.risk.stress import liquidating_move, stress_report

SIZES = (10, 50, 200, 1_000)


def run() -> dict[str, Any]:
    out: dict[str, Any] = {"tiers_per_symbol": len(TIERS), "measure_account": {}}
    for n in SIZES:
        snap, _ = account(n)
        out["measure_account"][str(n)] = {
            "positions": n,
            "margin_ratio": round(measure_account(snap).margin_ratio, 6),
            **time_ms(lambda snap=snap: measure_account(snap), repeat=30, warmup=int(n < 1_000), budget_s=10),
        }
    big, big_betas = account(200)
    leg = big.positions[7]
    out["liquidation_price_one_symbol_200"] = time_ms(
        lambda: liquidation_price(big, leg), repeat=200, budget_s=5
    )
    snap, betas = account(50)
    out["solved_move_down_50"] = liquidating_move(snap, BENCHMARK, betas, -1)
    out["liquidating_move_down_50"] = time_ms(
        lambda: liquidating_move(snap, BENCHMARK, betas, -1), repeat=10, budget_s=10
    )
    huge, huge_betas = account(1_000)
    out["stress_report"] = {
        "50": time_ms(lambda: stress_report(snap, BENCHMARK, betas), repeat=10, budget_s=20),
        "200": time_ms(lambda: stress_report(big, BENCHMARK, big_betas), repeat=10, warmup=0, budget_s=30),
        "1000": time_ms(lambda: stress_report(huge, BENCHMARK, huge_betas), repeat=10, warmup=0, budget_s=30),
    }
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
