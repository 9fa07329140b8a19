"""The venue-neutral exchange engine: accounts, positions, orders, fills, triggers, liquidation.

Split by concern, each part building on the one before:
`base` (state, clock, prices) -> `views` (domain values, figures, state dump) -> `accounts`
(accounts, transfers, settings) -> `fills` (trades, resting limits, triggers) -> `liquidation`
(the tick, liquidation) -> `orders` (validation, placement, look-up, cancel).

All margin figures come from guardbot.risk with the venue's margin model (`model_for(exchange)`),
so the emulator and the guard agree on the rules by construction; the engine adds *behaviour*.
It knows no venue's wire: rejections are `SimError(Rejection.X)` and each wire module
(guardbot/sim/venues/) maps them to its venue's codes.
"""

from __future__ import annotations

from guardbot.sim.engine.errors import Rejection, SimError
from guardbot.sim.engine.orders import CONDITIONAL_TYPES, PLAIN_TYPES, Orders

__all__ = ["CONDITIONAL_TYPES", "PLAIN_TYPES", "Rejection", "SimError", "SimExchange"]


class SimExchange(Orders):
    """An in-memory perpetual-futures exchange following one venue's rules (`exchange`: a ccxt id
    from guardbot.sim.venues.profiles). Synchronous: every call finishes its work (fills,
    triggers, liquidations) before it returns."""
