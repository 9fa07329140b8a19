"""Hyperliquid's $10 minimum order value binds stops too (valued at the trigger), end to end: a DOGE
long worth $8 gets one alert saying it is too small for a venue stop, and no order (before, its $7.60
stop was sent and refused every cycle); an XRP long worth $22 gets its stop; once the DOGE long is
worth more, it gets its stop too and the report clears."""

from __future__ import annotations

import pytest

from .conftest import RigFactory, limits

pytestmark = pytest.mark.parametrize("exchange", ["hyperliquid"], indirect=True)


async def test_a_position_too_small_for_a_venue_stop_is_reported_once_and_sends_nothing(
    make_rig: RigFactory,
) -> None:
    rig = make_rig(limits(new_position_grace_s=0), wallet=1_000.0)
    # $8 of DOGE, written into the books (the venue would not open it): its stop at 0.304 is $7.60
    rig.engine.open_position(rig.acct.api_key, "DOGEUSDT", "long", 25, leverage=10, entry_price=0.32)
    rig.engine.open_position(rig.acct.api_key, "XRPUSDT", "long", 10, leverage=10)  # $22
    await rig.start()
    await rig.cycles(6)

    assert [(s.side, s.qty) for s in rig.stops_sent()] == [("SELL", 10.0)]  # XRP's only
    actions = [(a.rule, a.symbol, a.status.value) for a in rig.actions()]
    assert actions == [("stop", "XRP/USDC:USDC", "confirmed")]  # no rejected row
    (told,) = [a for a in rig.notifier.alerts if "DOGE long 25 is too small" in a.text]
    assert told.level == "warning"
    assert "worth 7.60, below the venue's minimum order value 10" in told.text
    assert "close it by hand" in told.text

    rig.engine.open_position(rig.acct.api_key, "DOGEUSDT", "long", 40, leverage=10)  # now 65: $20.80
    await rig.cycles(2)
    doge = [o for o in rig.algo_orders() if o.symbol == "DOGEUSDT"]
    assert [(o.quantity, o.trigger_price) for o in doge] == [(65.0, 0.304)]
    assert [a.status.value for a in rig.actions()] == ["confirmed", "confirmed"]
    assert sum("DOGE long 25 is too small" in a.text for a in rig.notifier.alerts) == 1
    assert any("cleared" in a.text and "DOGE long 65" in a.text for a in rig.notifier.alerts)
