"""When the exchange liquidates a position anyway, guardbot says so, as what it is.

Before: the position simply disappeared from the next snapshot and nothing was said. Now the
order history (Binance `allOrders`, an "autoclose-" client id; Bybit's order history, createType
CreateByLiq) is read when a position vanishes without a cut of ours, and a critical alert names it.
"""

from __future__ import annotations

import pytest
from venue_spec import GUARD_VENUES

from guardbot.sim import OrderRequest

from .conftest import RigFactory, limits

pytestmark = pytest.mark.parametrize("exchange", GUARD_VENUES, indirect=True)


async def test_a_liquidation_by_the_exchange_is_announced(make_rig: RigFactory) -> None:
    rig = make_rig(limits(), wallet=2_000)  # every rule quiet: nothing stands in the way
    rig.engine.open_position(rig.acct.api_key, "BTCUSDT", "long", 0.2, leverage=20)
    await rig.start()
    await rig.cycles(2)
    rig.engine.shock("BTCUSDT", -12.0)  # far past the pool's liquidation price
    assert rig.engine.liquidations
    await rig.cycles(2)

    [alert] = [a for a in rig.notifier.alerts if a.key.startswith("liquidated|")]
    assert alert.level == "critical"
    assert "BTC long 0.2 was LIQUIDATED by the exchange at" in alert.text
    [decision] = rig.decisions("liquidated")
    forced = decision.details["details"]
    assert forced["kind"] == "liquidation" and forced["amount"] == 0.2


async def test_a_close_by_the_trader_is_not_called_a_liquidation(make_rig: RigFactory) -> None:
    rig = make_rig(limits(), wallet=10_000)
    rig.engine.open_position(rig.acct.api_key, "BTCUSDT", "long", 0.2, leverage=10)
    await rig.start()
    await rig.cycles(2)
    side = "SELL"
    rig.engine.place_order(
        rig.acct.api_key, OrderRequest("BTCUSDT", side, "MARKET", quantity=0.2, reduce_only=True)
    )
    await rig.cycles(2)
    assert not [a for a in rig.notifier.alerts if a.key.startswith("liquidated|")]
