"""Trade-intent plug-ins.

A strategy proposes *intents* (symbol, side, stop, optional entry); guardbot sizes every intent
backward from the configured risk and checks it against the account's limits before any order is
sent. See `strategies/example_breakout.py`.
"""
