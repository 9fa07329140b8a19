"""The engine: blind guard, alert de-duplication, stable episodes, decision order, state round-trip."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

from test_guard_support import (
    ALL_REDUCE,
    BTC,
    ETH,
    MIN,
    SOL,
    T0,
    apply,
    assert_never_increases,
    book,
    kinds,
    pos,
    protect,
    run,
)

import guardbot.guard
from guardbot.domain import AccountSnapshot, Side, TradingState
from guardbot.guard import GuardLimits, GuardState, evaluate_blind, initial_state
from guardbot.guard.decisions import Decision
from guardbot.risk.account import measure_account

LIM = GuardLimits(actions=ALL_REDUCE)  # every rule may act: this is the whole engine at work


def stressed_book() -> AccountSnapshot:
    """80 % margin ratio, an unprotected ETH, a stop on last price for BTC and an orphan SOL stop."""
    b, e = pos(BTC, Side.LONG, 1, 50_000), pos(ETH, Side.LONG, 10, 3_000)
    last_price_stop = dataclasses.replace(protect(b, 3), working_type="last")
    orphan = protect(pos(SOL, Side.LONG, 10, 100), 5, "orphan")
    return book(1_000, b, e, orders=[last_price_stop, orphan])


def order_episodes(decisions: list[Decision]) -> set[tuple[str, str, str]]:
    return {(d.kind, d.symbol or "", d.episode) for d in decisions if d.is_order}


def test_blind_guard_alerts_once_never_acts_and_recovers_once() -> None:
    s = book(50_000, pos(BTC, Side.LONG, 1, 50_000))
    _, st = run(s, None, LIM, T0)
    alerts: list[list[Decision]] = []
    for i in range(1, 6):
        d, st = evaluate_blind(st, LIM, T0 + i * 5_000, "timeout", account="main")
        assert not [x for x in d if x.is_order]
        alerts.append(d)
    assert [len(a) for a in alerts] == [0, 0, 1, 0, 0]  # blind_after_failures = 3
    alert = alerts[2][0]
    assert alert.level == "critical" and "3 failed snapshots" in alert.reason and "timeout" in alert.reason
    d, st = run(s, st, LIM, T0 + 30_000)
    [back] = kinds(d, "alert", "blind")
    assert back.details["transition"] == "clear" and back.level == "info"
    assert st.failures == 0 and not st.blind


def test_blind_when_the_last_good_snapshot_is_too_old() -> None:
    _, st = run(book(50_000), None, LIM, T0)
    d, st = evaluate_blind(st, LIM, T0 + 61_000, "HTTP 503")
    assert len(d) == 1 and "61s ago" in d[0].reason and st.blind


def test_a_stale_snapshot_is_not_acted_on() -> None:
    s = book(850, pos(BTC, Side.LONG, 1, 50_000), pos(ETH, Side.LONG, 10, 3_000), ts=T0)  # 94 %: flatten
    _, st = run(s, None, LIM, T0 + 1_000)
    d, st = run(s, st, LIM, T0 + 120_000)  # the same, old snapshot again
    assert not [x for x in d if x.is_order] and st.failures == 1


def test_same_snapshot_twice_repeats_orders_with_the_same_episodes_and_no_alerts() -> None:
    s = stressed_book()
    _, st = run(s, None, LIM, T0)
    first, st = run(s, st, LIM, T0 + 2 * MIN)
    second, st = run(s, st, LIM, T0 + 2 * MIN + 10_000)
    assert kinds(first, "alert") and not kinds(second, "alert")
    assert order_episodes(first) == order_episodes(second)
    assert not kinds(second, "set_state")


def test_decisions_applied_then_nothing_left_to_do() -> None:
    s = stressed_book()
    _, st = run(s, None, LIM, T0)
    first, st = run(s, st, LIM, T0 + 2 * MIN)
    assert {d.kind for d in first} >= {"close", "reduce", "cancel_order", "set_state", "alert"}
    assert_never_increases(s, first)
    done = apply(s, first)
    assert measure_account(done).margin_ratio <= LIM.margin_ratio_target
    second, st = run(done, st, LIM, T0 + 2 * MIN + 10_000)
    # no more cuts; the BTC stop, which had no room before the cuts, can now be fixed
    assert [d.kind for d in second if d.is_order] == ["replace_stop"]
    assert "last price" in kinds(second, "replace_stop")[0].reason
    third, st = run(apply(done, second), st, LIM, T0 + 2 * MIN + 20_000)
    assert not [d for d in third if d.is_order]
    assert st.trading_state is TradingState.ACTIVE


def test_state_change_comes_first_then_cuts_then_stops_then_alerts() -> None:
    s = stressed_book()
    _, st = run(s, None, LIM, T0)
    first, _ = run(s, st, LIM, T0 + 2 * MIN)
    order = [d.kind for d in first]
    assert order[0] == "set_state"
    rank = {
        "set_state": 0,
        "cancel_order": 1,
        "close": 2,
        "reduce": 3,
        "replace_stop": 4,
        "place_stop": 5,
        "alert": 6,
    }
    assert [rank[k] for k in order] == sorted(rank[k] for k in order)


def test_every_decision_names_its_rule_and_a_reason_with_numbers() -> None:
    s = stressed_book()
    _, st = run(s, None, LIM, T0)
    first, _ = run(s, st, LIM, T0 + 2 * MIN)
    for d in first:
        assert (
            d.rule and d.account == "main" and d.episode.startswith(d.rule if d.kind != "set_state" else "")
        )
        assert any(ch.isdigit() for ch in d.reason), d.reason
        assert d.to_dict()["kind"] == d.kind


def test_state_round_trip_keeps_everything() -> None:
    s = stressed_book()
    _, st = run(s, None, LIM, T0)
    _, st = run(s, st, LIM, T0 + 2 * MIN)
    assert st.trading_state is TradingState.REDUCING
    assert GuardState.from_json(st.to_json()) == st
    assert GuardState.from_dict(initial_state().to_dict()) == initial_state()


def test_the_guard_does_no_io_and_imports_no_adapter() -> None:
    root = Path(guardbot.guard.__file__).parent
    forbidden = ("guardbot.exchange", "guardbot.store", "guardbot.notify", "guardbot.daemon", "ccxt", "time")
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(forbidden), f"{path.name} imports {name}"
