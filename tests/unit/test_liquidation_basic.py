"""Hand-checkable cross liquidation cases (the published examples live in test_published_examples)."""

import pytest

from guardbot.domain import AccountSnapshot, Position, Side, Tier
from guardbot.risk.account import measure_account

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
TIERS = (
    Tier(0, 50_000, 0.004, 0, 125),
    Tier(50_000, 250_000, 0.005, 50, 100),
    Tier(250_000, 1e18, 0.01, 1_300, 50),
)


def test_single_long_solves_equity_equals_maintenance() -> None:
    # 5000 + (P - 50000) = 0.005 P - 50   (tier 2 at entry, tier 1 below 50k notional: re-checked)
    # tier 1 at P < 50000: 5000 + P - 50000 = 0.004 P  ->  P = 45000 / 0.996
    snap = AccountSnapshot(
        "binanceusdm", 5000, (Position(BTC, Side.LONG, 1, 50_000, 50_000, leverage=10),), {BTC: TIERS}
    )
    pf = measure_account(snap).positions[0]
    assert pf.liquidation_price == pytest.approx(45_000 / 0.996, rel=1e-12)


def test_other_positions_losses_bring_liquidation_closer() -> None:
    alone = AccountSnapshot(
        "binanceusdm",
        5000,
        (Position(BTC, Side.LONG, 1, 50_000, 50_000, leverage=10),),
        {BTC: TIERS, ETH: TIERS},
    )
    with_loser = alone.with_positions(
        (*alone.positions, Position(ETH, Side.LONG, 10, 3_000, 2_800, leverage=10))
    )
    liq_alone = measure_account(alone).position(BTC).liquidation_price
    liq_book = measure_account(with_loser).position(BTC).liquidation_price
    assert liq_alone is not None and liq_book is not None
    assert liq_book > liq_alone  # the ETH loss and its maintenance eat the shared cushion
