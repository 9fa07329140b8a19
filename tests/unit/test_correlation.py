"""Correlation, betas, clusters and stressed correlation on constructed price series."""

import json

import numpy as np
import pytest

from guardbot.risk.correlation import bars_per_day, correlation_report

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
SOL = "SOL/USDT:USDT"


def prices(log_returns: np.ndarray, start: float = 100.0) -> list[float]:
    """Closes whose log returns are exactly `log_returns` (oldest first)."""
    return list(start * np.exp(np.concatenate([[0.0], np.cumsum(log_returns)])))


def walk(seed: int, n: int = 1000, vol: float = 0.01) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, vol, n)


def test_perfect_anti_and_independent_correlations() -> None:
    r = walk(1)
    closes = {
        BTC: prices(r, 50_000),
        "TWICE": prices(r, 7),  # same returns, other price level
        "INVERSE": prices(-r, 3),
        "OTHER": prices(walk(2), 10),
    }
    rep = correlation_report(closes, BTC, 0.8)
    assert rep.correlation(BTC, "TWICE") == pytest.approx(1.0, abs=1e-12)
    assert rep.correlation(BTC, "INVERSE") == pytest.approx(-1.0, abs=1e-12)
    assert abs(rep.correlation(BTC, "OTHER")) < 0.1
    assert rep.bars == 1000
    assert np.allclose(rep.matrix, rep.matrix.T)
    assert np.all(np.diag(rep.matrix) == 1.0)


def test_beta_of_a_series_built_as_one_and_a_half_times_the_benchmark() -> None:
    r = walk(3)
    noise = walk(4, vol=0.005)
    rep = correlation_report({BTC: prices(r), ETH: prices(1.5 * r), SOL: prices(1.5 * r + noise)}, BTC, 0.8)
    assert rep.betas[BTC] == 1.0
    assert rep.betas[ETH] == pytest.approx(1.5, rel=1e-12)
    assert rep.betas[SOL] == pytest.approx(1.5, abs=0.05)  # independent noise does not bias beta
    assert rep.volatility[ETH] == pytest.approx(1.5 * rep.volatility[BTC], rel=1e-12)


def test_series_of_different_lengths_are_aligned_on_their_common_tail() -> None:
    r_btc, r_eth = walk(5), walk(6)
    long_eth = prices(r_eth)
    tail = correlation_report({BTC: prices(r_btc), ETH: long_eth[-301:]}, BTC, 0.8)
    same = correlation_report({BTC: prices(r_btc)[-301:], ETH: long_eth[-301:]}, BTC, 0.8)
    assert tail.bars == 300
    assert tail.correlation(BTC, ETH) == pytest.approx(same.correlation(BTC, ETH), abs=1e-12)
    assert any("last 301 common closes" in n for n in tail.notes)


def test_lookback_keeps_only_the_latest_closes() -> None:
    rep = correlation_report({BTC: prices(walk(7)), ETH: prices(walk(8))}, BTC, 0.8, lookback=200)
    assert rep.bars == 199


def test_missing_benchmark_gives_betas_of_one_and_says_so() -> None:
    rep = correlation_report({ETH: prices(walk(9)), SOL: prices(2 * walk(9))}, BTC, 0.8)
    assert rep.betas == {ETH: 1.0, SOL: 1.0}
    assert rep.beta("NOT/THERE") == 1.0
    assert rep.stressed_matrix is None
    assert any("benchmark" in n and "betas default to 1.0" in n for n in rep.notes)


def test_too_short_series_is_left_out_instead_of_shortening_the_others() -> None:
    rep = correlation_report({BTC: prices(walk(10)), ETH: prices(walk(11)), "NEW": [1.0, 1.1, 1.2]}, BTC, 0.8)
    assert rep.symbols == (BTC, ETH)
    assert rep.bars == 1000
    assert any("NEW" in n for n in rep.notes)


