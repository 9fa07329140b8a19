"""`guardbot run`: APScheduler wiring, lifecycle and signals.

One event loop. Per account: a guard cycle every `schedule.interval_s` (never overlapping itself:
max one instance, coalesced, and the cycle holds the guard's lock that manual checks share), a
correlation refresh from OHLCV, plus a heartbeat, a daily digest and journal pruning. Leverage
tiers refresh themselves inside the snapshot reader (`schedule.tier_refresh_hours`).
With `[metrics] enabled`, /metrics and /healthz (guardbot/ops) are served from the start, and each
cycle's result is counted where it is logged (`_cycle`).

Shutdown (SIGTERM/SIGINT): pause the jobs, wait (bounded) for running cycles to finish their
actions, shut the scheduler down, close the exchanges and flush the journal. `shutdown(wait=True)`
would cancel running coroutine jobs mid-action, so it is done in that order.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import hashlib
import logging
import os
import signal
import time
from collections.abc import Awaitable
from contextlib import AsyncExitStack

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from guardbot.config import Settings
from guardbot.cycle import AccountGuard
from guardbot.daemon_jobs import digest_text, heartbeat_text, refresh_correlation
from guardbot.errors import ConfigError, UserError
from guardbot.exchange.session import AccountSession, open_accounts
from guardbot.guard import GuardLimits
from guardbot.guard.state import pending_confirmation
from guardbot.intents.desk import EntryDesk
from guardbot.logs import cycle_context, dump_tasks
from guardbot.notify import Alert, ConsoleNotifier, Notifier
from guardbot.notify.base import Level
from guardbot.operator.requests import Outcome, RequestServer
from guardbot.ops import Operations
from guardbot.preflight import READ_TIMEOUT_S, read_once, secret_problems
from guardbot.runlock import JournalLock
from guardbot.store import Journal
from guardbot.store.requests import OperatorRequestRow
from guardbot.strategies_runtime.service import EntryService
from guardbot.stream import StreamService

log = logging.getLogger("guardbot.daemon")
SHUTDOWN_WAIT_S = 30.0
SPREAD_WINDOW_S = 10.0  # accounts' cycles are spread over this much (or the interval, if shorter)
REQUEST_POLL_S = 1.0  # how often `guardbot pause|resume|flatten` requests are picked up
DUMP_SIGNAL = getattr(signal, "SIGUSR1", None)  # `kill -USR1`: log every task's stack (not on Windows)


def build_guard(
    session: AccountSession, journal: Journal, notifier: Notifier, limits: GuardLimits
) -> AccountGuard:
    """One account's guard on its exchange session, as `guardbot run` schedules it."""
    return AccountGuard(
        session.account.name,
        session.snapshot,
        session.gateway(),
        journal,
        notifier,
        dataclasses.replace(limits, ignore_symbols=frozenset(session.account.ignore_symbols)),
        read_cash_flows=session.cash_flows,
        read_forced_closes=session.forced_closes,
    )


def dry_run_everywhere(settings: Settings) -> Settings:
    """`guardbot run --dry-run`: the same settings with every account in dry-run."""
    accounts = [a.model_copy(update={"dry_run": True}) for a in settings.accounts]
    return settings.model_copy(update={"accounts": accounts})


