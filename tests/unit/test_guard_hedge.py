"""The guard on hedge-mode books (a long and a short leg on one symbol).

Both legs share one cross liquidation price; cutting the smaller leg alone grows the symbol's net
exposure. Each test is a case that went wrong before: the guard closed a hedging leg "to move its
liquidation away", cut a hedged book into a naked position to meet a cap, left a hedging leg
without a stop, and cut an unprotected hedge first.
"""

from __future__ import annotations

import math

import pytest
from test_guard_support import BTC, ETH, FEES, apply, book, cycles, kinds, pos, protect, quiet, run

from guardbot.domain import AccountSnapshot, Market, PositionMode, Side
from guardbot.guard.rules.liquidation import nearest_distance, symbol_distance
from guardbot.guard.whatif import apply_cut, net_by_symbol
from guardbot.risk.account import measure_account
from guardbot.risk.margin import model_for
from guardbot.sim.markets import BTC_TIERS

HEDGE = PositionMode.HEDGE
MODEL = model_for("binanceusdm")


def hedged(wallet: float, long: float, short: float, *, orders: tuple = (), **kw: object) -> AccountSnapshot:
    return book(
        wallet,
        pos(BTC, Side.LONG, long, 50_000),
        pos(BTC, Side.SHORT, short, 50_000),
        orders=orders,
        position_mode=HEDGE,
        **kw,  # type: ignore[arg-type]
    )


def binance_btc(s: AccountSnapshot) -> AccountSnapshot:
    """The same book on Binance's published BTCUSDT brackets (as the emulator serves them)."""
    market = Market(BTC, 0.001, 0.001, 100, 0.1)
    return AccountSnapshot(
        s.exchange,
        s.wallet_balance,
        s.positions,
        {BTC: BTC_TIERS, ETH: BTC_TIERS},
        {BTC: market, ETH: Market(ETH, 0.01)},
        fees=FEES,
        open_orders=s.open_orders,
        position_mode=s.position_mode,
        account="main",
    )


def test_the_liquidation_cut_never_closes_the_hedging_leg() -> None:
    """Long 1 + short 2 BTC at 50,000, wallet 2,600: liquidation 51,921 (3.8 % above). Closing the
    long (what the guard used to do: a closed leg "has no liquidation price") brings it to 51,057
    (2.1 %). The guard must cut the short, and the distance must grow."""
    s = binance_btc(hedged(2_600, 1, 2))
    before = symbol_distance(s, BTC, MODEL)
    assert before == pytest.approx(3.842, abs=1e-3)
    limits = quiet(liquidation_warn_pct=5.0, liquidation_reduce_pct=4.5, confirm_readings=1)
    decisions, _ = run(s, limits=limits)
    cuts = kinds(decisions, "reduce") + kinds(decisions, "close")
    assert cuts, "the symbol is 3.8 % from liquidation: a cut is due"
    assert {(d.side, d.rule) for d in cuts} == {(Side.SHORT, "liquidation")}
    after = apply(s, decisions)
    d_after = symbol_distance(after, BTC, MODEL)
    assert d_after is not None and d_after >= 5.0 > before
    assert abs(net_by_symbol(after)[BTC]) < abs(net_by_symbol(s)[BTC])
    # what the old behaviour did is worse, measured the same way
    long_closed = apply_cut(s, BTC, Side.LONG, 1, FEES.taker)
    assert symbol_distance(long_closed, BTC, MODEL) == pytest.approx(2.114, abs=1e-3)


def test_a_cut_that_is_no_progress_is_not_sent() -> None:
    """A flat-net hedged symbol whose maintenance alone is near the pool: the only cut that helps is
    both legs together; the guard never cuts one leg alone, and says so when nothing helps."""
    s = binance_btc(hedged(1_000, 2, 2))
    limits = quiet(liquidation_warn_pct=50.0, liquidation_reduce_pct=45.0, confirm_readings=1)
    decisions, _ = run(s, limits=limits)
    after = apply(s, decisions)
    net = net_by_symbol(after).get(BTC, 0.0)
    assert net == pytest.approx(0.0, abs=1e-12)
    d0, d1 = nearest_distance(s, MODEL), nearest_distance(after, MODEL)
    assert d0 is not None and (d1 is None or d1 > d0)


def test_a_leverage_cap_on_a_hedged_book_never_creates_net_exposure() -> None:
    """Long 2 / short 1.9 BTC (net +0.1) over the hard leverage cap: the cut used to take the largest
    leg (long 2 -> 0.098, net -1.8: a +10 % move went from +500 to -9,010). Now: the net 0.1 first,
    then both legs together."""
    s = hedged(20_000, 2, 1.9)
    assert measure_account(s).effective_leverage == pytest.approx(9.75)
    limits = quiet(leverage_warn=5.0, leverage_hard=8.0, confirm_readings=1)
    decisions, _ = run(s, limits=limits)
    after = apply(s, decisions)
    legs = {p.side: p.contracts for p in after.positions}
    assert legs[Side.LONG] == pytest.approx(legs[Side.SHORT])  # net 0: the 0.1 went first
    assert legs[Side.LONG] == pytest.approx(1.6, abs=0.003)  # 8x of 20,000 (less the fees)
    assert measure_account(after).effective_leverage <= 8.0 + 1e-9

    def pnl_of_10pct_rise(book: AccountSnapshot) -> float:
        return sum(p.side.sign * p.size * 5_000 for p in book.positions)

    assert pnl_of_10pct_rise(s) == pytest.approx(500)
    assert pnl_of_10pct_rise(after) == pytest.approx(0.0, abs=1e-9)


