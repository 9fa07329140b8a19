"""A symbol listed after the guard loaded its markets and tiers.

Before: a position in it made every snapshot fail ("no maintenance tiers for DOGEUSDT"): the whole
account went blind, old positions included, until the daily reload.
"""

from __future__ import annotations

import dataclasses

from .conftest import BTC, GuardRig, RigFactory, limits

WIF = "WIF/USDT:USDT"
INFO, BRACKETS = "/fapi/v1/exchangeInfo", "/fapi/v1/leverageBracket"


def list_wif(rig: GuardRig) -> None:
    """WIF, listed now, with SUI's filters and brackets."""
    sui = rig.engine.markets["SUIUSDT"]
    rig.engine.list_market(dataclasses.replace(sui, id="WIFUSDT", base="WIF"), price=2.0)


async def test_a_position_in_a_new_listing_reloads_markets_and_is_guarded(make_rig: RigFactory) -> None:
    rig = make_rig(limits(new_position_grace_s=0))
    key = rig.acct.api_key
    rig.engine.open_position(key, "BTCUSDT", "long", 0.1, leverage=10)
    await rig.start()
    await rig.cycles(2)
    loads = len(rig.server.requests_to(INFO)), len(rig.server.requests_to(BRACKETS))

    list_wif(rig)
    rig.engine.open_position(key, "WIFUSDT", "long", 500, leverage=10)
    outcomes = await rig.cycles(3)

    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert {p.symbol for p in outcomes[-1].snapshot.positions} == {BTC, WIF}  # type: ignore[union-attr]
    assert not outcomes[-1].snapshot.estimated_tiers  # type: ignore[union-attr]
    # one reload, not one per cycle
    assert (len(rig.server.requests_to(INFO)), len(rig.server.requests_to(BRACKETS))) == (
        loads[0] + 1,
        loads[1] + 1,
    )
    stops = {o.symbol for o in rig.algo_orders()}
    assert stops == {"BTCUSDT", "WIFUSDT"}


async def test_when_the_reload_fails_the_rest_of_the_book_is_still_guarded(make_rig: RigFactory) -> None:
    rig = make_rig(limits(new_position_grace_s=0))
    key = rig.acct.api_key
    rig.engine.open_position(key, "BTCUSDT", "long", 0.1, leverage=10)
    await rig.start()
    await rig.cycle()
    list_wif(rig)
    rig.engine.open_position(key, "WIFUSDT", "long", 500, leverage=10)
    rig.server.inject_fault("5xx", count=5, path=INFO)

    outcome = await rig.cycle()
    assert outcome.ok and outcome.snapshot is not None and outcome.figures is not None
    assert outcome.snapshot.estimated_tiers == frozenset({"WIFUSDT"})
    assert len(outcome.figures.positions) == 2  # BTC measured, WIF on the stand-in table
    [alert] = [d for d in outcome.decisions if d.rule == "market_data"]
    assert "stand-in 5% maintenance" in alert.reason and alert.level == "warning"
    assert rig.guard.state.blind is False

    rig.server.clear_faults()
    rig.engine.advance(61)  # the reload is retried at most once a minute
    later = await rig.cycle()
    assert later.ok and later.snapshot is not None and not later.snapshot.estimated_tiers
    assert WIF in {p.symbol for p in later.snapshot.positions}
    cleared = [d for d in later.decisions if d.rule == "market_data"]
    assert cleared and cleared[0].details["transition"] == "clear"
