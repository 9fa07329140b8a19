"""Exposure: correlated clusters, beta-weighted net, sectors, portfolio volatility and VaR."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardbot.domain import AccountSnapshot, Position, Side
from guardbot.risk.correlation import CorrelationReport, correlation_report
from guardbot.risk.exposure import Z95, Z99, exposure_report

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
SOL = "SOL/USDT:USDT"
DOGE = "DOGE/USDT:USDT"


def prices(log_returns: np.ndarray, start: float = 100.0) -> list[float]:
    return list(start * np.exp(np.concatenate([[0.0], np.cumsum(log_returns)])))


def walk(seed: int, n: int = 1000, vol: float = 0.01) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, vol, n)


def book(*positions: Position, wallet: float = 100_000.0) -> AccountSnapshot:
    return AccountSnapshot("binanceusdm", wallet, positions)


def pos(symbol: str, side: Side, contracts: float, mark: float, entry: float | None = None) -> Position:
    return Position(symbol, side, contracts, entry if entry is not None else mark, mark, leverage=10)


@pytest.fixture(scope="module")
def corr() -> CorrelationReport:
    f = walk(1)
    return correlation_report(
        {
            BTC: prices(f + walk(2, vol=0.002)),
            ETH: prices(1.5 * f + walk(3, vol=0.003)),
            SOL: prices(2.0 * f + walk(4, vol=0.004)),
            DOGE: prices(walk(5)),
        },
        BTC,
        0.8,
        "1h",
    )


def test_cluster_and_beta_weighted_exposure_sum_signed_notionals(corr: CorrelationReport) -> None:
    snap = book(
        pos(BTC, Side.LONG, 1, 50_000),  # +50k
        pos(ETH, Side.LONG, 10, 3_000),  # +30k
        pos(SOL, Side.SHORT, 100, 100),  # -10k
        pos(DOGE, Side.LONG, 100_000, 0.1),  # +10k, uncorrelated
    )
    rep = exposure_report(snap, corr)
    assert rep.equity == 100_000
    assert rep.gross_notional == pytest.approx(100_000)
    assert rep.net_notional == pytest.approx(80_000)
    [cluster] = rep.clusters
    assert cluster.held == (BTC, ETH, SOL)
    assert cluster.signed_notional == pytest.approx(70_000)
    assert cluster.gross_notional == pytest.approx(90_000)
    assert cluster.pct_of_equity == pytest.approx(70.0)
    assert rep.cluster_of(DOGE) is None
    b = corr.betas
    expected = 50_000 + 30_000 * b[ETH] - 10_000 * b[SOL] + 10_000 * b[DOGE]
    assert rep.beta_weighted_net == pytest.approx(expected)
    # BTC carries its own noise (4 % of its variance), which attenuates the betas by 1 / 1.04
    assert b[ETH] == pytest.approx(1.5 / 1.04, abs=0.05) and b[SOL] == pytest.approx(2.0 / 1.04, abs=0.05)
    assert rep.beta_weighted_net_pct == pytest.approx(expected / 1_000)


def test_hedge_mode_legs_of_one_symbol_net_out(corr: CorrelationReport) -> None:
    snap = book(pos(BTC, Side.LONG, 2, 50_000), pos(BTC, Side.SHORT, 1, 50_000))
    rep = exposure_report(snap, corr)
    assert rep.gross_notional == pytest.approx(150_000)
    assert rep.beta_weighted_net == pytest.approx(50_000)
    assert rep.clusters[0].signed_notional == pytest.approx(50_000)


def test_anticorrelated_member_adds_to_the_cluster_bet() -> None:
    f = walk(10)
    corr = correlation_report({BTC: prices(f), "INV": prices(-f + walk(11, vol=0.001))}, BTC, 0.8)
    # long BTC + short an asset that moves against BTC: both lose when BTC falls
    rep = exposure_report(book(pos(BTC, Side.LONG, 1, 50_000), pos("INV", Side.SHORT, 100, 100)), corr)
    assert rep.clusters[0].signs == (1, -1)
    assert rep.clusters[0].signed_notional == pytest.approx(60_000)


def test_sector_gross_net_and_percent_of_equity(corr: CorrelationReport) -> None:
    snap = book(
        pos(BTC, Side.LONG, 1, 50_000),
        pos(ETH, Side.LONG, 10, 3_000),
        pos(SOL, Side.SHORT, 100, 100),
        pos(DOGE, Side.LONG, 100_000, 0.1),
        wallet=200_000,
    )
    sectors = {"L1": ["ETH", SOL], "majors": [BTC, ETH], "memes": ["PEPE"]}
    rep = exposure_report(snap, corr, sectors)
    l1 = rep.sector("L1")  # "ETH" (a base asset) matches ETH/USDT:USDT
    assert l1.held == (ETH, SOL)
    assert (l1.gross_notional, l1.net_notional) == pytest.approx((40_000, 20_000))
    assert (l1.gross_pct_of_equity, l1.net_pct_of_equity) == pytest.approx((20.0, 10.0))
    assert rep.sector("majors").gross_notional == pytest.approx(80_000)
    assert rep.sector("memes").held == () and rep.sector("memes").gross_notional == 0
    assert rep.unassigned == (DOGE,)


def test_var_of_one_position_is_z_times_notional_times_daily_vol(corr: CorrelationReport) -> None:
    rep = exposure_report(book(pos(ETH, Side.SHORT, 10, 3_000)), corr)
    daily = 30_000 * corr.volatility[ETH] * math.sqrt(24)
    assert rep.portfolio_vol_1d == pytest.approx(daily, rel=1e-12)
    assert rep.var95_1d == pytest.approx(Z95 * daily, rel=1e-12)
    assert rep.var99_1d == pytest.approx(Z99 * daily, rel=1e-12)
    assert (round(Z95, 4), round(Z99, 4)) == (1.6449, 2.3263)


def test_var_scales_with_the_square_root_of_bars_per_day() -> None:
    closes = {BTC: prices(walk(20)), ETH: prices(walk(21))}
    snap = book(pos(BTC, Side.LONG, 1, 50_000), pos(ETH, Side.SHORT, 10, 3_000))
    hourly = exposure_report(snap, correlation_report(closes, BTC, 0.8, "1h"))
    four_hourly = exposure_report(snap, correlation_report(closes, BTC, 0.8, "4h"))
    quarter = exposure_report(snap, correlation_report(closes, BTC, 0.8, "15m"))
    assert hourly.var99_1d is not None and four_hourly.var99_1d is not None and quarter.var95_1d is not None
    assert hourly.var99_1d == pytest.approx(2 * four_hourly.var99_1d, rel=1e-12)  # sqrt(24 / 6)
    assert quarter.var95_1d == pytest.approx(2 * (hourly.var95_1d or 0), rel=1e-12)  # sqrt(96 / 24)


def test_diversified_book_has_less_var_than_the_sum_of_its_parts(corr: CorrelationReport) -> None:
    a, b = pos(BTC, Side.LONG, 1, 50_000), pos(DOGE, Side.LONG, 500_000, 0.1)
    both = exposure_report(book(a, b), corr).var99_1d
    alone = [exposure_report(book(p), corr).var99_1d for p in (a, b)]
    assert both is not None and alone[0] is not None and alone[1] is not None
    assert both < alone[0] + alone[1]
    # a hedged pair inside a cluster nets most of its risk away
    hedged = exposure_report(book(a, pos(ETH, Side.SHORT, 50_000 / 3_000 / 1.5, 3_000)), corr).var99_1d
    assert hedged is not None and hedged < 0.3 * alone[0]


def test_stressed_var_uses_worst_decile_correlations(corr: CorrelationReport) -> None:
    rep = exposure_report(book(pos(BTC, Side.LONG, 1, 50_000), pos(ETH, Side.LONG, 10, 3_000)), corr)
    assert rep.stressed_var99_1d is not None and rep.stressed_var99_1d > 0


def test_position_without_closes_follows_the_benchmark(corr: CorrelationReport) -> None:
    snap = book(pos("NEW/USDT:USDT", Side.LONG, 1_000, 20))
    rep = exposure_report(snap, corr)
    assert rep.betas["NEW/USDT:USDT"] == 1.0
    assert rep.beta_weighted_net == pytest.approx(20_000)
    assert rep.portfolio_vol_1d == pytest.approx(20_000 * corr.volatility[BTC] * math.sqrt(24))
    assert any("NEW/USDT:USDT" in n and "beta 1.0" in n for n in rep.notes)


def test_without_correlation_betas_are_one_and_there_is_no_var() -> None:
    snap = book(pos(BTC, Side.LONG, 1, 50_000), pos(ETH, Side.SHORT, 10, 3_000))
    rep = exposure_report(snap, None)
    assert rep.beta_weighted_net == pytest.approx(20_000)
    assert rep.var95_1d is None and rep.clusters == ()
    assert rep.notes


def test_equity_defaults_to_wallet_plus_unrealized_pnl_and_can_be_given(corr: CorrelationReport) -> None:
    snap = book(pos(BTC, Side.LONG, 1, 50_000, entry=40_000), wallet=40_000)
    assert exposure_report(snap, corr).equity == 50_000
    rep = exposure_report(snap, corr, equity=25_000)
    assert rep.clusters == () or rep.clusters[0].pct_of_equity == pytest.approx(200.0)
    assert rep.beta_weighted_net_pct == pytest.approx(200.0)
    broke = exposure_report(snap, corr, equity=0.0)
    assert broke.beta_weighted_net_pct is None and any("not positive" in n for n in broke.notes)


def test_report_is_json_friendly(corr: CorrelationReport) -> None:
    rep = exposure_report(book(pos(BTC, Side.LONG, 1, 50_000)), corr, {"majors": [BTC]})
    data = json.loads(json.dumps(rep.to_dict(), allow_nan=False))
    assert data["var_horizon"] == "1d"
    assert data["sectors"][0]["sector"] == "majors"


@settings(max_examples=50, deadline=None)
@given(
    st.floats(0.01, 10),
    st.floats(0.01, 100),
    st.floats(0.01, 1_000),
    st.sampled_from([0.5, 2.0, 7.5, 33.0]),
)
def test_beta_weighted_exposure_and_var_are_linear_in_position_size(
    btc: float, eth: float, sol: float, k: float
) -> None:
    corr = _HYPO_CORR
    base = book(
        pos(BTC, Side.LONG, btc, 50_000), pos(ETH, Side.SHORT, eth, 3_000), pos(SOL, Side.LONG, sol, 100)
    )
    scaled = base.with_positions(tuple(p.with_contracts(p.contracts * k) for p in base.positions))
    a, b = exposure_report(base, corr, equity=1e6), exposure_report(scaled, corr, equity=1e6)
    assert b.beta_weighted_net == pytest.approx(k * a.beta_weighted_net, rel=1e-9, abs=1e-6)
    assert b.clusters[0].signed_notional == pytest.approx(
        k * a.clusters[0].signed_notional, rel=1e-9, abs=1e-6
    )
    assert b.var99_1d == pytest.approx(k * (a.var99_1d or 0), rel=1e-9, abs=1e-6)


_f = walk(90)
_HYPO_CORR = correlation_report(
    {BTC: prices(_f), ETH: prices(1.5 * _f + walk(91, vol=0.003)), SOL: prices(2 * _f + walk(92, vol=0.004))},
    BTC,
    0.8,
)
