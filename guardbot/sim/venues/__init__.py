"""One wire module per venue: routes, JSON shapes, request signing and error codes.

`profiles` holds what the engine must know of each venue (margin model, fees, client-id rules);
the wire modules (`binance`, `bybit`) translate HTTP to engine calls and back. This package's
`__init__` imports nothing, so the engine can read `profiles` without importing any wire module.
"""
