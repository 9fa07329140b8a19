"""ccxt structures -> domain values for the shapes the emulator does not produce (other venues,
missing fields). Pure: no network."""

from __future__ import annotations

import math

import pytest

from guardbot.domain import MarginMode, Side
from guardbot.exchange.convert import (
    ConversionError,
    hyperliquid_tiers,
    leverage_of,
    market_from_ccxt,
    order_from_ccxt,
    position_from_ccxt,
    tiers_from_ccxt,
)
from guardbot.exchange.snapshot_assembly import wallet_balance_of

TICK_SIZE, DECIMAL_PLACES = 4, 2


def test_tiers_keep_the_venue_amount_or_derive_it_continuously() -> None:
    rows = [  # given out of order, Bybit-style without a deduction on the first row
        {
            "minNotional": 50_000,
            "maxNotional": 250_000,
            "maintenanceMarginRate": 0.005,
            "maxLeverage": 100,
            "info": {},
        },
        {
            "minNotional": 0,
            "maxNotional": 50_000,
            "maintenanceMarginRate": 0.004,
            "maxLeverage": 125,
            "info": {},
        },
    ]
    tiers = tiers_from_ccxt(rows)
    assert [t.notional_floor for t in tiers] == [0, 50_000]
    assert tiers[1].maintenance_amount == pytest.approx(50.0)  # 50k x (0.005 - 0.004)
    with_cum = [{**rows[0], "info": {"cum": "49.5"}}, rows[1]]
    assert tiers_from_ccxt(with_cum)[1].maintenance_amount == 49.5
    bybit = [{**rows[0], "info": {"mmDeduction": "48"}}, rows[1]]
    assert tiers_from_ccxt(bybit)[1].maintenance_amount == 48.0


def test_tier_without_a_rate_is_refused() -> None:
    with pytest.raises(ConversionError, match="no maintenance rate"):
        tiers_from_ccxt([{"symbol": "X/USDT:USDT", "minNotional": 0}])


def test_hyperliquid_tier_is_half_the_initial_rate_at_max_leverage() -> None:
    [tier] = hyperliquid_tiers({"symbol": "BTC/USDC:USDC", "info": {"maxLeverage": "40"}})
    assert tier.maintenance_margin_rate == pytest.approx(1 / 80)
    assert tier.notional_cap == math.inf and tier.maintenance_amount == 0


def test_market_steps_in_both_precision_modes() -> None:
    m = {
        "symbol": "BTC/USDT:USDT",
        "precision": {"amount": 3, "price": 1},
        "limits": {"amount": {"min": 0.001}, "cost": {"min": 100}},
        "contractSize": 1,
    }
    assert market_from_ccxt(m, DECIMAL_PLACES).amount_step == pytest.approx(0.001)
    tick = {**m, "precision": {"amount": 0.001, "price": 0.1}}
    market = market_from_ccxt(tick, TICK_SIZE)
    assert (market.amount_step, market.price_tick, market.min_notional) == (0.001, 0.1, 100.0)


def test_only_hyperliquid_holds_reducing_orders_to_its_minimum_value() -> None:
    m = {"symbol": "XRP/USDC:USDC", "precision": {"amount": 0.1}, "limits": {"cost": {"min": 10}}}
    assert market_from_ccxt(m, TICK_SIZE, "hyperliquid").reduce_min_notional == 10.0
    for exchange in ("binanceusdm", "aster", "bybit"):  # "MIN_NOTIONAL ... except reduceOnly"
        assert market_from_ccxt(m, TICK_SIZE, exchange).reduce_min_notional == 0.0


def test_leverage_from_initial_margin_when_the_row_has_none() -> None:
    row = {
        "leverage": None,
        "notional": 4750.0,
        "info": {"notional": "-4750", "positionInitialMargin": "475.00001"},
    }
    assert leverage_of(row) == 10.0
    assert leverage_of({"leverage": "0", "info": {}}) is None  # portfolio-margin rows report 0


def test_position_uses_the_fallback_leverage_and_keeps_exchange_figures() -> None:
    raw = {
        "symbol": "ETH/USDT:USDT",
        "side": "short",
        "contracts": 2,
        "entryPrice": 3000,
        "markPrice": None,
        "marginMode": "isolated",
        "liquidationPrice": 3500.5,
        "collateral": 1200.0,
        "info": {"positionMM": "30"},
    }
    p = position_from_ccxt(raw, mark_price=3100.0, leverage=5.0)
    assert (p.side, p.mark_price, p.leverage, p.margin_mode) == (Side.SHORT, 3100.0, 5.0, MarginMode.ISOLATED)
    assert p.isolated_margin == 1200.0
    assert p.exchange_liquidation_price == 3500.5 and p.exchange_maintenance_margin == 30.0
    with pytest.raises(ConversionError, match="no leverage"):
        position_from_ccxt(raw, mark_price=3100.0)


def test_conditional_market_order_is_a_stop_on_mark_or_last() -> None:
    o = order_from_ccxt(
        {
            "symbol": "SOL/USDT:USDT",
            "side": "sell",
            "type": "market",
            "amount": 3,
            "id": "1",
            "triggerPrice": 150.0,
            "reduceOnly": True,
            "info": {"triggerBy": "LastPrice"},
        }
    )
    assert (o.type, o.trigger_price, o.working_type, o.price) == ("stop_market", 150.0, "last", None)
    assert o.is_stop and o.reduce_only


def test_a_bybit_close_on_trigger_stop_without_quantity_closes_the_position() -> None:
    raw = {"symbol": "BTC/USDT:USDT", "side": "sell", "type": "market", "id": "9", "triggerPrice": 80_000.0}
    whole = order_from_ccxt({**raw, "amount": 0, "reduceOnly": True, "info": {"closeOnTrigger": True}})
    assert whole.close_position and whole.amount is None and whole.is_stop
    part = order_from_ccxt({**raw, "amount": 0.1, "reduceOnly": True, "info": {"closeOnTrigger": True}})
    assert not part.close_position and part.amount == 0.1


@pytest.mark.parametrize(("idx", "leg"), [(0, None), (1, "long"), (2, "short"), ("2", "short")])
def test_a_bybit_order_names_its_hedge_leg_by_position_idx(idx: object, leg: str | None) -> None:
    raw = {"symbol": "BTC/USDT:USDT", "side": "buy", "type": "limit", "amount": 1, "id": "7", "price": 1.0}
    assert order_from_ccxt({**raw, "info": {"positionIdx": idx}}).position_side == leg


def test_wallet_balance_from_each_venue_shape() -> None:
    binance = {
        "info": {
            "assets": [{"asset": "BNB", "walletBalance": "1"}, {"asset": "USDT", "walletBalance": "950.5"}]
        }
    }
    aster = {"info": [{"asset": "USDT", "balance": "10", "availableBalance": "5"}]}
    bybit = {"info": {"result": {"list": [{"coin": [{"coin": "USDT", "walletBalance": "123.4"}]}]}}}
    assert wallet_balance_of("binanceusdm", binance, "USDT", []) == 950.5
    assert wallet_balance_of("aster", aster, "USDT", []) == 10.0
    assert wallet_balance_of("bybit", bybit, "USDT", []) == 123.4
    assert wallet_balance_of("binanceusdm", {"info": {"assets": []}}, "USDT", []) == 0.0  # never funded
