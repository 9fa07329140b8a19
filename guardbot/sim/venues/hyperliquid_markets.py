"""The perpetuals the Hyperliquid emulator lists: the default markets as Hyperliquid margins them.

Hyperliquid quotes and settles its perpetuals in USDC. Each asset has a maximum leverage and a
margin table; maintenance margin is half the initial margin at the tier's maximum leverage
(Hyperliquid Docs, "Margin tiers": https://hyperliquid.gitbook.io/hyperliquid-docs/trading/margin-tiers,
whose mainnet tables give BTC 40x, ETH 25x, SOL and XRP 20x, DOGE, SUI, LINK, AVAX 10x, ARB and BNB
10x in their first tier). The emulator serves the first tier only (a single-tier table, whose id
is its max leverage, as the docs define ids below 50): the next tiers start at 3M to 150M USDC of
notional, and ccxt does not expose margin tables, so the guard could not read them either.

Prices on Hyperliquid have at most 5 significant figures and at most 6 - szDecimals decimals
("Tick and lot size"); `tick_size` here is that rule at the start price (what ccxt derives from
the mark when it loads markets), the engine checks the rule itself (`VenueProfile`).
Hyperliquid charges no clearance fee: a liquidation is market orders sent to the book (paying the
taker fee, modelled as a 0.045 % liquidation fee) and what remains stays with the trader; backstop
liquidation (below 2/3 of maintenance) and partial liquidation of large positions are not modelled.
"""

from __future__ import annotations

from dataclasses import replace

from guardbot.risk.margin import hyperliquid_tiers
from guardbot.sim.markets import SimMarket, default_markets

MAX_LEVERAGE = {
    "BTCUSDT": 40,
    "ETHUSDT": 25,
    "SOLUSDT": 20,
    "XRPUSDT": 20,
    "BNBUSDT": 10,
    "DOGEUSDT": 10,
    "AVAXUSDT": 10,
    "LINKUSDT": 10,
    "ARBUSDT": 10,
    "SUIUSDT": 10,
}
# 5 significant figures at the start price (BTC 95,000 -> whole dollars, ETH 3,300 -> 0.1)
TICKS = {"BTCUSDT": "1", "ETHUSDT": "0.1"}
MIN_NOTIONAL = "10"  # "Order must have minimum value of $10"
LIQUIDATION_FEE = 0.00045  # the base taker fee the book liquidation's market orders pay


def hyperliquid_markets() -> dict[str, SimMarket]:
    out: dict[str, SimMarket] = {}
    for sym, m in default_markets().items():
        lev = MAX_LEVERAGE[sym]
        out[sym] = replace(
            m,
            quote="USDC",
            tick_size=TICKS.get(sym, m.tick_size),
            min_notional=MIN_NOTIONAL,
            tiers=hyperliquid_tiers([0.0], [float(lev)]),
            liquidation_fee=LIQUIDATION_FEE,
        )
    return out
