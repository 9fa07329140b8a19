"""A symbol listed after the guard loaded its markets and tiers.

Before: a position in it made every snapshot fail ("no maintenance tiers for DOGEUSDT"): the whole
account went blind, old positions included, until the daily reload.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest
from venue_spec import GUARD_VENUES, VenueSpec

from .conftest import GuardRig, RigFactory, limits

pytestmark = pytest.mark.parametrize("exchange", GUARD_VENUES, indirect=True)


def list_wif(rig: GuardRig) -> None:
    """WIF, listed now, with SUI's filters and brackets."""
    sui = rig.engine.markets["SUIUSDT"]
    rig.engine.list_market(dataclasses.replace(sui, id="WIFUSDT", base="WIF"), price=2.0)


def reference_reads(rig: GuardRig) -> Counter[tuple[str, str]]:
    """The requests of the venue's reference-data refresh (markets, tiers, mode, fees) so far."""
    keys = rig.venue.refresh
    return Counter((r.method, r.path) for r in rig.server.request_log if (r.method, r.path) in keys)


async def test_a_position_in_a_new_listing_reloads_markets_and_is_guarded(
    make_rig: RigFactory, venue: VenueSpec
) -> None:
    rig = make_rig(limits(new_position_grace_s=0))
    key = rig.acct.api_key
    rig.engine.open_position(key, "BTCUSDT", "long", 0.1, leverage=10)
    await rig.start()
    await rig.cycles(2)
    before = reference_reads(rig)

    list_wif(rig)
    rig.engine.open_position(key, "WIFUSDT", "long", 500, leverage=10)
    outcomes = await rig.cycles(3)

    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    held = {venue.sym("BTC"), venue.sym("WIF")}
    assert {p.symbol for p in outcomes[-1].snapshot.positions} == held  # type: ignore[union-attr]
    assert not outcomes[-1].snapshot.estimated_tiers  # type: ignore[union-attr]
    # one reload of the markets and tiers, not one per cycle: the reference reads beyond what the
    # cycles' snapshots make (Hyperliquid's marks are its markets read) are one refresh, and the
    # snapshot's own re-read after it
    per_cycle = Counter({k: n * len(outcomes) for k, n in venue.snapshot.items() if k in venue.refresh})
    reloaded = reference_reads(rig) - before - per_cycle
    assert reloaded[venue.markets_read] >= venue.refresh[venue.markets_read]
    assert reloaded <= venue.refresh + venue.snapshot, reloaded
    stops = {o.symbol for o in rig.algo_orders()}
    assert stops == {"BTCUSDT", "WIFUSDT"}


@pytest.mark.needs("market_reload_apart")
async def test_when_the_reload_fails_the_rest_of_the_book_is_still_guarded(
    make_rig: RigFactory, venue: VenueSpec
) -> None:
    rig = make_rig(limits(new_position_grace_s=0))
    key = rig.acct.api_key
    rig.engine.open_position(key, "BTCUSDT", "long", 0.1, leverage=10)
    await rig.start()
    await rig.cycle()
    list_wif(rig)
    rig.engine.open_position(key, "WIFUSDT", "long", 500, leverage=10)
    rig.server.inject_fault("5xx", count=5, path=venue.markets_read[1])

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
    assert venue.sym("WIF") in {p.symbol for p in later.snapshot.positions}
    cleared = [d for d in later.decisions if d.rule == "market_data"]
    assert cleared and cleared[0].details["transition"] == "clear"
