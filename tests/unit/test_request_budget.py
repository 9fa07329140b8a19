"""The interval is checked against each venue's request limit, with ccxt's own figures."""

from __future__ import annotations

from pathlib import Path

import ccxt
import pytest

from guardbot.config import ConfigError, load_settings
from guardbot.request_budget import COSTS, budget_line, min_interval_s


@pytest.mark.parametrize("exchange", sorted(COSTS))
def test_the_rate_limits_are_ccxts(exchange: str) -> None:
    assert COSTS[exchange].rate_limit_ms == getattr(ccxt, exchange)().rateLimit


def test_binance_costs_are_ccxts_cost_table() -> None:
    api = ccxt.binanceusdm().describe()["api"]
    v3 = api["fapiPrivateV3"]["get"]
    fixed = (
        v3["account"]["cost"] + v3["positionRisk"]["cost"] + api["fapiPublic"]["get"]["premiumIndex"]["cost"]
    )
    orders = api["fapiPrivate"]["get"]["openOrders"], api["fapiPrivate"]["get"]["openAlgoOrders"]
    cost = COSTS["binanceusdm"]
    assert cost.fixed == fixed
    assert cost.per_symbol == sum(o["cost"] for o in orders)
    assert cost.full_orders == sum(o["noSymbol"] for o in orders)  # 80: a full snapshot is 83


def test_the_minimum_interval_is_what_the_budget_sustains() -> None:
    # a 10-symbol book read symbol by symbol: 23 units a snapshot + the full order read once a
    # minute (80) must fit in 70 % of 1,200 units: 23 x 60 / (840 - 80) = 1.82 s
    assert min_interval_s("binanceusdm") == pytest.approx(23 * 60 / (840 - 80))
    # a 40-symbol book reads orders without a symbol: 83 x 60 / 840 = 5.9 s (the "~5 s" stall)
    assert min_interval_s("binanceusdm", 40) == pytest.approx(83 * 60 / 840)
    assert budget_line("binanceusdm", 2.0) is None


def _config(tmp_path: Path, interval: float, base_url: str | None = None) -> Path:
    url = f'base_url = "{base_url}"\n' if base_url else ""
    path = tmp_path / "g.toml"
    path.write_text(
        f"""[[accounts]]
name = "main"
exchange = "binanceusdm"
api_key_env = "K"
api_secret_env = "S"
{url}
[schedule]
interval_s = {interval}
"""
    )
    return path


def test_an_interval_faster_than_the_venue_allows_is_one_line_naming_the_minimum(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(_config(tmp_path, 1), environ={"K": "k", "S": "s"})
    [line] = str(err.value).splitlines()
    assert "schedule.interval_s: 1 s is faster than binanceusdm's request limit" in line
    assert "use at least 2 s (got 1)" in line


def test_the_emulator_is_not_held_to_the_venues_limit(tmp_path: Path) -> None:
    settings = load_settings(_config(tmp_path, 0.2, "http://127.0.0.1:8765"), environ={"K": "k", "S": "s"})
    assert settings.schedule.interval_s == 0.2
    assert not settings.accounts[0].held_to_venue_budget


def test_a_proxy_forwards_to_the_venue_so_it_is_held_to_its_limit(tmp_path: Path) -> None:
    # Exempting every base_url let a proxied account poll faster than Binance allows; ccxt then
    # throttled it for up to a minute at a time (found by the chaos suite as a blind daemon).
    with pytest.raises(ConfigError) as err:
        load_settings(_config(tmp_path, 1, "https://fapi-proxy.example.com"), environ={"K": "k", "S": "s"})
    assert "faster than binanceusdm's request limit" in str(err.value)
