"""Operator actions: what a person asks of guardbot, from the `guardbot` CLI or from Telegram.

Both front ends parse their own input, call these, and render the plain results their own way.
Nothing here prints, formats for a screen, or imports a front end.

    journal.py   read the journal file: status of each account, history (`guardbot status|history`)
    sizing.py    size a trade on a snapshot: symbol shorthand, configured default risk, caps
    guards.py    read the running guards: status, positions, risk, size, a stop check
    trading.py   change things: pause, resume, open (entry + stop), flatten

Import the module you need: this package's __init__ stays empty so that the CLI's offline
commands (`size`, `status`) do not load the exchange layer.
"""
