"""What every venue's emulated websocket streams share: the open connections, the push timer that
the first connection starts, the record of pushed marks (benchmarks time a reaction from it), and
the switches a test uses to make the streams die (`kill`, `refuse`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from aiohttp import WSMsgType, web


class _HasSocket(Protocol):
    ws: web.WebSocketResponse


C = TypeVar("C", bound=_HasSocket)
KEEP_MARKS = 1000  # pushes remembered in `sent_marks`


class StreamHub(Generic[C]):
    def __init__(self) -> None:
        self.mark_interval_ms: int | None = None  # None: the venue's own cadence
        self.refuse = False  # answer new connections 503 (a test's outage)
        self.conns: set[C] = set()
        self.sent_marks: list[tuple[float, dict[str, float]]] = []  # (wall s, marks) per push
        self._timer: asyncio.Task[None] | None = None

    async def _tick_forever(self) -> None:  # the venue's push loop
        raise NotImplementedError

    async def _command(self, conn: C, text: str) -> None:  # the venue's answer to a client frame
        raise NotImplementedError

    async def _connection(
        self, request: web.Request, conn_of: Callable[[web.WebSocketResponse], C], *, commands: bool = True
    ) -> web.StreamResponse:
        """Serve one websocket until it closes (503 while `refuse`): the first one starts the push
        timer; its text frames go to `_command`, unless the stream takes none."""
        if self.refuse:
            return web.Response(status=503, text="streams unavailable")
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        if self._timer is None or self._timer.done():
            self._timer = asyncio.create_task(self._tick_forever())
        conn = conn_of(ws)
        self.conns.add(conn)
        try:
            async for msg in ws:
                if commands and msg.type is WSMsgType.TEXT:
                    await self._command(conn, msg.data)
        finally:
            self.conns.discard(conn)
        return ws

    def _pushed(self, marks: dict[str, Any]) -> None:
        self.sent_marks.append((time.time(), marks))
        del self.sent_marks[:-KEEP_MARKS]

    async def kill(self) -> None:
        """Close every stream connection at once (the server stays up)."""
        for conn in list(self.conns):
            with contextlib.suppress(Exception):
                await conn.ws.close()
        self.conns.clear()

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None
        await self.kill()
