"""Trade-intent plug-ins, loaded by name from `[[strategies]]` in the config.

A strategy proposes *intents* (symbol, side, stop, optional entry limit, take-profits, risk, a
reason); guardbot sizes every intent backward from the risk and checks it against the account's
limits before any order is sent. The contract is `guardbot.strategies_runtime`; the example
`donchian_breakout.py` is walked through in docs/strategies.md.
"""