def test_a_symbol_cap_cuts_net_side_then_pairs() -> None:
    s = hedged(100_000, 3, 1)  # 200,000 of BTC notional, net long 2
    limits = quiet(max_symbol_notional_pct=150.0, confirm_readings=1)
    decisions, _ = run(s, limits=limits)
    after = apply(s, decisions)
    legs = {p.side: p.contracts for p in after.positions}
    assert legs == {Side.LONG: pytest.approx(2.0, abs=0.002), Side.SHORT: 1}  # only the net side
    assert all(d.side is Side.LONG for d in kinds(decisions, "reduce"))


def test_every_leg_gets_a_stop_even_the_hedging_one() -> None:
    """Long 2 / short 1.9: the symbol's liquidation (if any) is far below, on the long's side. The
    short's stop is a buy above the mark, which that price does not bound; it used to get none."""
    s = hedged(20_000, 2, 1.9)
    limits = quiet(new_position_grace_s=0, default_stop_pct=5.0)
    decisions, _ = run(s, limits=limits)
    stops = {d.side: d for d in kinds(decisions, "place_stop")}
    assert set(stops) == {Side.LONG, Side.SHORT}
    assert stops[Side.SHORT].trigger_price == pytest.approx(52_500)
    assert stops[Side.SHORT].order_side == "buy" and stops[Side.SHORT].quantity == pytest.approx(1.9)
    assert stops[Side.LONG].trigger_price == pytest.approx(47_500)


def test_the_hedging_legs_stop_is_not_clamped_by_the_other_sides_liquidation() -> None:
    """Long 1 + short 2 at 50,000, wallet 2,600: liquidation 51,921 above the mark. The short's stop
    must sit below it (5 % would be beyond: clamped); the long's stop, below the mark, is free."""
    s = binance_btc(hedged(2_600, 1, 2))
    limits = quiet(new_position_grace_s=0, default_stop_pct=5.0, stop_buffer_pct=1.0)
    decisions, _ = run(s, limits=limits)
    stops = {d.side: d for d in kinds(decisions, "place_stop")}
    assert stops[Side.LONG].trigger_price == pytest.approx(47_500)
    liq = measure_account(s).positions[0].liquidation_price
    assert liq is not None
    short_trigger = stops[Side.SHORT].trigger_price
    assert short_trigger is not None and short_trigger <= liq - 0.01 * 50_000 + 0.1


def test_the_planner_cuts_an_unprotected_hedge_last_and_only_with_its_pair() -> None:
    """BTC long 2 (protected) / short 1 (no stop) and an ETH long: the margin-ratio cut used to pick
    the unprotected BTC short first — growing BTC's net long. Now the hedge is never cut alone."""
    btc_long, btc_short = pos(BTC, Side.LONG, 2, 50_000), pos(BTC, Side.SHORT, 1, 50_000)
    eth = pos(ETH, Side.LONG, 20, 3_000)
    s = book(3_000, btc_long, btc_short, eth, orders=[protect(btc_long), protect(eth)], position_mode=HEDGE)
    limits = quiet(
        margin_ratio_warn=0.5, margin_ratio_reduce=0.6, margin_ratio_flatten=0.99, margin_ratio_target=0.4
    )
    decisions, _ = cycles(s, 2, limits)
    last = decisions[-1]
    cuts = kinds(last, "reduce") + kinds(last, "close")
    assert cuts
    before, after = net_by_symbol(s), net_by_symbol(apply(s, last))
    for symbol, net in after.items():
        assert abs(net) <= abs(before[symbol]) + 1e-9
    short_cut = sum(d.quantity or 0 for d in cuts if d.symbol == BTC and d.side is Side.SHORT)
    long_cut = sum(d.quantity or 0 for d in cuts if d.symbol == BTC and d.side is Side.LONG)
    assert short_cut <= max(0.0, long_cut - 1.0) + 1e-9  # the short only goes with the long's excess gone


@pytest.mark.parametrize("confirm", [1, 2])
def test_one_way_books_behave_as_before(confirm: int) -> None:
    """A plain one-way long over the leverage cap: cut just enough, as always."""
    s = book(10_000, pos(BTC, Side.LONG, 2, 50_000))
    decisions, _ = cycles(s, confirm, quiet(leverage_warn=5, leverage_hard=8, confirm_readings=confirm))
    [cut] = kinds(decisions[-1], "reduce")
    # 0.4 BTC brings gross to 8x of 10,000; the fee on it takes equity just under, one more step
    assert cut.side is Side.LONG and cut.quantity == pytest.approx(0.402)
    assert math.isclose(measure_account(apply(s, [cut])).effective_leverage, 8.0, rel_tol=1e-3)
