"""What the venue-neutral engine needs to know of each venue, as data.

The engine asks `profile_for(exchange)` once; everything venue-specific in its *behaviour* is one of
these fields. Everything venue-specific in the *wire* (paths, field names, codes) lives in the wire
modules next to this file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from guardbot.sim.markets import SimMarket, default_markets
from guardbot.sim.venues.hyperliquid_markets import hyperliquid_markets


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
    # the markets it lists (and their quote/settle currency)
    markets: Callable[[], dict[str, SimMarket]] = default_markets
    # can an account hold a long and a short of one symbol (hedge mode)?
    hedge_mode: bool = True
    # accounts are Ethereum key pairs: the api key is the wallet address, the secret its private
    # key (Aster and Hyperliquid sign requests with EIP-712)
    wallet_keys: bool = False
    # prices: at most this many significant figures and at most `price_decimals` minus the size's
    # decimals (Hyperliquid: 5 and 6); None: a multiple of the market's tick
    significant_figures: int | None = None
    price_decimals: int = 0
    # does the minimum order value apply to orders that reduce a position too? Binance exempts
    # reduce-only orders ("MIN_NOTIONAL ... except reduceOnly"); Hyperliquid documents no exemption
    # from "Order must have minimum value of $10" (a whole-position TP/SL has no size to value)
    min_notional_when_reducing: bool = False


DEFAULT_EXCHANGE = "binanceusdm"
PROFILES: dict[str, VenueProfile] = {
    "binanceusdm": VenueProfile("binanceusdm", 0.0005, 0.0002, True, True),
    # Bybit's non-VIP derivatives rates (the fee-rate endpoint answers with these)
    "bybit": VenueProfile("bybit", 0.00055, 0.0002, False, False),
    # Aster: a Binance USDⓈ-M clone ("unique among open orders"), base rates as ccxt lists them
    "aster": VenueProfile("aster", 0.00035, 0.0001, True, True, wallet_keys=True),
    # Hyperliquid: base-tier perp fees; a cloid identifies one order of the account (the order
    # status query by cloid answers one order), so it is never reused; no hedge mode
    "hyperliquid": VenueProfile(
        "hyperliquid",
        0.00045,
        0.00015,
        False,
        True,
        markets=hyperliquid_markets,
        hedge_mode=False,
        wallet_keys=True,
        significant_figures=5,
        price_decimals=6,
        min_notional_when_reducing=True,
    ),
}


def profile_for(exchange: str) -> VenueProfile:
    try:
        return PROFILES[exchange]
    except KeyError:
        raise ValueError(
            f"the emulator does not speak {exchange!r}; expected one of {', '.join(PROFILES)}"
        ) from None
