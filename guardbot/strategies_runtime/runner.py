"""One run of a strategy: for each of its accounts, closed candles and the account's positions in,
intents out, each intent through the account's entry desk (sized, checked, sent or refused).

A strategy is user code: it runs in a worker thread with a time limit, so a slow or stuck one never
holds up the guard's loop. Anything it raises (or returns that is not a list of Intent) is caught:
journaled as a `strategy_error` event, alerted once, and the strategy is paused (`strategy_state`)
until resumed. A paused strategy's runs are skipped; missing candles or a missing snapshot skip
one account's run without pausing anything.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from guardbot.exchange.errors import describe
from guardbot.intents.desk import EntryDesk, Outcome
from guardbot.intents.follow import tell
from guardbot.intents.model import Intent
from guardbot.store import Journal
from guardbot.strategies_runtime.candles import CandleCache
from guardbot.strategies_runtime.contract import Candle, View
from guardbot.strategies_runtime.loader import LoadedStrategy

log = logging.getLogger("guardbot.strategies")

PROPOSE_TIMEOUT_S = 30.0


class StrategyFailed(Exception):
    """What went wrong inside a strategy, as one line (the traceback goes to the journal)."""


@dataclass
class RunReport:
    account: str
    skipped: str | None = None  # why this account's run did not happen
    error: str | None = None  # the strategy failed (and is paused now)
    outcomes: list[Outcome] = field(default_factory=list)


def _intents(value: object) -> list[Intent]:
    if isinstance(value, Intent):
        return [value]
    if value is None:
        return []
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise StrategyFailed(f"propose() must return a list of Intent, got {type(value).__name__}")
    bad = [type(v).__name__ for v in value if not isinstance(v, Intent)]
    if bad:
        raise StrategyFailed(f"propose() must return a list of Intent, got a {bad[0]} in it")
    return list(value)


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""


class StrategyRunner:
    def __init__(
        self,
        loaded: LoadedStrategy,
        desks: Mapping[str, EntryDesk],
        candles: Mapping[str, CandleCache],
        journal: Journal,
        *,
        timeout_s: float = PROPOSE_TIMEOUT_S,
    ) -> None:
        self.loaded = loaded
        self.desks = desks
        self.candles = candles
        self.journal = journal
        self.timeout_s = timeout_s
        self.last: list[RunReport] = []
        self.last_run_ms: int | None = None

    @property
    def name(self) -> str:
        return self.loaded.name

    async def paused(self) -> str | None:
        state = (await self.journal.strategy_states()).get(self.name)
        return (state.reason or "paused by hand") if state is not None and state.paused else None

    async def run_once(self) -> list[RunReport]:
        """Run for every account of the strategy; returns what happened on each."""
        reports: list[RunReport] = []
        why = await self.paused()
        for account in self.loaded.config.accounts:
            if why is not None:
                reports.append(RunReport(account, skipped=f"paused: {why}"))
                continue
            report = await self._run_account(account)
            reports.append(report)
            if report.error is not None:
                why = report.error  # paused now: the other accounts wait for the resume too
        self.last = reports
        return reports

    async def _run_account(self, account: str) -> RunReport:
        desk, cache = self.desks[account], self.candles[account]
        last = desk.guard.last
        if last is None or not last.ok or last.snapshot is None:
            return RunReport(account, skipped="no snapshot of the account yet")
        needs = self.loaded.needs
        self.last_run_ms = now = int(desk.guard.clock())
        try:
            bars: dict[str, tuple[Candle, ...]] = {}
            for symbol in needs.symbols:
                bars[symbol] = await cache.closed(symbol, needs.timeframe, needs.bars)
        except Exception as exc:
            log.warning("%s on %s: no candles this run (%s)", self.name, account, describe(exc, 160))
            return RunReport(account, skipped=f"no candles: {describe(exc, 160)}")
        view = View(now, needs.timeframe, bars, last.snapshot.positions, last.snapshot.open_orders, account)
        try:
            proposed = await asyncio.wait_for(
                asyncio.to_thread(self.loaded.strategy.propose, view, self.loaded.params), self.timeout_s
            )
            intents = _intents(proposed)
        except Exception as exc:
            return RunReport(account, error=await self._fail(exc, desk, now))
        bar = cache.last_closed_open(needs.timeframe, now)
        report = RunReport(account)
        for intent in intents:
            key = intent.id or f"{bar}:{intent.symbol}:{intent.side.value}"
            out = await desk.submit(intent, source=self.name, key=key, quiet_duplicate=True)
            report.outcomes.append(out)
        return report

    async def _fail(self, exc: BaseException, desk: EntryDesk, now: int) -> str:
        if isinstance(exc, TimeoutError):
            what = f"propose() took longer than {self.timeout_s:g}s"
        elif isinstance(exc, StrategyFailed):
            what = str(exc)
        else:
            what = f"{type(exc).__name__}: {exc}{_where(exc)}"
        what = what.splitlines()[0][:300] if what else type(exc).__name__
        await self.journal.set_strategy_paused(self.name, True, what, now)
        text = (
            f"strategy {self.name} failed and is paused until resumed "
            f"(/strategies resume {self.name}): {what}"
        )
        log.error("%s", text)
        trace = "".join(traceback.format_exception(exc))[-2000:]
        await self.journal.record_event(
            desk.account,
            now,
            kind="strategy_error",
            text=text,
            details={"strategy": self.name, "traceback": trace},
        )
        g = desk.guard
        await tell(
            g.journal,
            g.notifier,
            desk.account,
            "critical",
            f"strategy|{self.name}",
            text,
            dry_run=g.dry_run,
            ts=now,
        )
        return what
