"""Fixtures every suite shares: which venue the emulator speaks, and what may be asserted about it."""

from __future__ import annotations

import pytest
from venue_spec import SPECS, VenueSpec


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "needs(feature): run only on the venues whose spec does not lack `feature`"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked `needs("min_amount")` is not collected for a venue that has no such thing
    (its spec says why): it is not a skipped test, there is nothing to test there."""
    kept, dropped = [], []
    for item in items:
        marker = item.get_closest_marker("needs")
        callspec = getattr(item, "callspec", None)
        exchange = callspec.params.get("exchange") if callspec is not None else None
        lacking = (
            marker is not None and exchange in SPECS and any(f in SPECS[exchange].lacks for f in marker.args)
        )
        (dropped if lacking else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


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
