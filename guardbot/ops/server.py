"""The HTTP endpoint: GET /metrics (Prometheus text format) and GET /healthz.

aiohttp on the daemon's own event loop rather than prometheus_client's threaded server: /healthz
reads the guards' state, which only the loop's thread may touch, and the daemon already depends
on aiohttp. Both handlers are synchronous reads of in-memory values, so a cycle stalled on an
exchange never delays them.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from guardbot.errors import ConfigError

log = logging.getLogger("guardbot.ops")
# generate_latest writes the classic text format, version 0.0.4
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@contextlib.asynccontextmanager
async def serve(
    host: str, port: int, render: Callable[[], bytes], health: Callable[[], tuple[int, str]]
) -> AsyncIterator[tuple[str, int]]:
    """Serve until the block exits; yields the bound (address, port). A port that cannot be bound is a
    ConfigError with one line naming metrics.host / metrics.port."""

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=render(), headers={"Content-Type": METRICS_CONTENT_TYPE})

    async def healthz(_: web.Request) -> web.Response:
        status, text = health()
        return web.Response(status=status, text=text + "\n")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)  # a scrape every 15 s is not worth a log line
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError([_bind_problem(host, port, exc)]) from None
    bound = _bound_address(runner, host, port)
    log.info("metrics on http://%s:%d/metrics, health on /healthz", *bound)
    try:
        yield bound
    finally:
        await runner.cleanup()


def _bind_problem(host: str, port: int, exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    if exc.errno == errno.EADDRINUSE:
        return (
            f"metrics.port: {host}:{port} is already in use (another guardbot?); "
            "expected a free port: give each instance its own metrics.port"
        )
    if isinstance(exc, socket.gaierror) or exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
        return (
            f"metrics.host: cannot listen on {host!r} ({reason}); "
            "expected an address of this machine, e.g. 127.0.0.1 or 0.0.0.0"
        )
    if exc.errno == errno.EACCES:
        return f"metrics.port: not allowed to listen on port {port} ({reason}); expected a port above 1023"
    return f"metrics: cannot listen on {host}:{port}: {reason}"


def _bound_address(runner: web.AppRunner, host: str, port: int) -> tuple[str, int]:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return str(address[0]), int(address[1])
    return host, port
