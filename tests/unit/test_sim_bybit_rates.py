"""Bybit's account rates as the emulator writes them (values recorded from a Bybit account)."""

from __future__ import annotations

from guardbot.sim.venues.bybit_account import rate_4dp


def test_account_rates_are_rounded_down_to_four_decimals() -> None:
    # recorded from a Bybit unified account (Jan 2025): 54.3100333 / 90042.2788482 = 0.000603 is
    # reported as "0.0006", and 7.38826721 / 90042.2788482 = 0.000082 as "0"
    assert rate_4dp(54.3100333, 90042.2788482) == "0.0006"
    assert rate_4dp(7.38826721, 90042.2788482) == "0"
    assert rate_4dp(0.99999, 1.0) == "0.9999"
