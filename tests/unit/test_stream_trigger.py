"""Streaming mode's pure decisions: level crossings at streamed marks, stream health, backoff."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from guardbot.config import GuardConfig, RiskConfig, Settings
from guardbot.config import stream as config_stream
from guardbot.domain import AccountSnapshot
from guardbot.guard import GuardLimits
from guardbot.guard.state import pending_confirmation
from guardbot.risk.account import measure_account
from guardbot.sim import SimExchange
from guardbot.stream.trigger import (
    CALM,
    Health,
    RiskPoint,
    TriggerLevels,
    backoff_s,
    crossing,
    health_step,
    order_needs_look,
    point_at_marks,
    positions_changed,
    risk_point,
    zone,
)

LEVELS = TriggerLevels((0.5, 0.7, 0.9), (7.5, 15.0))
BTC = "BTC/USDT:USDT"


def _book() -> AccountSnapshot:
    engine = SimExchange(seed=1)
    acct = engine.create_account(2_000)
    engine.open_position(acct.api_key, "BTCUSDT", "long", 0.1, leverage=20)  # liquidation ~75,350
    return engine.to_snapshot(acct.api_key)


def test_default_levels_are_the_guards_own() -> None:
    limits = GuardLimits.from_config(GuardConfig(), RiskConfig())
    levels = TriggerLevels.of(limits)
    assert levels.margin_ratio == (0.5, 0.7, 0.9)
    assert levels.liquidation_pct == (7.5, 15.0)
    assert TriggerLevels.of(limits, [0.8, 0.3], [20.0]) == TriggerLevels((0.3, 0.8), (20.0,))


def test_levels_compare_as_the_rules_do() -> None:
    assert zone(RiskPoint(0.5, None), LEVELS) == (1, 0)  # margin ratio: at or above trips
    assert zone(RiskPoint(0.49, 15.0), LEVELS) == (0, 0)  # liquidation: below trips, at does not
    assert zone(RiskPoint(math.inf, 1.0), LEVELS) == (3, 2)


def test_a_shock_at_streamed_marks_crosses_the_liquidation_levels() -> None:
    book = _book()
    calm = risk_point(measure_account(book))
    assert calm.liquidation_pct is not None and 20 < calm.liquidation_pct < 21
    armed, reason = crossing(zone(calm, LEVELS), calm, LEVELS)
    assert reason is None and armed == CALM
    shocked = point_at_marks(book, {BTC: 80_750.0, "DOGE/USDT:USDT": 1.0})  # not held: ignored
    armed, reason = crossing(armed, shocked, LEVELS)
    assert armed == (0, 2)
    assert reason is not None and "crossed 7.5%" in reason
    assert crossing(armed, shocked, LEVELS)[1] is None  # staying there is not a new crossing


def test_margin_ratio_crossing_names_the_level() -> None:
    _, reason = crossing(CALM, RiskPoint(0.75, None), LEVELS)
    assert reason == "margin ratio 75.0% crossed 70% at streamed marks"


points = st.builds(
    RiskPoint,
    st.floats(min_value=0, max_value=2, allow_nan=False) | st.just(math.inf),
    st.none() | st.floats(min_value=0, max_value=100, allow_nan=False),
)


@given(st.lists(points, min_size=1, max_size=30))
def test_a_trigger_fires_exactly_when_a_zone_worsens(path: list[RiskPoint]) -> None:
    armed = CALM
    for point in path:
        before = armed
        armed, reason = crossing(armed, point, LEVELS)
        assert armed == zone(point, LEVELS)
        worse = armed[0] > before[0] or armed[1] > before[1]
        assert (reason is not None) == worse


@given(points)
def test_no_second_trigger_without_the_risk_receding_first(point: RiskPoint) -> None:
    armed, _ = crossing(CALM, point, LEVELS)
    assert crossing(armed, point, LEVELS)[1] is None


@given(st.lists(st.tuples(st.integers(0, 5_000), st.booleans()), max_size=60))
def test_fallback_and_recovery_alternate_and_need_the_bound(steps: list[tuple[int, bool]]) -> None:
    h, now, events = Health(), 0, []
    down_since: int | None = None
    for dt, up in steps:
        now += dt
        down_since = None if up else (now if down_since is None else down_since)
        h, event = health_step(h, now, up, 2_000)
        if event == "fallback":
            assert down_since is not None and now - down_since >= 2_000
        if event is not None:
            events.append(event)
    assert all(a != b for a, b in itertools.pairwise(events))  # never twice in a row
    assert events[:1] in ([], ["fallback"])  # a recovery only after a fallback


def test_a_short_blip_says_nothing() -> None:
    h, event = health_step(Health(), 0, False, 1_000)
    h, event2 = health_step(h, 500, True, 1_000)
    assert (event, event2) == (None, None)


def test_backoff_doubles_to_its_cap() -> None:
    assert [backoff_s(n, 2.0) for n in range(1, 7)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]


def test_a_confirmation_is_pending_until_the_count_is_reached() -> None:
    assert pending_confirmation({"liquidation|BTC@reduce": 1}, 2)
    assert not pending_confirmation({"liquidation|BTC@reduce": 2}, 2)
    assert not pending_confirmation({}, 2)


def test_order_updates_that_need_a_look() -> None:
    stop = {"status": "canceled", "reduceOnly": True, "triggerPrice": 77_000.0, "info": {}}
    assert order_needs_look(stop)
    assert order_needs_look({**stop, "reduceOnly": False, "info": {"cp": True}})  # closePosition
    assert not order_needs_look({**stop, "status": "closed"})  # it fired: the position moved
    assert not order_needs_look({**stop, "triggerPrice": None})  # a plain order
    assert not order_needs_look({**stop, "reduceOnly": False})  # an entry stop
    # Hyperliquid's order stream says neither: the last snapshot's own reducing stops, by id
    bare = {"id": "42", "status": "canceled", "reduceOnly": None, "triggerPrice": None, "info": {}}
    assert order_needs_look(bare, frozenset({"42"}))
    assert not order_needs_look(bare, frozenset({"41"}))
    assert not order_needs_look({**bare, "status": "closed"}, frozenset({"42"}))


def test_positions_changed_against_the_last_snapshot() -> None:
    known = {f"{BTC}|long": 0.1}
    assert not positions_changed([{"symbol": BTC, "side": "long", "contracts": 0.1}], known)
    assert positions_changed([{"symbol": BTC, "side": "long", "contracts": 0.05}], known)
    assert positions_changed([{"symbol": "ETH/USDT:USDT", "side": "short", "contracts": 1}], known)


def test_a_flat_one_way_position_without_a_side_was_closed() -> None:
    # ccxt reports a one-way position closed to zero with no direction: Binance's ACCOUNT_UPDATE
    # gives side "both", Bybit's `position` topic None. Keyed by side it never matched the snapshot.
    known = {f"{BTC}|long": 0.1}
    assert positions_changed([{"symbol": BTC, "side": "both", "contracts": 0.0}], known)
    assert positions_changed([{"symbol": BTC, "side": None, "contracts": 0}], known)
    assert not positions_changed([{"symbol": "ETH/USDT:USDT", "side": None, "contracts": 0}], known)
    assert not positions_changed([{"symbol": BTC, "side": None, "contracts": 0}], {})


def test_a_position_missing_from_a_full_state_update_was_closed() -> None:
    # Hyperliquid's clearinghouseState lists every open position: one left out was closed. Binance's
    # ACCOUNT_UPDATE lists only what changed: one left out did not move.
    known = {f"{BTC}|long": 0.1, "ETH/USDT:USDT|short": 1.0}
    eth_only = [{"symbol": "ETH/USDT:USDT", "side": "short", "contracts": 1.0}]
    assert positions_changed(eth_only, known, full_state=True)
    assert not positions_changed(eth_only, known)
    assert positions_changed([], known, full_state=True)
    both = [*eth_only, {"symbol": BTC, "side": "long", "contracts": 0.1}]
    assert not positions_changed(both, known, full_state=True)
    assert not positions_changed([], {}, full_state=True)


def test_streaming_on_a_venue_without_streams_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # every venue streams now; the rule is held by taking one away
    account = {"name": "a", "exchange": "aster", "stream": {"enabled": True}}
    assert Settings(accounts=[account]).accounts[0].stream.enabled
    monkeypatch.setattr(config_stream, "STREAMING_EXCHANGES", ("binanceusdm", "bybit", "hyperliquid"))
    only = "streaming is available on binanceusdm, bybit, hyperliquid only, not aster"
    with pytest.raises(ValidationError, match=only):
        Settings(accounts=[account])


@given(st.lists(st.floats(min_value=60_000, max_value=130_000), min_size=2, max_size=8))
def test_a_falling_mark_never_makes_a_long_book_calmer(marks: list[float]) -> None:
    book = _book()
    zones = [zone(point_at_marks(book, {BTC: m}), LEVELS) for m in sorted(marks, reverse=True)]
    assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in itertools.pairwise(zones))
