"""Standalone emulator: `guardbot sim [--scenario NAME|FILE] [--port N]` runs `serve`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from guardbot.sim.engine import SimExchange
from guardbot.sim.scenario import load_scenario
from guardbot.sim.server import SimServer, ccxt_client_recipe
from guardbot.sim.venues.profiles import profile_for

DEMO_WALLET = 10_000.0


VENUE_NAMES = {
    "binanceusdm": "Binance USDⓈ-M",
    "bybit": "Bybit v5 (unified account, linear)",
    "aster": "Aster futures (v3, EIP-712)",
    "hyperliquid": "Hyperliquid perpetuals",
}


async def serve(
    scenario: str | None,
    port: int,
    speed: float | None,
    out: Callable[[str], None],
    exchange: str = "binanceusdm",
) -> None:
    """Start the emulator speaking `exchange`'s wire ("binanceusdm", "bybit", "aster" or
    "hyperliquid") on
    127.0.0.1:`port`, create a funded demo account, print how to connect, then run the scenario
    clock (`speed` sim seconds per wall second; None: the scenario's own `speed`) until cancelled.

    A bad scenario raises ScenarioError (a ValueError whose message is one line), and an exchange
    the emulator does not speak a ValueError, before anything is started.
    """
    profile_for(exchange)  # one line naming the venues it speaks, before anything starts
    loaded = load_scenario(scenario) if scenario else None
    if speed is None:
        speed = loaded.speed if loaded else 1.0
    if speed <= 0:
        raise ValueError(f"speed must be > 0 (sim seconds per wall second), got {speed:g}")
    engine = SimExchange(scenario=loaded, exchange=exchange)
    acct = engine.create_account(wallet=DEMO_WALLET, name="demo")
    server = SimServer(engine)
    base_url = await server.start("127.0.0.1", port)
    try:
        name = loaded.name if loaded else "static (marks move only through the control API)"
        venue = VENUE_NAMES.get(exchange, exchange)
        out(f"guardbot sim: {venue} emulator at {base_url}  scenario: {name}  speed: {speed:g}x")
        if engine.profile.wallet_keys:  # an Ethereum key pair signs (EIP-712)
            out(f"wallet address: {acct.api_key}")
            out(f"private key:    {acct.secret}")
        else:
            out(f"api key: {acct.api_key}")
            out(f"secret:  {acct.secret}")
        quote = next(iter(engine.markets.values())).quote
        out(f"wallet:  {DEMO_WALLET:,.2f} {quote}   control API: {base_url}/_sim/state")
        out("connect with ccxt:")
        out(ccxt_client_recipe(base_url, acct.api_key, acct.secret, exchange).rstrip("\n"))
        server.start_clock(speed)
        await asyncio.Event().wait()  # until cancelled
    finally:
        await server.stop()
