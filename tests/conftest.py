"""Fixtures every suite shares: which venue the emulator speaks, and what may be asserted about it."""

from __future__ import annotations

import pytest
from venue_spec import SPECS, VenueSpec


@pytest.fixture
def exchange(request: pytest.FixtureRequest) -> str:
    """The venue the emulator speaks: Binance unless a module parametrizes it
    (`pytestmark = pytest.mark.parametrize("exchange", VENUES, indirect=True)`)."""
    return str(getattr(request, "param", "binanceusdm"))


@pytest.fixture
def venue(exchange: str) -> VenueSpec:
    return SPECS[exchange]


# ccxt's symbols of the markets tests trade, on the venue at hand (Hyperliquid settles in USDC)
@pytest.fixture
def btc(venue: VenueSpec) -> str:
    return venue.sym("BTC")


@pytest.fixture
def eth(venue: VenueSpec) -> str:
    return venue.sym("ETH")


@pytest.fixture
def sol(venue: VenueSpec) -> str:
    return venue.sym("SOL")
