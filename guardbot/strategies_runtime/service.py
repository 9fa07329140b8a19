"""The daemon's entry path: an entry desk per account, a candle cache per exchange session, the
strategies of `[[strategies]]` on their schedules, and the signal webhook.

A strategy that cannot start (broken file, bad parameters, an unknown symbol, the webhook's port
taken or its secret missing) is one error line in the log, one journal event and one alert: the
guard runs on without it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from guardbot.config import Settings
from guardbot.config.strategies import StrategyConfig
from guardbot.cycle import AccountGuard, now_ms
from guardbot.exchange.errors import describe
from guardbot.intents.desk import EntryDesk
from guardbot.notify.base import Alert, Notifier
from guardbot.store import Journal
from guardbot.strategies_runtime.candles import CandleCache
from guardbot.strategies_runtime.loader import StrategyLoadError, load_strategy
from guardbot.strategies_runtime.runner import StrategyRunner
from guardbot.strategies_runtime.schedule import next_run, period_of

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from guardbot.exchange.session import AccountSession
    from guardbot.webhook.server import WebhookServer

log = logging.getLogger("guardbot.strategies")


class EntryService:
    def __init__(
        self,
        settings: Settings,
        guards: Sequence[AccountGuard],
        sessions: Mapping[str, AccountSession],
        journal: Journal,
        notifier: Notifier,
    ) -> None:
        self.settings = settings
        self.journal = journal
        self.notifier = notifier
        self.candles = {
            g.name: CandleCache(sessions[g.name].client, g.clock) for g in guards if g.name in sessions
        }
        self.desks = {g.name: EntryDesk(g, settings, candles=self.candles.get(g.name)) for g in guards}
        self.runners: dict[str, StrategyRunner] = {}
        self.problems: dict[str, str] = {}  # strategy -> why it did not start
        self.webhook: WebhookServer | None = None

    async def start(self) -> list[str]:
        """Load every enabled strategy and start the webhook; the problems, one line each."""
        for config in self.settings.strategies:
            if not config.enabled:
                continue
            try:
                await self._start_one(config)
            except StrategyLoadError as err:
                await self._problem(config.name, str(err))
        return list(self.problems.values())

    async def _start_one(self, config: StrategyConfig) -> None:
        if config.name == "manual":
            raise StrategyLoadError(
                "strategy 'manual' is built in (/open, guardbot open) and needs no [[strategies]] table"
            )
        if config.name == "webhook":
            from guardbot.webhook.server import start_webhook

            self.webhook = await start_webhook(config, self.desks, self.journal, self.settings.environ)
            return
        loaded = load_strategy(config)
        for account in config.accounts:
            client = self.candles[account].client
            try:
                await client.load_markets()
            except Exception as exc:
                raise StrategyLoadError(
                    f"strategy {config.name!r}: cannot load {account}'s markets ({describe(exc, 120)})"
                ) from None
            unknown = [s for s in loaded.needs.symbols if s not in client.markets]
            if unknown:
                raise StrategyLoadError(
                    f"strategy {config.name!r}: unknown symbol {unknown[0]!r} on {account} "
                    f"({client.id}); use ccxt symbols such as 'BTC/USDT:USDT'"
                )
        self.runners[config.name] = StrategyRunner(loaded, self.desks, self.candles, self.journal)
        log.info("strategy %s started (%s) for %s", config.name, loaded.where, ", ".join(config.accounts))

    async def _problem(self, name: str, text: str) -> None:
        self.problems[name] = text
        log.error("%s; the guard runs on without it", text)
        ts = now_ms()
        await self.journal.record_event(
            None, ts, kind="strategy_not_started", text=text, details={"strategy": name}
        )
        key = f"strategy|{name}"
        alert_id = await self.journal.record_alert(None, ts, level="critical", key=key, text=text)
        delivered = await self.notifier.send(Alert("critical", "guardbot", key, text, alert_id=alert_id))
        await self.journal.update_alert_delivery(alert_id, delivered)

    def schedule(self, scheduler: AsyncIOScheduler) -> None:
        now = now_ms()
        for runner in self.runners.values():
            period, offset = period_of(runner.loaded.config.schedule, runner.loaded.needs.timeframe)
            first = dt.datetime.fromtimestamp(next_run(now, period, offset) / 1000, dt.UTC)
            scheduler.add_job(
                self._run,
                "interval",
                args=[runner],
                seconds=period / 1000,
                next_run_time=first,
                id=f"strategy:{runner.name}",
            )

    async def _run(self, runner: StrategyRunner) -> None:
        try:
            for r in await runner.run_once():
                if r.skipped or r.outcomes:
                    log.info(
                        "strategy %s on %s: %s",
                        runner.name,
                        r.account,
                        r.skipped or ", ".join(f"{o.status}: {o.reason}" for o in r.outcomes),
                    )
        except Exception:  # the strategy's own errors are caught inside; this is ours
            log.exception("strategy %s: run failed; the next one runs on schedule", runner.name)

    async def set_paused(self, name: str, paused: bool, reason: str | None = None) -> None:
        await self.journal.set_strategy_paused(name, paused, reason if paused else None, now_ms())

    async def stop(self) -> None:
        """Stop taking signals (idempotent); intents in flight finish."""
        if self.webhook is not None:
            await self.webhook.stop()
