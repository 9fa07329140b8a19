"""What the exchange-layer tests share: a client built by our factory on the emulator, and a look
at the emulator's books."""

from __future__ import annotations

import ccxt.async_support as ccxt
from venue_spec import credentials

from guardbot.config import AccountConfig
from guardbot.exchange import RetryPolicy
from guardbot.exchange.client import make_client
from guardbot.sim import SimAccount, SimAlgoOrder, SimServer

BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"
FAST = RetryPolicy(attempts=4, base_delay_s=0.001, max_delay_s=0.005)


def client_for(sim: SimServer, acct: SimAccount, secret: str | None = None) -> ccxt.Exchange:
    """The ccxt client of `acct` as the guard builds it (make_client), on the emulator's venue."""
    account = AccountConfig(name="main", exchange=sim.engine.exchange, base_url=sim.base_url)
    creds = credentials(sim.engine.exchange, acct.api_key, secret or acct.secret)
    client = make_client(account, creds, rate_limit=False, timeout_ms=1000)
    client.timeout_on_exit = 0  # ccxt waits 250 ms on close for TLS shutdown; loopback is plain HTTP
    return client


def algo_orders(sim: SimServer, acct: SimAccount) -> list[SimAlgoOrder]:
    return [o for o in sim.engine.open_orders(acct.api_key) if isinstance(o, SimAlgoOrder)]


def btc_qty(acct: SimAccount, side: str = "BOTH") -> float:
    pos = acct.positions.get(("BTCUSDT", side))
    return pos.qty if pos else 0.0
