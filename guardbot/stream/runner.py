"""One account's streams (ccxt.pro) and the guard cycles they trigger.

Three watch loops on one ccxt.pro client: mark prices of the held symbols, and the user-data stream
(order updates, account updates). A mark that moves the last snapshot's book across a trigger level
(see trigger.py) runs the account's guard cycle at once: `AccountGuard.cycle()`, the same cycle
the scheduler runs, under the same lock, so a streamed cycle never overlaps a polling one and
every order still goes through the gateway. The cycle reads the account afresh: a streamed mark
only decides *when* to look, never what to do.

Each loop reconnects with a doubling backoff. A supervisor looks at the streams twice a second:
down longer than `fallback_after_s` -> one alert, polling alone guards the account; all up again ->
one alert. Polling never stops, streams or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from guardbot.config.stream import StreamConfig
from guardbot.cycle import AccountGuard, CycleOutcome
from guardbot.guard.state import pending_confirmation
from guardbot.notify.base import Alert, Level
from guardbot.stream.trigger import (
    CALM,
    FULL_POSITION_STATE,
    Health,
    TriggerLevels,
    Zone,
    backoff_s,
    crossing,
    health_step,
    order_needs_look,
    point_at_marks,
    positions_changed,
    risk_point,
    zone,
)
from guardbot.stream.venue_streams import (
    marks_alive,
    split_connections,
    user_alive,
    watch_marks,
    watch_orders,
)

log = logging.getLogger("guardbot.stream")
SUPERVISE_S = 0.5
STOP_WAIT_S = 30.0  # a streamed cycle in flight at shutdown gets this long to finish
# no mark for this long on a subscribed stream that pushes on a timer (Binance: every 1 s) = down;
# a stream that pushes on change only (Bybit) is judged by its pongs instead (venue_streams.py)
STALE_MARKS_S = 10.0


def now_ms() -> int:
    return int(time.time() * 1000)


class StreamGuard:
    def __init__(
        self,
        guard: AccountGuard,
        client: Any,  # a ccxt.pro exchange
        config: StreamConfig,
        *,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.guard = guard
        self.client = client
        self.config = config
        self.clock = clock
        self.levels = TriggerLevels.of(
            guard.limits, config.margin_ratio_levels, config.liquidation_levels_pct
        )
        self.armed: Zone = CALM
        self.health = Health()
        self.marks: dict[str, float] = {}  # streamed marks since the last cycle's reading
        self._batch: dict[str, float] = {}  # received, not yet measured
        self.last_mark_ms: int | None = None
        self.triggers: list[tuple[int, str]] = []  # (ms, reason) of every streamed evaluation
        self._armed_at: int | None = None  # ts of the cycle the armed zone comes from
        self._watching: tuple[str, ...] = ()
        self._marks_watch: asyncio.Future[dict[str, float]] | None = None  # the pending mark watch
        self._pending: str | None = None
        self._runner: asyncio.Task[None] | None = None
        self._evaluate_soon = False
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    @property
    def name(self) -> str:
        return self.guard.name

    @property
    def fallen_back(self) -> bool:
        return self.health.fallen_back

    async def start(self) -> None:
        loops: list[Callable[[], Awaitable[None]]] = [
            self._watch_marks,
            self._watch_orders,
            self._watch_positions,
        ]
        self._tasks = [asyncio.create_task(self._forever(loop)) for loop in loops]
        self._tasks.append(asyncio.create_task(self._supervise()))
        if self.guard.last is None:  # marks are measured against a book: take one now
            self.request("first look of streaming mode")

    async def stop(self) -> None:
        """Stop watching; a streamed cycle in flight finishes its actions (bounded), as the
        daemon's shutdown lets a polled one finish, and no new one starts."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        if self._marks_watch is not None:
            self._marks_watch.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._runner is not None and not self._runner.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._runner), STOP_WAIT_S)
            except (TimeoutError, Exception):
                self._runner.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._runner
        with contextlib.suppress(Exception):
            await self.client.close()

    # ---- watch loops ----

    async def _forever(self, watch_once: Callable[[], Awaitable[None]]) -> None:
        failures = 0
        while True:
            try:
                await watch_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a dropped or refused connection: ccxt reconnects on the next watch
                failures += 1
                delay = backoff_s(failures, self.config.reconnect_max_s)
                log.info("%s: stream %s (%s); again in %.2fs", self.name, type(exc).__name__, exc, delay)
                await asyncio.sleep(delay)

    def _held(self) -> tuple[str, ...]:
        last = self.guard.last
        if last is None or last.snapshot is None:
            return ()
        return tuple(sorted({p.symbol for p in last.snapshot.positions}))

    async def _watch_marks(self) -> None:
        symbols = self._held()
        if symbols != self._watching and self._marks_watch is not None:
            self._marks_watch.cancel()  # ccxt replaces a cancelled watch future on the next watch
            self._marks_watch = None
        if not symbols:  # nothing held, nothing to measure: look again after the next cycle
            self._watching = ()
            await asyncio.sleep(SUPERVISE_S)
            return
        self._watching = symbols
        if self._marks_watch is None:
            self._marks_watch = asyncio.ensure_future(watch_marks(self.client, symbols))
        # bounded wait: a stream that pushes on change only (Bybit) may stay silent for long, and
        # a symbol held meanwhile must join the watch without waiting for a push
        done, _ = await asyncio.wait({self._marks_watch}, timeout=SUPERVISE_S)
        if not done:
            return
        watch, self._marks_watch = self._marks_watch, None
        marks = watch.result()  # a dropped line raises here, and _forever reconnects
        self.last_mark_ms = self.clock()
        if marks:
            self.on_marks(marks)

    async def _watch_orders(self) -> None:
        orders = await watch_orders(self.client)
        last = self.guard.last
        # a venue whose order stream omits reduce-only and trigger (Hyperliquid's WsBasicOrder):
        # the last snapshot's own reducing stops, by id
        held = last.snapshot.open_orders if last is not None and last.snapshot is not None else ()
        stops = frozenset(o.id for o in held if o.is_stop and (o.reduce_only or o.close_position))
        looks = [o for o in orders if order_needs_look(o, stops)]
        if looks:
            o = looks[0]
            self.request(f"a reducing {o.get('symbol')} stop left the book ({o.get('status')})")

    async def _watch_positions(self) -> None:
        positions = await self.client.watch_positions()
        last = self.guard.last
        if last is None or last.snapshot is None:
            return
        known = {f"{p.symbol}|{p.side.value}": p.contracts for p in last.snapshot.positions}
        if positions_changed(positions, known, full_state=self.client.id in FULL_POSITION_STATE):
            self.request("a position changed on the exchange")

    # ---- triggers ----

    def on_marks(self, marks: dict[str, float]) -> None:
        """Streamed marks: evaluated once per turn of the loop (a burst of per-symbol messages is
        one measurement of the book)."""
        self._batch.update(marks)
        if not self._evaluate_soon:
            self._evaluate_soon = True
            asyncio.get_running_loop().call_soon(self._evaluate_marks)

    def _evaluate_marks(self) -> None:
        self._evaluate_soon = False
        last = self.guard.last
        if last is None or last.snapshot is None or last.figures is None:
            return
        fresh = self._armed_at != last.ts
        if fresh:  # a newer cycle: its reading re-arms the trigger, and older marks are stale
            self._armed_at = last.ts
            self.armed = zone(risk_point(last.figures, self.guard.limits.dust_notional), self.levels)
            self.marks.clear()
        self.marks.update(self._batch)
        self._batch.clear()
        point = point_at_marks(last.snapshot, self.marks, self.guard.limits.dust_notional)
        self.armed, reason = crossing(self.armed, point, self.levels)
        # a poll read the move first and saw a level once: the confirming reading it needs is
        # taken now, not an interval later
        need = self.guard.limits.confirm_readings
        if (
            reason is None
            and fresh
            and self.armed != CALM
            and pending_confirmation(last.state.consecutive, need)
        ):
            reason = "confirming a level the last cycle read once"
        if reason is not None:
            self.request(reason)

    def request(self, reason: str) -> None:
        """Run the guard cycle as soon as the lock allows; requests while one runs make one more."""
        if self._stopping:
            return
        if self._pending is None:
            self._pending = reason
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run_requested())

    async def _run_requested(self) -> None:
        while self._pending is not None and not self._stopping:
            reason, self._pending = self._pending, None
            ts = self.clock()
            self.triggers.append((ts, reason))
            log.info("%s: streamed trigger: %s", self.name, reason)
            need = self.guard.limits.confirm_readings
            for _ in range(need):  # a level needs `confirm_readings` readings: take them now
                outcome = await self._cycle()
                if self._stopping or outcome is None:
                    break
                if not pending_confirmation(outcome.state.consecutive, need):
                    break
            with contextlib.suppress(Exception):
                await self.guard.journal.record_event(self.name, ts, kind="stream_trigger", text=reason)

    async def _cycle(self) -> CycleOutcome | None:
        try:
            outcome = await self.guard.cycle()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: streamed cycle crashed; polling goes on", self.name)
            return None
        log.info("%s [streamed]", outcome.log_line())
        return outcome

    # ---- health ----

    def streams_up(self) -> bool:
        user, market = split_connections(self.client)
        user_up = user_alive(self.client, user)
        if not self._watching:
            return user_up
        return user_up and marks_alive(self.client, market, self.last_mark_ms, self.clock(), STALE_MARKS_S)

    async def _supervise(self) -> None:
        bound = int(self.config.fallback_after_s * 1000)
        while True:
            await asyncio.sleep(SUPERVISE_S)
            self.health, event = health_step(self.health, self.clock(), self.streams_up(), bound)
            if event == "fallback":
                await self._alert(
                    "warning",
                    "stream|fallback",
                    f"streams down for over {self.config.fallback_after_s:g}s: guarding by polling "
                    "(every cycle as scheduled) while they reconnect",
                )
            elif event == "recovered":
                await self._alert("info", "stream|recovered", "streams back: streamed triggers are on again")

    async def _alert(self, level: Level, key: str, text: str) -> None:
        log.warning("%s: %s", self.name, text)
        g = self.guard
        try:
            ts = self.clock()
            alert_id = await g.journal.record_alert(self.name, ts, level=level, key=key, text=text)
            delivered = await g.notifier.send(Alert(level, self.name, key, text, g.dry_run, alert_id))
            await g.journal.update_alert_delivery(alert_id, delivered)
        except Exception:
            log.exception("%s: cannot send the stream alert", self.name)
