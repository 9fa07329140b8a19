"""Rule 5: leverage, per-symbol, correlated-cluster, sector and beta-weighted exposure limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from test_guard_support import (
    BTC,
    ETH,
    SOL,
    assert_never_increases,
    book,
    cycles,
    kinds,
    on_step,
    pos,
    protect,
    quiet,
)

from guardbot.domain import AccountSnapshot, Position, Side
from guardbot.guard.decisions import Decision
from guardbot.guard.limits import GuardLimits
from guardbot.guard.rules.exposure import (
    cluster_pct,
    clusters,
    leverage,
    net_beta_pct,
    sector_pct,
    symbol_pct,
)
from guardbot.guard.whatif import apply_cut


def protected(wallet: float, *positions: Position) -> AccountSnapshot:
    return book(wallet, *positions, orders=[protect(p) for p in positions])


def confirmed(s: AccountSnapshot, limits: GuardLimits, **kw: Any) -> list[Decision]:
    (_, second), _ = cycles(s, 2, limits, **kw)
    return second


def cut_and_check(
    s: AccountSnapshot,
    decisions: list[Decision],
    rule: str,
    metric: Callable[[AccountSnapshot], float],
    cap: float,
) -> Decision:
    """The rule's single cut gets the metric under the cap, and one lot step less would not."""
    [d] = [x for x in decisions if x.rule == rule and x.kind in ("reduce", "close")]
    assert_never_increases(s, decisions)
    step = s.markets[d.symbol or ""].amount_step
    assert on_step(d.quantity or 0, step)
    after = apply_cut(s, d.symbol or "", d.side or Side.LONG, d.quantity or 0, s.fees.taker)
    assert metric(after) <= cap
    if d.kind == "reduce":
        less = apply_cut(s, d.symbol or "", d.side or Side.LONG, (d.quantity or 0) - step, s.fees.taker)
        assert metric(less) > cap
    return d


def test_leverage_above_soft_limit_only_alerts() -> None:
    s = protected(10_000, pos(BTC, Side.LONG, 1, 50_000), pos(ETH, Side.LONG, 3, 3_000))  # 5.9x
    decisions = confirmed(s, quiet(leverage_warn=5, leverage_hard=8))
    [a] = kinds(decisions, "alert", "leverage")
    assert a.level == "warning" and "effective leverage 5.90x > warn 5x" in a.reason
    assert not [d for d in decisions if d.is_order]


def test_leverage_above_hard_limit_cuts_the_largest_leg_just_enough() -> None:
    s = protected(10_000, pos(BTC, Side.LONG, 1, 50_000), pos(ETH, Side.LONG, 10, 4_000))  # 9x
    decisions = confirmed(s, quiet(leverage_warn=5, leverage_hard=8))
    d = cut_and_check(s, decisions, "leverage", leverage, 8.0)
    assert d.symbol == BTC and "effective leverage 9.00x > hard 8x" in d.reason


def test_symbol_notional_cap() -> None:
    s = protected(10_000, pos(BTC, Side.LONG, 1, 50_000))  # 500 %
    decisions = confirmed(s, quiet(max_symbol_notional_pct=200))
    d = cut_and_check(s, decisions, "symbol_cap", symbol_pct(BTC), 200.0)
    assert "BTC notional 500% of equity > cap 200%" in d.reason


def test_correlated_cluster_cap_cuts_the_biggest_member() -> None:
    s = protected(10_000, pos(BTC, Side.LONG, 0.4, 50_000), pos(ETH, Side.LONG, 5, 3_000))  # 350 %
    corr = {(BTC, ETH): 0.9}
    decisions = confirmed(s, quiet(max_cluster_pct=300, cluster_threshold=0.8), correlations=corr)
    signs = clusters([BTC, ETH], corr, 0.8)[0]
    d = cut_and_check(s, decisions, "cluster_cap", cluster_pct(signs), 300.0)
    assert d.symbol == BTC and "correlated cluster BTC+ETH 350% of equity > cap 300%" in d.reason


def test_long_and_short_of_anti_correlated_symbols_are_one_bet() -> None:
    [signs] = clusters([BTC, SOL], {(SOL, BTC): -0.85}, 0.8)
    assert signs == {BTC: 1, SOL: -1}
    s = protected(10_000, pos(BTC, Side.LONG, 0.4, 50_000), pos(SOL, Side.SHORT, 150, 100))
    assert cluster_pct(signs)(s) == 350.0
    hedged = protected(10_000, pos(BTC, Side.LONG, 0.4, 50_000), pos(SOL, Side.LONG, 150, 100))
    assert cluster_pct(signs)(hedged) == 50.0


def test_no_cluster_without_correlations_above_threshold() -> None:
    assert clusters([BTC, ETH, SOL], {(BTC, ETH): 0.5}, 0.8) == []


def test_sector_cap_by_base_asset_names() -> None:
    s = protected(10_000, pos(BTC, Side.LONG, 0.4, 50_000), pos(ETH, Side.SHORT, 5, 3_000))  # 350 % gross
    limits = quiet(sectors={"majors": ("BTC", "ETH")}, sector_caps={"majors": 300.0})
    decisions = confirmed(s, limits)
    d = cut_and_check(s, decisions, "sector_cap", sector_pct({"BTC", "ETH"}), 300.0)
    assert "sector majors gross 350% of equity > cap 300%" in d.reason


def test_beta_weighted_net_cap_cuts_the_biggest_beta_contributor() -> None:
    betas = {BTC: 1.0, ETH: 1.5}
    s = protected(
        10_000, pos(BTC, Side.LONG, 0.4, 50_000), pos(ETH, Side.LONG, 5, 3_000)
    )  # 200 + 225 = 425 %
    decisions = confirmed(s, quiet(max_net_beta_pct=400), betas=betas)
    d = cut_and_check(s, decisions, "net_beta", net_beta_pct(betas), 400.0)
    assert d.symbol == ETH


def test_a_short_hedge_is_not_cut_for_net_beta() -> None:
    betas = {BTC: 1.0, ETH: 1.0}
    s = protected(10_000, pos(BTC, Side.LONG, 1, 50_000), pos(ETH, Side.SHORT, 1, 3_000))
    decisions = confirmed(s, quiet(max_net_beta_pct=400), betas=betas)
    assert {d.symbol for d in decisions if d.rule == "net_beta" and d.is_order} == {BTC}


def test_dust_only_book_raises_nothing() -> None:
    s = protected(0.5, pos(ETH, Side.LONG, 0.002, 3_000))  # 6 of notional at 12x
    out, _ = cycles(s, 3, quiet(leverage_warn=5, leverage_hard=8, max_symbol_notional_pct=200))
    assert all(d == [] for d in out)