class Daemon:
    def __init__(
        self,
        settings: Settings,
        notifier: Notifier | None = None,
        *,
        preflight_timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        self.settings = settings
        self.preflight_timeout_s = preflight_timeout_s
        self.notifier: Notifier = notifier or ConsoleNotifier()
        self.guards: list[AccountGuard] = []
        self.sessions: dict[str, AccountSession] = {}
        self.stop_event = asyncio.Event()
        self.scheduler: AsyncIOScheduler | None = None
        self.journal: Journal | None = None
        self.entries: EntryService | None = None  # entry desks, strategies and the webhook
        self.desks: dict[str, EntryDesk] = {}
        self.streams: StreamService | None = None  # streaming mode's triggered cycles
        self.requests = RequestServer(self, self._tell_request)  # `guardbot pause|resume|flatten`
        self.ops = Operations(self)  # Prometheus metrics and /healthz ([metrics])

    def guard(self, name: str) -> AccountGuard:
        for g in self.guards:
            if g.name == name:
                return g
        raise KeyError(name)

    async def check_now(self, name: str | None = None) -> None:
        """A manual "check now": runs the cycle under the same lock as the scheduler's."""
        for g in self.guards if name is None else [self.guard(name)]:
            await self._cycle(g)

    async def _cycle(self, guard: AccountGuard) -> None:
        need = guard.limits.confirm_readings
        try:
            # A level seen fewer times than `confirm_readings` is confirmed now, back to back (each
            # reading a fresh snapshot, so one bad reply still trips nothing), not an interval
            # later: a shock is acted on about half an interval plus two round trips after it.
            for _ in range(need):
                started = time.monotonic()
                outcome = await guard.cycle()
                self.ops.cycle_done(guard, outcome, time.monotonic() - started)
                with cycle_context(guard.name, outcome.ts):
                    log.info(outcome.log_line())
                if self.stop_event.is_set() or not pending_confirmation(outcome.state.consecutive, need):
                    break
        except asyncio.CancelledError:
            # only at exit, after the bounded wait for running cycles; the saved state and the
            # journal's open actions let the next start pick up where this one stopped
            log.info("%s: cycle interrupted by shutdown", guard.name)
        except Exception:
            self.ops.cycle_crashed(guard, time.monotonic() - started)
            log.exception("%s: cycle crashed; the next one runs on schedule", guard.name)

    async def _preflight(self) -> None:
        """Read every account once, concurrently: a rejected key or a symbol the exchange does not
        list stops the start with one line each; an exchange that does not answer only warns."""
        checks = await asyncio.gather(
            *(read_once(session, self.preflight_timeout_s) for session in self.sessions.values())
        )
        problems = [p for c in checks for p in c.problems]
        if problems:
            raise ConfigError(problems)
        for c in checks:
            for line in c.warnings:
                log.warning("%s: %s", c.account, line)
            if c.unreachable:
                log.warning(
                    "%s: could not read the account at start (%s); guarding it anyway",
                    c.account,
                    c.unreachable,
                )

    async def _tell_request(self, row: OperatorRequestRow, outcome: Outcome) -> None:
        """Everyone watching the chat learns that someone acted from a shell (journaled first)."""
        log.info("%s by %s: %s", row.action, row.requested_by, outcome.text.splitlines()[0])
        level: Level = "critical" if row.action == "flatten" else "info"
        key, text = f"command:{row.action}", f"from the command line: {outcome.text}"
        try:
            alert_id = None
            if self.journal is not None:
                now = int(time.time() * 1000)
                alert_id = await self.journal.record_alert(row.account, now, level=level, key=key, text=text)
            delivered = await self.notifier.send(Alert(level, row.account, key, text, alert_id=alert_id))
            if alert_id is not None and self.journal is not None:
                await self.journal.update_alert_delivery(alert_id, delivered)
        except Exception:
            log.exception("operator requests: cannot tell about request %s", row.id)

    async def _serve_requests(self) -> None:
        try:
            await self.requests.poll()
        except Exception:
            log.exception("operator requests: cannot read them")

    async def _tell_all(self, text: str, level: str = "info") -> None:
        await self.notifier.send(Alert(level, "guardbot", "daemon", text))  # type: ignore[arg-type]

    async def run(self) -> int:
        s = self.settings
        if not s.accounts:
            raise UserError("no [[accounts]] configured: nothing to guard (see config.example.toml)")
        loop = asyncio.get_running_loop()
        # Signals first: a SIGTERM while start-up is still talking to the exchanges is a clean stop.
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop_event.set)
        if DUMP_SIGNAL is not None:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(DUMP_SIGNAL, dump_tasks)
        try:
            async with AsyncExitStack() as stack:
                if not await self._unless_stopped(self._start(stack)):
                    log.info("stopped during start-up")
                    return 0
                self._schedule()
                await self._tell_all(f"guardbot started: {len(self.guards)} account(s)")
                await self.stop_event.wait()
                await self._shutdown()
        finally:
            handled = [signal.SIGTERM, signal.SIGINT, *([DUMP_SIGNAL] if DUMP_SIGNAL is not None else [])]
            for handled_sig in handled:
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(handled_sig)
        return 0

    async def _unless_stopped(self, work: Awaitable[None]) -> bool:
        """Run `work` unless a stop arrives first (then cancel it). True when it finished."""
        task = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(self.stop_event.wait())
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            stop.cancel()
            task.result()  # a start-up error is raised as it is
            return True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return False

    async def _start(self, stack: AsyncExitStack) -> None:
        """Take the journal's run lock and open it, open each account and read it once
        (preflight), then Telegram, each account's guard (with a reconciliation of what a previous
        run left open) and the entry desks."""
        s = self.settings
        missing = secret_problems(s)  # every missing variable at once, before anything starts
        if missing:
            raise ConfigError(missing)
        limits = GuardLimits.from_config(s.guard, s.risk)
        run_lock = JournalLock(s.storage.path, "guardbot run")
        run_lock.acquire()  # one daemon per journal; the OS releases it if we crash
        stack.callback(run_lock.release)
        journal = self.journal = await Journal.open(s.storage.path, s.storage.sampling())
        stack.push_async_callback(journal.close)
        if s.metrics.enabled:  # first: a taken port stops the start before any exchange is read
            await stack.enter_async_context(self.ops.serving(s.metrics))
        self.sessions = await stack.enter_async_context(open_accounts(s))
        await self._preflight()
        if s.telegram.enabled:  # alerts and commands on Telegram, in this loop, until shutdown
            from guardbot.notify.telegram import telegram_bot

            self.notifier = await stack.enter_async_context(telegram_bot(self))
        for account in s.accounts:
            guard = build_guard(self.sessions[account.name], journal, self.notifier, limits)
            await guard.start()
            self.guards.append(guard)
            mode = "DRY-RUN, sends nothing" if account.dry_run else "LIVE ORDERS"
            ignoring = f"; ignoring {', '.join(account.ignore_symbols)}" if account.ignore_symbols else ""
            log.info(
                "guarding %s on %s (%s, %s): %s%s",
                *(account.name, account.exchange, account.environment, mode, limits.order_policy(), ignoring),
            )
        await journal.record_event(
            None,
            int(time.time() * 1000),
            kind="start",
            text=f"guardbot run started (pid {os.getpid()}): "
            + ", ".join(f"{g.name} {'dry-run' if g.dry_run else 'live'}" for g in self.guards),
            details={"pid": os.getpid(), "dry_run": {g.name: g.dry_run for g in self.guards}},
        )
        # every new trade's one path; a strategy that cannot start is said once, the guard runs on
        self.entries = EntryService(s, self.guards, self.sessions, journal, self.notifier)
        self.desks = self.entries.desks
        stack.push_async_callback(self.entries.stop)
        await self.entries.start()
        self.streams = StreamService(s, self.guards)
        stack.push_async_callback(self.streams.stop)
        await self.streams.start()

    def _schedule(self) -> None:
        s = self.settings
        assert self.journal is not None
        sched = AsyncIOScheduler(
            timezone=dt.UTC,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": max(1, int(s.schedule.interval_s)),
            },
        )
        self.scheduler = sched
        start = dt.datetime.now(dt.UTC)
        for g in self.guards:
            # each account at its own stable offset: 200 accounts are not one burst of requests
            # every interval, an account keeps its slot across restarts, and its first look at
            # the account still comes within SPREAD_WINDOW_S of the start
            window = min(s.schedule.interval_s, SPREAD_WINDOW_S)
            first = start + dt.timedelta(seconds=spread_offset(g.name, window))
            sched.add_job(
                self._cycle,
                "interval",
                args=[g],
                seconds=s.schedule.interval_s,
                next_run_time=first,
                id=f"cycle:{g.name}",
            )
            sched.add_job(
                refresh_correlation,
                "interval",
                args=[g, self.sessions[g.name], s],
                minutes=s.schedule.ohlcv_refresh_minutes,
                next_run_time=first + dt.timedelta(seconds=2 * s.schedule.interval_s),
                id=f"correlation:{g.name}",
            )
        sched.add_job(
            self._watchdog,
            "interval",
            seconds=max(1.0, min(s.schedule.interval_s, s.guard.max_snapshot_age_s / 2)),
            id="watchdog",
        )
        sched.add_job(self._heartbeat, "interval", minutes=s.telegram.heartbeat_minutes, id="heartbeat")
        t = s.telegram.digest_time
        sched.add_job(self._digest, "cron", hour=t.hour, minute=t.minute, id="digest")
        sched.add_job(
            self.journal.prune_snapshots,
            "cron",
            args=[s.storage.snapshot_retention_days],
            hour=0,
            minute=17,
            id="prune",
        )
        # history past a week thinned a few buckets per transaction, cycles' writes in between
        soon = start + dt.timedelta(minutes=2)
        sched.add_job(self.journal.downsample, "interval", minutes=60, next_run_time=soon, id="downsample")
        sched.add_job(
            self._serve_requests,
            "interval",
            seconds=REQUEST_POLL_S,
            next_run_time=start,
            id="operator_requests",
        )
        if self.entries is not None:
            self.entries.schedule(sched)
        sched.start()

    async def _watchdog(self) -> None:
        """Say so when an account's last good snapshot is too old even though no cycle failed: a
        cycle stalled in the exchange's rate limiter, or hung, fails nothing and tells nothing."""
        now = int(time.time() * 1000)
        for g in self.guards:
            text = g.lateness(now)
            if text is not None:
                await g.alert_late(text, now)

    async def _heartbeat(self) -> None:
        await self._tell_all(heartbeat_text(self.guards))

    async def _digest(self) -> None:
        for g in self.guards:
            await self.notifier.send(Alert("info", g.name, "digest", digest_text(g), g.dry_run))

    async def _shutdown(self) -> None:
        log.info("stopping: waiting for running cycles to finish their actions")
        if self.streams is not None:
            await self.streams.stop()  # no streamed cycle starts from here on
        if self.entries is not None:
            await self.entries.stop()  # no new signals; the ones in flight finish
        if self.scheduler is not None:
            self.scheduler.pause()
        for g in self.guards:
            # a cycle finishes the request in flight, then retries nothing and sends nothing new
            g.gateway.stopping = True

        async def drain() -> None:
            for g in self.guards:
                async with g.lock:
                    pass

        try:
            await asyncio.wait_for(drain(), SHUTDOWN_WAIT_S)
        except TimeoutError:
            log.warning("a cycle did not finish within %.0fs; stopping anyway", SHUTDOWN_WAIT_S)
        await self.requests.stop(SHUTDOWN_WAIT_S)
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        log.info("stopped")


def spread_offset(name: str, window_s: float) -> float:
    """A stable offset in [0, window) for an account's first cycle (a hash of its name)."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * window_s


async def run(settings: Settings, notifier: Notifier | None = None) -> int:
    return await Daemon(settings, notifier).run()
