"""The shipped example configuration, switched to live orders on the emulator, sends stops only.

Before: within seconds of `dry_run = false` its sector caps cut ETH and DOGE on the first cycle.
Now the caps only alert unless a rule is opted in under [guard.actions].
"""

from __future__ import annotations

from pathlib import Path

import pytest
from venue_spec import GUARD_VENUES

from guardbot.config import load_settings
from guardbot.guard import GuardLimits

from .conftest import RigFactory

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
SECRETS = {
    "BINANCE_TESTNET_KEY": "k",
    "BINANCE_TESTNET_SECRET": "s",
    "SIM_API_KEY": "k",
    "SIM_API_SECRET": "s",
}
pytestmark = pytest.mark.parametrize("exchange", GUARD_VENUES, indirect=True)


async def test_the_example_config_places_stops_and_only_alerts_on_its_caps(make_rig: RigFactory) -> None:
    settings = load_settings(EXAMPLE, environ=SECRETS)
    rig = make_rig(GuardLimits.from_config(settings.guard, settings.risk), wallet=10_000)
    key = rig.acct.api_key
    rig.engine.open_position(key, "ETHUSDT", "long", 8, leverage=10)  # ~264 % of equity: l1 cap 200 %
    rig.engine.open_position(key, "DOGEUSDT", "long", 20_000, leverage=10)  # above the meme cap of 50 %
    await rig.start()
    await rig.cycles(9, every_s=10)  # 90 s: past the 60 s grace for new positions

    sent = rig.mutations()
    assert sent and set(sent) == {("place", "stop")}  # stops, nothing cut
    assert rig.qty("ETHUSDT") == 8 and rig.qty("DOGEUSDT") == 20_000
    caps = [a for a in rig.notifier.alerts if a.key.startswith("sector_cap")]
    assert caps and all('[guard.actions] sector_cap = "alert"' in a.text for a in caps)
