"""The entry path's pure parts: the Intent model's one-line errors, take-profit parsing, and
`plan_intent` / `drift` on a snapshot (no I/O)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from pydantic import ValidationError

from guardbot.config import RiskConfig, Settings
from guardbot.domain import Side
from guardbot.guard.limits import GuardLimits
from guardbot.guard.state import initial_state, lock, set_paused
from guardbot.intents.checks import Refused, drift, intent_symbol, plan_intent
from guardbot.intents.model import Intent, TakeProfit, one_line, parse_take_profit
from guardbot.snapshot_file import load_snapshot

BOOK = load_snapshot(Path(__file__).parents[2] / "guardbot/examples/alt-book.json")
SETTINGS = Settings(risk=RiskConfig(max_leverage=20, max_cluster_pct=10_000, max_position_pct=1_000))


def plan(intent: Intent, settings: Settings = SETTINGS, **kw: object):  # type: ignore[no-untyped-def]
    return plan_intent(intent, BOOK, kw.pop("state", initial_state()), settings, lambda s: None, **kw)  # type: ignore[arg-type]


def test_intent_errors_are_one_line_naming_the_field() -> None:
    cases = {
        "side": dict(symbol="BTC", side="up", stop=1),
        "stop": dict(symbol="BTC", side="long", stop=0),
        "take_profits.0.fraction": dict(
            symbol="BTC", side="long", stop=1, take_profits=[{"price": 2, "fraction": 2}]
        ),
        "not both": dict(symbol="BTC", side="long", stop=1, risk=1, risk_pct=1),
        "add up to 1.5": dict(
            symbol="BTC",
            side="long",
            stop=1,
            take_profits=[{"price": 2, "fraction": 0.75}, {"price": 3, "fraction": 0.75}],
        ),
        "must be below its stop": dict(
            symbol="BTC", side="short", stop=10, take_profits=[{"price": 11, "fraction": 1}]
        ),
    }
    for needle, fields in cases.items():
        with pytest.raises(ValidationError) as err:
            Intent(**fields)  # type: ignore[arg-type]
        line = one_line(err.value)
        assert needle in line and "\n" not in line, line
    assert Intent(symbol="BTC", side="SELL", stop=1).side is Side.SHORT


def test_take_profit_words() -> None:
    assert parse_take_profit("190:0.5") == TakeProfit(price=190, fraction=0.5)
    assert parse_take_profit("1,900:25%") == TakeProfit(price=1900, fraction=0.25)
    for bad, why in (("190", "expected PRICE:FRACTION"), ("190:0", "in (0, 1]"), ("-1:0.5", "positive")):
        with pytest.raises(ValueError, match=why.replace("(", r"\(").replace(")", r"\)").replace("]", r"\]")):
            parse_take_profit(bad)


def test_tradingview_tickers_resolve() -> None:
    for text in ("BTC", "BTC/USDT:USDT", "BTCUSDT", "BINANCE:BTCUSDT.P", "btcusdt.p"):
        assert intent_symbol(BOOK, text) == "BTC/USDT:USDT"
    with pytest.raises(Refused) as err:
        intent_symbol(BOOK, "PEPEUSDT.P")
    assert str(err.value) == "unknown symbol 'PEPEUSDT.P': this account trades BTC, DOGE, ETH, LINK, SOL, XRP"


def test_a_plan_sizes_the_trade_and_splits_the_take_profits() -> None:
    intent = Intent(
        symbol="XRP",
        side="long",
        stop=2.2,
        risk=100,
        take_profits=(TakeProfit(price=2.5, fraction=0.5), TakeProfit(price=2.7, fraction=0.25)),
    )
    p = plan(intent)
    assert p.symbol == "XRP/USDT:USDT" and p.sizing.binding_constraint == "risk"
    assert p.sizing.risk_at_stop <= 100
    opens = p.sizing.opens
    assert [tp.quantity for tp in p.take_profits] == [
        pytest.approx(int(opens * 0.5 * 10) / 10),
        pytest.approx(int(opens * 0.25 * 10) / 10),
    ]
    assert p.summary().startswith(f"long {p.quantity:g} XRP/USDT:USDT at market, stop 2.2, tp 2.5 x0.5")


@pytest.mark.parametrize(
    ("intent", "state", "reason"),
    [
        (Intent(symbol="XRP", side="long", stop=2.2), "halted", "HALTED: new entries refused"),
        (Intent(symbol="XRP", side="long", stop=2.2), "paused", "paused by the user"),
        (
            Intent(symbol="XRP", side="long", stop=2.4),
            None,
            "stop 2.4 has been crossed: a long's stop must be below",
        ),
        (
            Intent(symbol="XRP", side="short", stop=2.3),
            None,
            "a short's stop must be above the mark, now 2.31",
        ),
        (
            Intent(symbol="XRP", side="long", stop=2.2, risk_pct=3),
            None,
            "risk 3% of equity is above the limit of 2%",
        ),
        (Intent(symbol="XRP", side="long", stop=2.2, risk=5_000), None, "above the limit of 2% per trade"),
        (Intent(symbol="XRP", side="long", stop=2.2, risk=0.01), None, "below the minimum amount 0.1"),
        (Intent(symbol="XRP", side="long", stop=2.2, entry=2.1), None, "above entry 2.1"),
        (
            Intent(symbol="XRP", side="long", stop=2.2, take_profits=(TakeProfit(price=2.3, fraction=1),)),
            None,
            "take-profit 1 at 2.3 must be above the entry 2.31 of a long",
        ),
        (
            Intent(
                symbol="XRP",
                side="long",
                entry=2.25,
                stop=2.2,
                take_profits=(TakeProfit(price=2.3, fraction=1),),
            ),
            None,
            "take-profit 1 at 2.3 would trigger at once: the mark 2.31 is already beyond it",
        ),
        (
            Intent(
                symbol="XRP",
                side="long",
                stop=2.2,
                risk=2,
                take_profits=(TakeProfit(price=2.5, fraction=0.002),),
            ),
            None,
            "below the venue's minimum amount 0.1: refusing rather than rounding up",
        ),
    ],
)
def test_refusals_say_why(intent: Intent, state: str | None, reason: str) -> None:
    st = initial_state()
    if state == "halted":
        st = lock(st, 0, GuardLimits(), "drawdown 12% ≥ 10%")
    elif state == "paused":
        st = set_paused(st, True)
    with pytest.raises(Refused) as err:
        plan(intent, state=st)
    assert reason in str(err.value), str(err.value)


def test_a_paused_source_is_refused() -> None:
    with pytest.raises(Refused, match="strategy x is paused"):
        plan(Intent(symbol="XRP", side="long", stop=2.2), source_paused="strategy x is paused (boom)")


def test_drift_allows_the_tolerance_and_no_more() -> None:
    asked = plan(Intent(symbol="XRP", side="long", stop=2.2, risk=100))
    same = dataclasses.replace(
        asked, sizing=dataclasses.replace(asked.sizing, quantity=asked.quantity * 1.015)
    )
    assert drift(asked, same, 2.0) is None
    moved = dataclasses.replace(
        asked, sizing=dataclasses.replace(asked.sizing, quantity=asked.quantity * 0.9)
    )
    why = drift(asked, moved, 2.0)
    assert why is not None and "more than the 2% tolerance: nothing sent" in why


def test_a_full_correlated_cluster_refuses_one_more_of_the_same_bet() -> None:
    from guardbot.risk.correlation import Cluster

    majors = Cluster(("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT"), (1, 1, 1, 1))
    tight = Settings(risk=RiskConfig(max_leverage=20, max_position_pct=1_000, max_cluster_pct=100))

    def cluster_of(symbol: str) -> Cluster | None:
        return majors if symbol in majors.symbols else None

    with pytest.raises(Refused, match="the correlation_cluster cap"):
        plan_intent(Intent(symbol="XRP", side="long", stop=2.2), BOOK, initial_state(), tight, cluster_of)
    short = plan_intent(
        Intent(symbol="XRP", side="short", stop=2.4), BOOK, initial_state(), tight, cluster_of
    )
    assert short.sizing.quantity > 0  # against the cluster's side: it lowers the bet


def test_a_take_profit_worth_less_than_the_venues_reduce_minimum_is_refused_before_anything_is_sent() -> None:
    """On Hyperliquid a take-profit worth less than $10 would be refused after the entry filled."""
    xrp = "XRP/USDT:USDT"
    markets = {**BOOK.markets, xrp: dataclasses.replace(BOOK.markets[xrp], reduce_min_notional=10.0)}
    hl = dataclasses.replace(BOOK, markets=markets)
    tiny = TakeProfit(price=2.5, fraction=0.002)
    intent = Intent(symbol="XRP", side="long", stop=2.2, risk=100, take_profits=(tiny,))
    assert plan(intent).take_profits  # an exempt venue takes it
    with pytest.raises(Refused) as err:
        plan_intent(intent, hl, initial_state(), SETTINGS, lambda s: None)
    assert str(err.value).startswith("take-profit 1 (")
    assert "below the venue's minimum order value 10 (take-profits included)" in str(err.value)
