"""Strategy plug-ins: the contract they implement, and the runtime that loads and runs them.

Write a strategy against `guardbot.strategies_runtime` (docs/strategies.md):

    from guardbot.strategies_runtime import Candle, Intent, Needs, Strategy, StrategyParams, View

    contract.py   the plug-in interface: Strategy, StrategyParams, Needs, View, Candle (+ Intent)
    candles.py    closed candles from the exchange, one request per symbol and timeframe per bar
    loader.py     a strategy by name (strategies/NAME.py) or path; a broken file is one error line
    runner.py     one run: candles -> propose (errors caught, the strategy paused) -> the entry desk
    schedule.py   when a strategy runs: just after each bar close, or every period
    service.py    the daemon's part: the strategies and the webhook of the config, their jobs
"""

from guardbot.strategies_runtime.contract import (
    Candle,
    Intent,
    Needs,
    Side,
    Strategy,
    StrategyParams,
    TakeProfit,
    View,
    timeframe_ms,
)

__all__ = [
    "Candle",
    "Intent",
    "Needs",
    "Side",
    "Strategy",
    "StrategyParams",
    "TakeProfit",
    "View",
    "timeframe_ms",
]
