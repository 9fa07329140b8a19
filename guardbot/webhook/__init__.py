"""The signal webhook (a shipped strategy): chart alerts, TradingView style, into the entry path.

signal.py     the endpoint's settings and the signal JSON (its schema is published)
ratelimit.py  a token bucket per source address
server.py     aiohttp on loopback by default: auth, size cap, rate limit, schema, de-duplication
"""
