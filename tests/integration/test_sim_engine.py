"""The emulator's books: liquidation, isolated margin, fees, scenarios and the control API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from guardbot.domain import MarginMode, Side
from guardbot.sim import (
    Rejection,
    Scenario,
    ScenarioError,
    Shock,
    SimAccount,
    SimError,
    SimExchange,
    SimServer,
    load_scenario,
)

BTC = "BTC/USDT:USDT"


def test_cross_liquidation_at_margin_ratio_one_closes_every_cross_position() -> None:
    ex = SimExchange()
    acct = ex.create_account(wallet=2_500.0)
    ex.open_position(acct.api_key, "BTCUSDT", "long", 0.3, leverage=20)
    ex.open_position(acct.api_key, "ETHUSDT", "long", 3.0, leverage=20)
    ex.open_position(acct.api_key, "SOLUSDT", "short", 20, leverage=10, margin_mode="isolated")
    liq = ex.account_figures(acct.api_key).position(BTC).liquidation_price
    assert liq is not None
    ex.set_mark("BTCUSDT", liq * 1.0005)
    assert ex.liquidations == [] and ex.account_figures(acct.api_key).margin_ratio < 1.0
    wallet_before = acct.wallet
    ex.set_mark("BTCUSDT", liq * 0.9995)
    [event] = ex.liquidations
    assert event.margin_mode is MarginMode.CROSS and event.margin_ratio >= 1.0
    assert {p.symbol for p in event.positions} == {"BTCUSDT", "ETHUSDT"}
    assert set(acct.positions) == {("SOLUSDT", "BOTH")}  # the isolated position survives
    iso = acct.positions[("SOLUSDT", "BOTH")].isolated_wallet
    assert acct.wallet < wallet_before and acct.wallet >= iso  # the cross pool took the loss, >= 0


def test_cross_liquidation_floors_the_cross_pool_at_zero() -> None:
    ex = SimExchange()
    acct = ex.create_account(wallet=1_000.0)
    ex.open_position(acct.api_key, "BTCUSDT", "long", 0.2, leverage=20)
    ex.set_mark("BTCUSDT", 80_000.0)  # a gap far through the liquidation price: bankrupt
    assert acct.positions == {} and acct.wallet == 0.0
    assert ex.liquidations[0].wallet_after == 0.0


def test_isolated_position_liquidates_alone_at_its_own_price() -> None:
    ex = SimExchange()
    acct = ex.create_account(wallet=10_000.0)
    ex.open_position(acct.api_key, "ETHUSDT", "long", 2.0, leverage=25, margin_mode="isolated")
    ex.open_position(acct.api_key, "BTCUSDT", "short", 0.05, leverage=10)
    liq = ex.account_figures(acct.api_key).position("ETH/USDT:USDT").liquidation_price
    assert liq is not None and 3_300 * 0.95 < liq < 3_300
    iso = acct.positions[("ETHUSDT", "BOTH")].isolated_wallet
    wallet_before = acct.wallet
    ex.set_mark("ETHUSDT", liq - 0.01)
    [event] = ex.liquidations
    assert event.margin_mode is MarginMode.ISOLATED and [p.symbol for p in event.positions] == ["ETHUSDT"]
    assert set(acct.positions) == {("BTCUSDT", "BOTH")}
    assert wallet_before - iso <= acct.wallet < wallet_before  # loss capped at the isolated margin


def test_liquidation_cancels_the_symbols_open_orders() -> None:
    ex = SimExchange()
    acct = ex.create_account(wallet=1_000.0)
    ex.open_position(acct.api_key, "BTCUSDT", "long", 0.15, leverage=20)
    from guardbot.sim import OrderRequest

    stop = ex.place_algo_order(
        acct.api_key,
        OrderRequest("BTCUSDT", "SELL", "STOP_MARKET", trigger_price=80_000.0, close_position=True),
    )
    ex.set_mark("BTCUSDT", 85_000.0)
    assert acct.positions == {} and stop.status == "CANCELED"
    assert ex.open_orders(acct.api_key) == []
    autoclose = [o for o in acct.orders.values() if o.client_order_id.startswith("autoclose-")]
    assert len(autoclose) == 1 and autoclose[0].status == "FILLED"


def test_opening_checks_margin_and_leverage_caps() -> None:
    ex = SimExchange()
    acct = ex.create_account(wallet=1_000.0)
    with pytest.raises(SimError) as err:
        ex.open_position(acct.api_key, "BTCUSDT", "long", 0.3, leverage=20)  # 28.5k / 20 > 1k
    assert err.value.kind is Rejection.INSUFFICIENT_MARGIN and acct.positions == {}
    rich = ex.create_account(wallet=10_000_000.0)
    with pytest.raises(SimError) as err:
        ex.open_position(rich.api_key, "BTCUSDT", "long", 1.0, leverage=125)  # 95k > 50k cap at 125x
    assert err.value.kind is Rejection.ABOVE_LEVERAGE_CAP


def test_slippage_and_fees_move_fills_against_the_taker() -> None:
    ex = SimExchange(slippage_bps=10, taker_fee=0.0004)
    acct = ex.create_account(wallet=10_000.0)
    pos = ex.open_position(acct.api_key, "BTCUSDT", "long", 0.1)
    assert pos.entry_price == pytest.approx(95_095.0)  # 95,000 + 10 bp, on the tick
    assert acct.wallet == pytest.approx(10_000 - 0.1 * 95_095 * 0.0004)


def test_open_position_with_entry_price_builds_pnl_and_isolated_margin() -> None:
    ex = SimExchange()
    acct = ex.create_account(wallet=5_000.0, position_mode="hedge")
    ex.open_position(acct.api_key, "BTCUSDT", "long", 0.1, entry_price=100_000.0)
    ex.open_position(acct.api_key, "BTCUSDT", "short", 0.05, entry_price=90_000.0)
    ex.open_position(
        acct.api_key,
        "ETHUSDT",
        "long",
        1.0,
        margin_mode="isolated",
        isolated_margin=500.0,
        entry_price=3_000.0,
    )
    fig = ex.account_figures(acct.api_key)
    assert fig.unrealized_pnl == pytest.approx(-500 - 250 + 300)
    assert fig.position(BTC, Side.SHORT).position.contracts == 0.05
    assert acct.positions[("ETHUSDT", "LONG")].isolated_wallet == 500.0
    assert acct.wallet == 5_000.0  # written into the books: no fee


def test_history_records_equity_and_margin_ratio_per_tick() -> None:
    ex = SimExchange(scenario=Scenario(vol_scale=1.0), seed=3)
    acct = ex.create_account(wallet=10_000.0)
    ex.open_position(acct.api_key, "BTCUSDT", "long", 0.5, leverage=20)
    n = len(acct.history)
    assert ex.advance(30) == 30
    assert len(acct.history) == n + 30
    t, equity, ratio = acct.history[-1]
    fig = ex.account_figures(acct.api_key)
    assert t == ex.now_ms and equity == pytest.approx(fig.equity) and ratio == pytest.approx(fig.margin_ratio)


def test_scenario_is_deterministic_for_a_seed() -> None:
    crash = load_scenario("crash")

    def path(seed: int) -> list[dict[str, float]]:
        ex = SimExchange(scenario=crash, seed=seed)
        out = []
        for _ in range(5):
            ex.advance(120)
            out.append(dict(ex.marks))
        return out

    assert path(7) == path(7)
    assert path(7) != path(8)
    marks = path(7)[-1]  # at 600 s both legs of the crash are done
    btc_move = marks["BTCUSDT"] / 95_000 - 1
    alt_move = marks["SOLUSDT"] / 180 - 1
    assert -0.22 < btc_move < -0.12 and alt_move < -0.28


def test_shock_with_beta_follow_moves_every_mark() -> None:
    ex = SimExchange(scenario=Scenario(vol_scale=0.0, shocks=(Shock(10, "BTCUSDT", -10, 10, 2.0),)))
    ex.advance(25)
    assert ex.marks["BTCUSDT"] == pytest.approx(85_500, rel=1e-9)
    assert ex.marks["SOLUSDT"] == pytest.approx(180 * 0.8, rel=1e-9)


def test_builtin_scenarios_load() -> None:
    for name in ("calm", "crash", "grind", "squeeze"):
        assert load_scenario(name).name == name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("speed = 2\nshockz = []\n", "unknown key 'shockz'"),
        ("[[shocks]]\nat_s = 10\nsymbol = 'BTC'\n", "shocks[0]: missing 'pct'"),
        ("[[shocks]]\nat_s = 'soon'\nsymbol = 'BTC'\npct = -5\n", "shocks[0].at_s: expected a number"),
        ("[[shocks]]\nat_s = 1\nsymbol = 'PEPE'\npct = -5\n", "unknown symbol 'PEPE'"),
        ("[symbols.ETH]\nvol = 0.5\ncorr = 2\n", "symbols.ETH.corr: expected a number between -1 and 1"),
        ("step_s = 0\n", "step_s: expected a number > 0"),
        ("name = \n", "invalid TOML"),
    ],
)
def test_bad_scenario_file_gives_one_line_naming_the_problem(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(str(f))
    line = str(err.value)
    assert message in line and "\n" not in line and "bad.toml" in line


def test_unknown_scenario_name() -> None:
    with pytest.raises(ScenarioError, match="unknown scenario 'meltdown': expected one of calm, crash"):
        load_scenario("meltdown")


async def test_control_api_builds_accounts_moves_prices_and_dumps_state(
    sim: SimServer, sim_account: SimAccount, binance_client: Any
) -> None:
    url = sim.base_url
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/_sim/accounts", json={"wallet": 5_000, "position_mode": "hedge"}) as r:
            created = await r.json()
        assert created["wallet"] == 5_000 and created["position_mode"] == "hedge"
        body = {"api_key": sim_account.api_key, "symbol": "BTC", "side": "long", "qty": 0.2, "leverage": 10}
        async with http.post(f"{url}/_sim/positions", json=body) as r:
            assert r.status == 200 and (await r.json())["amount"] == 0.2
        async with http.post(f"{url}/_sim/positions", json={**body, "qty": 50}) as r:
            assert r.status == 400 and "-2019" in (await r.json())["error"]
        async with http.post(f"{url}/_sim/mark", json={"symbol": "BTCUSDT", "price": 97_000}) as r:
            assert (await r.json())["marks"]["BTCUSDT"] == 97_000
        async with http.post(f"{url}/_sim/shock", json={"symbol": "BTC", "pct": -2, "beta_follow": 1.5}) as r:
            moved = (await r.json())["marks"]
        assert moved["BTCUSDT"] == pytest.approx(95_060) and moved["ETHUSDT"] == pytest.approx(3_201)
        async with http.post(f"{url}/_sim/advance", json={"seconds": 5}) as r:
            assert (await r.json())["steps"] == 5
        async with http.post(f"{url}/_sim/mark", json={"symbol": "NOPE", "price": 1}) as r:
            assert r.status == 400 and "unknown symbol" in (await r.json())["error"]
        async with http.get(f"{url}/_sim/state") as r:
            state = await r.json()
    [me] = [a for a in state["accounts"] if a["api_key"] == sim_account.api_key]
    assert (
        me["positions"][0]["symbol"] == "BTCUSDT"
        and 40_000 < me["positions"][0]["liquidation_price"] < 50_000
    )
    [pos] = await binance_client.fetch_positions()
    assert pos["markPrice"] == pytest.approx(95_060)
