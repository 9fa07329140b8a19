"""Dry-run (the default) through a whole crash: every rule decides, nothing reaches the exchange.

An over-leveraged book (8x, five correlated longs, the trader's stops on BTC and ETH only) rides
the first 15 minutes of the built-in `crash` scenario with thresholds that make every rule fire.
The account is in dry-run, so not one mutating request may reach the emulator, and every order the
guard would have sent (stops, reductions, closes) must be in the journal with status `dry_run`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pytest
from venue_spec import GUARD_VENUES

from guardbot.guard import GuardLimits
from guardbot.sim import OrderRequest, SimExchange, load_scenario

from .conftest import GuardRig, RigFactory, limits

pytestmark = pytest.mark.parametrize("exchange", GUARD_VENUES, indirect=True)

WALLET = 10_000.0
# (exchange id, share of the 8x book); the same book as `guardbot demo`
BOOK = (("BTCUSDT", 0.24), ("ETHUSDT", 0.22), ("SOLUSDT", 0.2), ("DOGEUSDT", 0.17), ("AVAXUSDT", 0.17))
TRADER_STOPS = {"BTCUSDT": 0.06, "ETHUSDT": 0.08}
EVERY_S = 5.0
MINUTES = 15

# Tight enough that each rule gets its turn as the crash unfolds: exposure and stops at once,
# drawdown, liquidation distance and margin ratio as equity melts. The margin-ratio levels are
# Binance's book's opening ratio (5.5 %) times these: on a venue that counts more maintenance for
# the same book (Hyperliquid: half the initial margin at max leverage, 23.6 % here) they scale with it.
MARGIN_LEVELS = {
    "margin_ratio_warn": 0.06,
    "margin_ratio_reduce": 0.07,
    "margin_ratio_flatten": 0.2,
    "margin_ratio_target": 0.05,
}
BINANCE_OPENING_RATIO = 0.0549
FIRE_ALL = dict(
    new_position_grace_s=0,
    leverage_warn=5.0,
    leverage_hard=6.0,
    max_symbol_notional_pct=150.0,
    liquidation_warn_pct=45.0,
    liquidation_reduce_pct=35.0,
    drawdown_halt_pct=5.0,
    drawdown_reduce_pct=15.0,
    drawdown_flatten_pct=60.0,
    drawdown_reduce_fraction=0.1,
    daily_loss_halt_pct=5.0,
    blind_after_failures=3,
    max_snapshot_age_s=60,
)
ACTING_RULES = {"stop", "leverage", "symbol_cap", "drawdown", "margin_ratio", "liquidation"}


def fire_all(exchange: str) -> GuardLimits:
    """FIRE_ALL, with the margin-ratio levels scaled to the venue's margin model."""
    scratch = SimExchange(exchange=exchange)
    acct = scratch.create_account(WALLET)
    _open(scratch, acct.api_key)
    scale = scratch.account_figures(acct.api_key).margin_ratio / BINANCE_OPENING_RATIO
    return limits(**FIRE_ALL, **{k: round(v * scale, 4) for k, v in MARGIN_LEVELS.items()})


def _open(engine: SimExchange, key: str) -> None:
    for symbol, share in BOOK:
        step = engine.market(symbol).step
        qty = math.floor(WALLET * 8 * share / engine.marks[symbol] / step) * step
        engine.open_position(key, symbol, "long", round(qty, 8), leverage=10)


def _open_book(rig: GuardRig) -> None:
    engine, key = rig.engine, rig.acct.api_key
    _open(engine, key)
    for symbol, pct in TRADER_STOPS.items():
        tick = engine.market(symbol).tick
        trigger = round(math.floor(engine.marks[symbol] * (1 - pct) / tick) * tick, 8)
        engine.place_algo_order(
            key,
            OrderRequest(
                symbol,
                "SELL",
                "STOP_MARKET",
                trigger_price=trigger,
                close_position=True,
                working_type="MARK_PRICE",
            ),
        )


def _journal_id(rig: GuardRig, d: Mapping[str, Any], kind: str) -> str:
    """The journal id the guard gives the order a decision asks for."""
    if kind == "cancel":
        return f"cancel:{d['order_id']}"
    return rig.guard.gateway.client_id(d["rule"], d["symbol"], d["episode"])


async def test_a_dry_run_crash_sends_nothing_and_journals_every_intended_order(
    make_rig: RigFactory, exchange: str
) -> None:
    rig = make_rig(fire_all(exchange), wallet=WALLET, dry_run=True)
    rig.engine.use_scenario(load_scenario("crash"))
    _open_book(rig)
    rig.server.clear_log()
    await rig.start()

    for i in range(int(MINUTES * 60 / EVERY_S)):
        if i == 20:  # a minute and a half in: the exchange stops answering for three cycles
            rig.server.inject_fault("503", count=3, path=rig.venue.positions_path)
        await rig.cycles(1, every_s=EVERY_S)

    # nothing mutating left the process, although the guard read the exchange all along
    assert rig.server.mutating_requests() == []
    assert len(rig.server.request_log) > 500
    # ... so nothing protected the account either: the emulator liquidated it
    assert [ev.api_key for ev in rig.engine.liquidations] == [rig.acct.api_key]

    decisions = rig.decisions()
    assert {d.rule for d in decisions} >= ACTING_RULES | {"blind", "trading_state"}
    orders = [
        d for d in decisions if d.kind in ("place_stop", "replace_stop", "cancel_order", "reduce", "close")
    ]
    assert {d.rule for d in orders} >= ACTING_RULES
    assert {d.kind for d in orders} >= {"place_stop", "reduce", "close"}

    actions = {a.client_order_id: a for a in rig.actions()}
    assert actions and all(a.dry_run and a.status.value == "dry_run" for a in actions.values())
    for d in orders:
        wanted = {"place_stop": ["stop"], "replace_stop": ["cancel", "stop"], "cancel_order": ["cancel"]}
        for kind in wanted.get(d.kind, ["reduce"]):
            cid = _journal_id(rig, d.details, kind)
            assert cid in actions, (d.rule, d.kind, d.reason)
            assert actions[cid].kind.value == kind and actions[cid].symbol == d.symbol
    with rig.reader() as r:
        assert r.pending_actions() == []

    # every alert says it was a dry run
    assert rig.notifier.alerts and all(a.dry_run for a in rig.notifier.alerts)
    assert all("[DRY-RUN]" in a.render() for a in rig.notifier.alerts)
