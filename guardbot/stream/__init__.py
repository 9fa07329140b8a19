"""Streaming mode: websocket streams (ccxt.pro) that run an account's guard cycle at once when its
risk crosses a level, between polling cycles.

    trigger.py   pure decisions: levels crossed at streamed marks, stream health, order updates
    runner.py    one account's streams, reconnects, fallback alerts, the triggered cycles
    service.py   the daemon's hook: a runner per account with `[accounts.stream] enabled = true`
"""

from guardbot.stream.service import StreamService

__all__ = ["StreamService"]