def test_clusters_split_by_threshold_with_anticorrelated_members_signed() -> None:
    f1, f2 = walk(20), walk(21)

    def around(f: np.ndarray, seed: int) -> list[float]:
        return prices(f + walk(seed, vol=0.002))

    closes = {
        BTC: around(f1, 30),
        ETH: around(f1, 31),
        "INV": prices(-f1 + walk(32, vol=0.002)),
        "A": around(f2, 33),
        "B": around(f2, 34),
        "LONER": prices(walk(35)),
    }
    rep = correlation_report(closes, BTC, 0.8)
    assert [c.symbols for c in rep.clusters] == [(BTC, ETH, "INV"), ("A", "B")]
    assert rep.clusters[0].signs == (1, 1, -1)  # anchored at the benchmark
    assert rep.cluster_of("LONER") is None
    # a stricter threshold than any pair reaches leaves no cluster
    assert correlation_report(closes, BTC, 0.999).clusters == ()


def test_single_linkage_chains_symbols_through_a_common_neighbour() -> None:
    f1, f2 = walk(40), walk(41)
    mid = f1 + f2  # correlated ~0.7 with each factor, above 0.6; the factors are not
    rep = correlation_report({"X": prices(f1), "M": prices(mid), "Y": prices(f2)}, BTC, 0.6)
    assert abs(rep.correlation("X", "Y")) < 0.6
    assert [c.symbols for c in rep.clusters] == [("X", "M", "Y")]


def test_stressed_correlation_is_higher_than_calm_on_a_regime_switching_sample() -> None:
    rng = np.random.default_rng(50)
    n = 1000
    crash = rng.random(n) < 0.1
    btc = np.where(crash, rng.normal(-0.04, 0.015, n), rng.normal(0.0, 0.01, n))
    # calm: the alt ignores BTC; crash: it follows BTC closely
    alt = np.where(crash, 1.2 * btc + rng.normal(0, 0.004, n), rng.normal(0.0, 0.012, n))
    rep = correlation_report({BTC: prices(btc), ETH: prices(alt)}, BTC, 0.8)
    stressed = rep.stressed_correlation(BTC, ETH)
    assert stressed is not None
    assert rep.stressed_bars == 100
    assert stressed > 0.8
    assert stressed > rep.correlation(BTC, ETH) + 0.2


def test_constant_series_correlates_with_nothing() -> None:
    rep = correlation_report({BTC: prices(walk(60)), "PEG": [1.0] * 500}, BTC, 0.5)
    assert rep.correlation(BTC, "PEG") == 0.0
    assert rep.volatility["PEG"] == 0.0
    assert rep.clusters == ()
    assert any("PEG" in n for n in rep.notes)


@pytest.mark.parametrize(
    ("tf", "bars"), [("15m", 96), ("1h", 24), ("4h", 6), ("1d", 1), ("1w", 1 / 7), ("1M", 1 / 30)]
)
def test_bars_per_day_from_timeframe(tf: str, bars: float) -> None:
    assert bars_per_day(tf) == pytest.approx(bars)


@pytest.mark.parametrize("tf", ["1y", "h", "0h", "1 hour", "", "-1h"])
def test_bad_timeframe_is_one_clear_error(tf: str) -> None:
    with pytest.raises(ValueError, match="expected a count and a unit"):
        bars_per_day(tf)


def test_bad_inputs_name_what_is_wrong() -> None:
    good = prices(walk(70))
    with pytest.raises(ValueError, match=r"closes for ETH/USDT:USDT: expected positive finite prices"):
        correlation_report({BTC: good, ETH: [*good[:-1], -1.0]}, BTC, 0.8)
    with pytest.raises(ValueError, match="threshold"):
        correlation_report({BTC: good}, BTC, 1.5)
    with pytest.raises(ValueError, match="timeframe"):
        correlation_report({BTC: good}, BTC, 0.8, "1x")


def test_report_is_json_friendly() -> None:
    r = walk(80)
    rep = correlation_report({BTC: prices(r), ETH: prices(r + walk(81, vol=0.001))}, BTC, 0.8, "4h")
    data = json.loads(json.dumps(rep.to_dict(), allow_nan=False))
    assert data["symbols"] == [BTC, ETH]
    assert data["timeframe"] == "4h"
    assert data["clusters"] == [{"symbols": [BTC, ETH], "signs": [1, 1]}]
    assert len(data["matrix"]) == 2 and len(data["stressed_matrix"]) == 2


def test_empty_input_gives_an_empty_report() -> None:
    rep = correlation_report({}, BTC, 0.8)
    assert rep.symbols == () and rep.bars == 0 and rep.clusters == ()
    assert rep.notes
