"""One account's entry desk: the one path every new trade takes, whoever proposed it.

    submit(intent)          a strategy or the webhook: journal -> fresh read -> check -> bracket
    propose(intent)         /open, `guardbot open`: checked and sized on the last snapshot, to show
    confirm(plan)           after the person said yes: read again, check again, and send only if
                            the stop still holds and the size moved within the tolerance

Each intent is journaled (`intents`) before anything else, under (account, source, key): a key seen
before is a duplicate and is ignored. Checks and orders run under the guard's lock, on a snapshot
read right then, so two intents never size against the same stale picture and no guard cycle runs
in between. A refusal is journaled with its one-line reason and alerted (a person at /open or the
CLI reads it in the reply instead); nothing is sent.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from guardbot.config import Settings
from guardbot.cycle import AccountGuard
from guardbot.domain import AccountSnapshot
from guardbot.exchange.errors import describe
from guardbot.intents.bracket import BracketResult, place_bracket
from guardbot.intents.checks import Plan, Refused, drift, intent_symbol, plan_intent
from guardbot.intents.follow import tell
from guardbot.intents.model import Intent
from guardbot.operator.sizing import group_cluster
from guardbot.risk.correlation import Cluster, correlation_report
from guardbot.store.intents import BracketStatus, IntentStatus
from guardbot.strategies_runtime.candles import CandleCache

log = logging.getLogger("guardbot.intents")

MANUAL = "manual"
Status = Literal["refused", "duplicate", "changed", "placed", "dry_run", "failed"]


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Status
    reason: str  # one line for a person
    intent_id: int | None = None
    plan: Plan | None = None  # the figures it was (or would have been) sent with; the new ones if changed
    bracket: BracketResult | None = None

    @property
    def sent(self) -> bool:
        return self.status in ("placed", "failed") and self.bracket is not None


def rule_for(source: str) -> str:
    """The rule named in the journal's actions and in the client order ids of a source's orders."""
    return "manual_open" if source == MANUAL else source


class EntryDesk:
    def __init__(
        self, guard: AccountGuard, settings: Settings, *, candles: CandleCache | None = None
    ) -> None:
        self.guard = guard
        self.settings = settings
        self.candles = candles

    @property
    def account(self) -> str:
        return self.guard.name

    # ------------------------------------------------------------------ the three ways in

    async def submit(
        self, intent: Intent, *, source: str, key: str, quiet_duplicate: bool = False
    ) -> Outcome:
        """A strategy's or a signal's intent: checked on a fresh read and sent, or refused.

        A key seen before is a duplicate, journaled as an event unless `quiet_duplicate` (a
        strategy proposing again within the same bar is routine, not news)."""
        intent_id, new = await self._record(intent, source, key)
        if not new:
            text = f"{source} intent {key!r} was received before: duplicate ignored"
            if not quiet_duplicate:
                await self.guard.journal.record_event(
                    self.account,
                    self._now(),
                    kind="intent_duplicate",
                    text=text,
                    details={"intent_id": intent_id},
                )
            return Outcome("duplicate", text, intent_id)
        async with self.guard.lock:
            try:
                plan = await self._plan(intent, source)
            except Refused as r:
                return await self._refuse(intent_id, intent, source, str(r))
            result = await place_bracket(
                self.guard.gateway, plan, rule=rule_for(source), episode=f"{source}:{key}"
            )
        return await self._placed(intent_id, source, plan, result)

    async def propose(self, intent: Intent, *, key: str, source: str = MANUAL) -> Plan:
        """Sized and checked on the guard's last snapshot (no request): what a person is asked to
        confirm. Raises Refused, journaled under `key` (the confirmation's key)."""
        last = self.guard.last
        try:
            if last is None or not last.ok or last.snapshot is None:
                raise Refused(f"{self.account}: no snapshot yet; try again after the next guard cycle")
            return await self._check(intent, source, last.snapshot)
        except Refused as r:
            intent_id, new = await self._record(intent, source, key)
            if new:
                await self._finish(intent_id, IntentStatus.REFUSED, str(r), None)
            raise

    async def confirm(self, asked: Plan, *, key: str, source: str = MANUAL) -> Outcome:
        """The person confirmed `asked`: read the account again and send it only if it still holds.

        Refused when the stop has been crossed, a check now fails, or the size moved by more than
        `[entries] confirm_tolerance_pct` (the outcome's plan then carries the new figures). Within
        the tolerance the smaller of the two sizes is sent: never more than the person saw."""
        intent = asked.intent
        intent_id, new = await self._record(intent, source, key)
        if not new:
            return Outcome("duplicate", "this confirmation was used already: nothing sent", intent_id)
        async with self.guard.lock:
            try:
                now = await self._plan(intent, source)
            except Refused as r:
                return await self._refuse(intent_id, intent, source, str(r), plan=asked)
            moved = drift(asked, now, self.settings.entries.confirm_tolerance_pct)
            if moved is not None:
                await self._finish(intent_id, IntentStatus.REFUSED, moved, now)
                return Outcome("changed", moved, intent_id, now)
            plan = now if now.quantity <= asked.quantity else dataclasses.replace(asked, mark=now.mark)
            result = await place_bracket(
                self.guard.gateway, plan, rule=rule_for(source), episode=f"{source}:{key}"
            )
        return await self._placed(intent_id, source, plan, result)

    # ------------------------------------------------------------------ checking

    async def _plan(self, intent: Intent, source: str) -> Plan:
        """Checked on the account as it is now (the caller holds the guard's lock)."""
        try:
            snapshot = await self.guard.fresh_snapshot()
        except Exception as exc:
            raise Refused(f"cannot read the account now ({describe(exc, 160)}): nothing sent") from None
        return await self._check(intent, source, snapshot)

    async def _check(self, intent: Intent, source: str, snapshot: AccountSnapshot) -> Plan:
        paused = await self._source_paused(source)
        cluster_of = await self._clusters(intent, snapshot)
        return plan_intent(
            intent, snapshot, self.guard.state, self.settings, cluster_of, source_paused=paused
        )

    async def _source_paused(self, source: str) -> str | None:
        if source == MANUAL:
            return None  # a person pauses the account (/pause), not the keyboard
        state = (await self.guard.journal.strategy_states()).get(source)
        if state is None or not state.paused:
            return None
        return f"strategy {source} is paused ({state.reason or 'by hand'}); /strategies resume {source}"

    async def _clusters(self, intent: Intent, snapshot: AccountSnapshot) -> Callable[[str], Cluster | None]:
        """The correlated cluster a symbol would join: from the guard's hourly correlations, or, for a
        symbol they do not cover yet, from closes read now (cached per bar)."""
        risk = self.settings.risk
        held = [p.symbol for p in snapshot.positions]
        known = self.guard.correlations or {}

        def from_guard(symbol: str) -> Cluster | None:
            return group_cluster(symbol, held, known, risk.cluster_threshold)

        try:
            symbol = intent_symbol(snapshot, intent.symbol)
        except Refused:
            return from_guard
        if not held or self.candles is None or any(symbol in pair for pair in known):
            return from_guard
        wanted = sorted({*held, symbol, risk.benchmark})
        try:
            closes = {
                s: [
                    c.close
                    for c in await self.candles.closed(
                        s, risk.correlation_timeframe, risk.correlation_lookback
                    )
                ]
                for s in wanted
            }
        except Exception as exc:
            log.warning(
                "%s: no closes for the cluster check of %s (%s)", self.account, symbol, describe(exc, 120)
            )
            return from_guard
        report = correlation_report(
            closes,
            benchmark=risk.benchmark,
            threshold=risk.cluster_threshold,
            timeframe=risk.correlation_timeframe,
            lookback=risk.correlation_lookback,
        )
        return report.cluster_of

    # ------------------------------------------------------------------ journal and alerts

    def _now(self) -> int:
        return int(self.guard.clock())

    async def _record(self, intent: Intent, source: str, key: str) -> tuple[int, bool]:
        result: tuple[int, bool] = await self.guard.journal.record_intent(
            self.account,
            self._now(),
            source=source,
            key=key,
            symbol=intent.symbol,
            side=intent.side.value,
            stop=intent.stop,
            entry=intent.entry,
            take_profits=[tp.model_dump() for tp in intent.take_profits],
            risk_amount=intent.risk,
            risk_pct=intent.risk_pct,
            reason=intent.reason,
        )
        return result

    async def _finish(self, intent_id: int, status: IntentStatus, outcome: str, plan: Plan | None) -> None:
        details = {}
        quantity = None
        if plan is not None:
            r = plan.sizing
            quantity = r.quantity
            details = {
                "symbol": plan.symbol,
                "entry": r.entry,
                "mark": plan.mark,
                "risk_budget": r.risk_budget,
                "risk_at_stop": r.risk_at_stop,
                "binding_constraint": r.binding_constraint,
                "take_profits": [dataclasses.asdict(tp) for tp in plan.take_profits],
            }
        await self.guard.journal.finish_intent(
            intent_id, status, outcome=outcome, ts=self._now(), quantity=quantity, details=details
        )

    async def _refuse(
        self, intent_id: int, intent: Intent, source: str, reason: str, *, plan: Plan | None = None
    ) -> Outcome:
        await self._finish(intent_id, IntentStatus.REFUSED, reason, plan)
        log.info(
            "%s: %s intent %s %s refused: %s", self.account, source, intent.side.value, intent.symbol, reason
        )
        if source != MANUAL:
            text = f"{source}: {intent.side.value} {intent.symbol} refused, nothing sent: {reason}"
            await self._tell("warning", f"intent|{source}|{intent.symbol}", text)
        return Outcome("refused", reason, intent_id, plan)

    async def _placed(self, intent_id: int, source: str, plan: Plan, result: BracketResult) -> Outcome:
        entry = result.entry
        if entry.status == "dry_run":
            status: Status = "dry_run"
            summary = f"dry-run: {plan.summary()} (nothing sent)"
        elif entry.ok or entry.status == "unknown":
            status = "placed"
            summary = plan.summary()
            if entry.status == "unknown":
                summary += " (the entry's fate is unknown: it is looked up again next cycle)"
            if result.unwind is not None:
                summary += ": its stop could not be placed, so the entry was taken back"
        else:
            status = "failed"
            summary = f"{plan.summary()}: the entry was not accepted ({entry.reason})"
        await self._finish(intent_id, IntentStatus(status), summary, plan)
        if status in ("placed", "dry_run"):
            await self.guard.journal.record_bracket(
                intent_id,
                self.account,
                self._now(),
                symbol=plan.symbol,
                side=plan.sizing.side.value,
                entry_client_id=entry.client_order_id or "",
                stop_client_id=result.stop.client_order_id if result.stop else None,
                take_profit_client_ids=[tp.client_order_id or "" for tp in result.take_profits],
                status=_bracket_status(status, result),
            )
        if source != MANUAL:
            level = "info" if status != "failed" and result.unwind is None else "critical"
            text = f"{source}: {summary}" + "".join(f"\n  → {line}" for line in result.lines())
            await self._tell(level, f"intent|{source}|{plan.symbol}", text)
        return Outcome(status, summary, intent_id, plan, result)

    async def _tell(self, level: str, key: str, text: str) -> None:
        g = self.guard
        await tell(g.journal, g.notifier, self.account, level, key, text, dry_run=g.dry_run, ts=self._now())


def _bracket_status(status: Status, result: BracketResult) -> BracketStatus:
    if status == "dry_run":
        return BracketStatus.DRY_RUN
    if result.unwind is not None:
        return BracketStatus.UNWOUND
    return BracketStatus.RESTING if result.resting else BracketStatus.OPEN


def desk_of(host: object, guard: AccountGuard) -> EntryDesk:
    """The daemon's entry desk of `guard` (`host.desks`), or a new one on the host's settings."""
    desks = getattr(host, "desks", None)
    if isinstance(desks, dict) and isinstance(desks.get(guard.name), EntryDesk):
        desk: EntryDesk = desks[guard.name]
        return desk
    settings = getattr(host, "settings", None)
    assert isinstance(settings, Settings)
    return EntryDesk(guard, settings)
