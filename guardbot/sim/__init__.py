"""guardbot.sim: an embedded perpetual-futures exchange on loopback, for tests and demos.

A venue-neutral engine (`guardbot.sim.engine`) behind one wire module per venue
(`guardbot.sim.venues`): the unmodified ccxt client talks to it over HTTP; a scenario drives its
mark prices.
"""

from guardbot.sim.book import (
    LiquidatedPosition,
    LiquidationEvent,
    OrderRequest,
    SimAccount,
    SimAlgoOrder,
    SimOrder,
    SimPosition,
    SimTrade,
)
from guardbot.sim.clock import ScenarioClock
from guardbot.sim.engine import Rejection, SimError, SimExchange
from guardbot.sim.markets import SimMarket, default_markets
from guardbot.sim.scenario import Scenario, ScenarioError, Shock, load_scenario
from guardbot.sim.server import RequestRecord, SimServer, ccxt_client_recipe

__all__ = [
    "LiquidatedPosition",
    "LiquidationEvent",
    "OrderRequest",
    "Rejection",
    "RequestRecord",
    "Scenario",
    "ScenarioClock",
    "ScenarioError",
    "Shock",
    "SimAccount",
    "SimAlgoOrder",
    "SimError",
    "SimExchange",
    "SimMarket",
    "SimOrder",
    "SimPosition",
    "SimServer",
    "SimTrade",
    "ccxt_client_recipe",
    "default_markets",
    "load_scenario",
]
