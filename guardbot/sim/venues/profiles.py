"""What the venue-neutral engine needs to know of each venue, as data.

The engine asks `profile_for(exchange)` once; everything venue-specific in its *behaviour* is one of
these fields. Everything venue-specific in the *wire* (paths, field names, codes) lives in the wire
modules next to this file.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VenueProfile:
    # ccxt id: the margin model (guardbot.risk.margin.model_for) and the snapshot's exchange
    exchange: str
    # base-tier fees, the default when a SimExchange is built without explicit fees
    taker_fee: float
    maker_fee: float
    # Binance: "newClientOrderId — a unique id among open orders" (a closed order's id may be
    # used again). Bybit v5: orderLinkId is "always unique" for perpetuals.
    client_ids_reusable_once_closed: bool
    # Binance: isolated or cross per symbol. Bybit's unified account sets isolated margin for the
    # whole account (not served by the emulator), never per symbol.
    isolated_per_symbol: bool


DEFAULT_EXCHANGE = "binanceusdm"
PROFILES: dict[str, VenueProfile] = {
    "binanceusdm": VenueProfile("binanceusdm", 0.0005, 0.0002, True, True),
    # Bybit's non-VIP derivatives rates (the fee-rate endpoint answers with these)
    "bybit": VenueProfile("bybit", 0.00055, 0.0002, False, False),
}


def profile_for(exchange: str) -> VenueProfile:
    try:
        return PROFILES[exchange]
    except KeyError:
        raise ValueError(
            f"the emulator does not speak {exchange!r}; expected one of {', '.join(PROFILES)}"
        ) from None
