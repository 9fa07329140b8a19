"""Operations: what a running daemon tells the machines that watch it.

    metrics.py  Prometheus metrics per account, on a CollectorRegistry of the daemon's own
    health.py   /healthz: is every account's last good snapshot younger than its bound?
    server.py   the HTTP endpoint serving both (aiohttp, on the daemon's event loop)

`Operations` is the daemon's one handle on them (daemon.py calls three methods).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol

from guardbot.ops.health import health_check
from guardbot.ops.metrics import GuardMetrics
from guardbot.ops.server import serve

if TYPE_CHECKING:
    from guardbot.config.metrics import MetricsConfig
    from guardbot.cycle import AccountGuard, CycleOutcome

__all__ = ["GuardMetrics", "Operations", "health_check", "serve"]


class Watched(Protocol):
    """What the daemon offers: its guards and its notifier (which may be Telegram's queue)."""

    @property
    def guards(self) -> list[AccountGuard]: ...
    @property
    def notifier(self) -> object: ...


class Operations:
    def __init__(self, daemon: Watched) -> None:
        self.daemon = daemon
        self.metrics = GuardMetrics(
            lambda: daemon.guards,
            # the Telegram notifier's queue; the console notifier has none
            lambda: int(getattr(daemon.notifier, "queued", 0)),
        )
        # the bound (address, port) while serving; config port 0 lets the system pick the port
        self.address: tuple[str, int] | None = None

    def health(self) -> tuple[int, str]:
        return health_check(self.daemon.guards, int(time.time() * 1000))

    @contextlib.asynccontextmanager
    async def serving(self, config: MetricsConfig) -> AsyncIterator[tuple[str, int]]:
        async with serve(config.host, config.port, self.metrics.render, self.health) as address:
            self.address = address
            try:
                yield address
            finally:
                self.address = None

    def cycle_done(self, guard: AccountGuard, outcome: CycleOutcome, duration_s: float) -> None:
        self.metrics.cycle_done(guard.name, outcome, duration_s)

    def cycle_crashed(self, guard: AccountGuard, duration_s: float) -> None:
        self.metrics.cycle_crashed(guard.name, duration_s)
