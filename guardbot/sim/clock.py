"""Run an emulator's scenario in wall-clock time: `speed` sim seconds per wall second."""

from __future__ import annotations

import asyncio
import contextlib
import time

from guardbot.sim.engine import SimExchange


class ScenarioClock:
    """Calls `engine.advance` every `tick_s` wall seconds with the sim time that has elapsed.

    Tests call `engine.advance(seconds)` directly instead: deterministic and instant.
    """

    def __init__(self, engine: SimExchange, speed: float = 1.0, tick_s: float = 0.1) -> None:
        if speed <= 0 or tick_s <= 0:
            raise ValueError("speed and tick_s must be > 0")
        self.engine = engine
        self.speed = speed
        self.tick_s = tick_s
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def run(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(self.tick_s)
            now = time.monotonic()
            self.engine.advance((now - last) * self.speed)
            last = now

    def start(self) -> None:
        if self.running:
            raise RuntimeError("the clock is already running")
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
