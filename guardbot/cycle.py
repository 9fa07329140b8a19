"""One account's guard: the path of one cycle, read -> measure -> decide -> act -> tell.

The pure parts (risk/, guard/) decide; this module only moves data between them and the edges:
the exchange session (snapshot, gateway), the journal and the notifier. It never decides.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import ccxt.async_support as ccxt

from guardbot.domain import AccountSnapshot, CashFlow, ForcedClose, Side
from guardbot.exchange.errors import SnapshotError
from guardbot.exchange.gateway import ActionResult, OrderGateway
from guardbot.execution import DecisionExecutor
from guardbot.guard import Decision, GuardLimits, GuardState, evaluate, evaluate_blind
from guardbot.guard.cashflow import FlowInput, ledger_since, wallet_moved
from guardbot.guard.decisions import RULE_BLIND, Level
from guardbot.guard.forced import legs_lost
from guardbot.guard.state import initial_state
from guardbot.intents.follow import BracketFollower
from guardbot.logs import cycle_context
from guardbot.messages import Message, compose
from guardbot.notify.base import Alert, Notifier
from guardbot.reconcile import Reconciler
from guardbot.risk.account import AccountFigures, measure_account
from guardbot.risk.margin import MissingTiersError
from guardbot.store import Journal
from guardbot.store.cycle_writes import CycleSnapshot, Transition
from guardbot.store.rows import GuardStateRow

log = logging.getLogger("guardbot.cycle")

# Same alert text for the same key is not repeated within this window (a rule that keeps failing
# to place an order must not send one message per cycle).
REPEAT_WINDOW_MS = 15 * 60 * 1000


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class CycleOutcome:
    account: str
    ts: int
    ok: bool
    state: GuardState
    figures: AccountFigures | None = None
    snapshot: AccountSnapshot | None = None
    decisions: list[Decision] = field(default_factory=list)
    actions: list[ActionResult] = field(default_factory=list)
    error: str | None = None

    def log_line(self) -> str:
        if not self.ok or self.figures is None:
            return f"{self.account}: no snapshot ({self.error}); state {self.state.trading_state.value}"
        f = self.figures
        mr = "inf" if not math.isfinite(f.margin_ratio) else f"{f.margin_ratio:.2%}"
        acted = f", {len(self.actions)} action(s)" if self.actions else ""
        return (
            f"{self.account}: equity {f.equity:,.2f} margin ratio {mr} leverage {f.effective_leverage:.2f}x "
            f"positions {len(f.positions)} state {self.state.trading_state.value}{acted}"
        )


def figures_row(f: AccountFigures) -> dict[str, float]:
    return {
        "equity": f.equity,
        "wallet_balance": f.wallet_balance,
        "unrealized_pnl": f.unrealized_pnl,
        "maintenance_margin": f.maintenance_margin,
        "initial_margin": f.initial_margin,
        "margin_ratio": f.margin_ratio,
        "effective_leverage": f.effective_leverage,
        "gross_notional": f.gross_notional,
        "net_notional": f.net_notional,
    }


def _stop_of(snapshot: AccountSnapshot, symbol: str, side: Side) -> float | None:
    closing = "sell" if side is Side.LONG else "buy"
    for o in snapshot.open_orders:
        if o.symbol == symbol and o.is_stop and o.side == closing and (o.reduce_only or o.close_position):
            return o.trigger_price
    return None


def positions_rows(snapshot: AccountSnapshot, f: AccountFigures) -> list[dict[str, Any]]:
    return [
        {
            "symbol": p.symbol,
            "side": p.position.side.value,
            "contracts": p.position.contracts,
            "entry_price": p.position.entry_price,
            "mark_price": p.position.mark_price,
            "notional": p.notional,
            "unrealized_pnl": p.unrealized_pnl,
            "liquidation_price": p.liquidation_price,
            "liquidation_distance_pct": p.liquidation_distance_pct,
            "exchange_liquidation_price": p.position.exchange_liquidation_price,
            "stop_price": _stop_of(snapshot, p.symbol, p.position.side),
        }
        for p in f.positions
    ]


def orders_key(snapshot: AccountSnapshot) -> list[tuple[Any, ...]]:
    """What identifies each open order: a change in them makes the journal keep a snapshot row."""
    return [
        (o.client_order_id or o.id, o.symbol, o.side, o.type, o.amount, o.price, o.trigger_price)
        for o in snapshot.open_orders
    ]


class AccountGuard:
    """Guards one account. `cycle()` is safe to call from the scheduler and from "check now"."""

    def __init__(
        self,
        name: str,
        read_snapshot: Callable[[], Awaitable[AccountSnapshot]],
        gateway: OrderGateway,
        journal: Journal,
        notifier: Notifier,
        limits: GuardLimits,
        *,
        clock: Callable[[], int] = now_ms,
        read_cash_flows: Callable[[int], Awaitable[list[CashFlow] | None]] | None = None,
        read_forced_closes: Callable[[list[str], int], Awaitable[list[ForcedClose] | None]] | None = None,
    ) -> None:
        self.name = name
        self._read = read_snapshot
        self._read_flows = read_cash_flows
        self._read_forced = read_forced_closes
        self.gateway = gateway
        self.journal = journal
        self.notifier = notifier
        self.limits = limits
        self.clock = clock
        self.lock = asyncio.Lock()  # one cycle at a time, shared with manual checks and shutdown
        self.state: GuardState = initial_state()
        self.last: CycleOutcome | None = None
        self.betas: Mapping[str, float] | None = None
        self.correlations: Mapping[tuple[str, str], float] | None = None
        self._recent: dict[str, tuple[str, int]] = {}
        self._late_since: int | None = None  # last_ok_ms of the stretch the watchdog has reported
        self.started_ms: int | None = None
        self.executor = DecisionExecutor(name, gateway, journal, clock)
        self.reconciler = Reconciler(name, gateway, journal)
        # a resting entry's stop (and take-profits) goes with it when it leaves the book unfilled
        self.brackets = BracketFollower(name, gateway, journal, notifier)

    @property
    def dry_run(self) -> bool:
        return self.gateway.dry_run

    # ---------------------------------------------------------------- start-up

    async def start(self) -> list[str]:
        """Load the persisted guard state and reconcile actions a previous run left open."""
        self.started_ms = self.clock()
        if self.limits.ignore_symbols:
            names = ", ".join(sorted(self.limits.ignore_symbols))
            await self.journal.record_event(
                self.name,
                self.started_ms,
                kind="ignored_symbols",
                text=f"left alone ([accounts] ignore_symbols): {names}; measured in the pool, never acted on",
                details={"symbols": sorted(self.limits.ignore_symbols)},
            )
        row = await self.journal.load_guard_state(self.name)
        if row is not None and row.extra:
            self.state = GuardState.from_dict(row.extra)
        return await self.reconcile()

    async def reconcile(self) -> list[str]:
        """Settle every action whose fate is open by looking it up (see reconcile.py)."""
        return await self.reconciler.open_actions()

    # ---------------------------------------------------------------- the cycle

    async def cycle(self) -> CycleOutcome:
        async with self.lock:
            ts = self.clock()
            # every line this cycle logs names the account and the cycle (its journal rows' ts)
            with cycle_context(self.name, ts):
                return await self._cycle(ts)

    async def _cycle(self, ts: int) -> CycleOutcome:
        # orders whose fate is open are settled first: the decisions below must see the truth
        await self.reconcile()
        try:
            # stamped with the guard's clock: the age that matters is "when did *we* last see it"
            snapshot = dataclasses.replace(await self._read(), timestamp_ms=self.clock())
            figures = measure_account(snapshot)
        except (SnapshotError, MissingTiersError, ccxt.BaseError, OSError) as exc:
            error = (
                str(exc)
                if isinstance(exc, SnapshotError | MissingTiersError)
                else f"{type(exc).__name__}: {exc}"
            )
            decisions, self.state = evaluate_blind(self.state, self.limits, ts, error, account=self.name)
            await self.journal.record_event(self.name, ts, kind="snapshot_failed", text=error[:500])
            outcome = CycleOutcome(self.name, ts, False, self.state, decisions=decisions, error=error)
            self.last = outcome
            ids = await self._journal_cycle(ts, decisions, None)
            await self._apply(decisions, ids, None, ts, outcome)
            return outcome

        await self.reconciler.left_the_book(snapshot)
        flows = await self._cash_flows(snapshot, ts) if wallet_moved(self.state, snapshot) else None
        forced = await self._forced_closes(snapshot)
        decisions, self.state = evaluate(
            snapshot,
            figures,
            self.state,
            self.limits,
            ts,
            betas=self.betas,
            correlations=self.correlations,
            account=self.name,
            flows=flows,
            forced=forced,
        )
        seen = CycleSnapshot(
            figures_row(figures),
            positions_rows(snapshot, figures),
            self.state.trading_state.value,
            orders_key(snapshot),
        )
        # The state the decisions leave (locks, cut targets, conditions) is saved before a single
        # order goes out: a stop or a crash mid-orders must not make a restart decide them again.
        # With the snapshot and the decisions, in one transaction (store/cycle_writes.py).
        ids = await self._journal_cycle(ts, decisions, seen)
        outcome = CycleOutcome(self.name, ts, True, self.state, figures, snapshot, decisions)
        self.last = outcome
        await self._apply(decisions, ids, snapshot, ts, outcome)
        await self.brackets.follow(snapshot, outcome.actions, ts)
        return outcome

    async def _forced_closes(self, snapshot: AccountSnapshot) -> list[ForcedClose]:
        """A position shrank or vanished since the last reading: did the exchange close it by force?"""
        lost = legs_lost(self.state.last_legs, snapshot)
        if not lost or self._read_forced is None or self.state.last_ok_ms is None:
            return []
        symbols = sorted({key.rpartition("|")[0] for key in lost})
        try:
            found = await self._read_forced(symbols, self.state.last_ok_ms - 60_000)
        except (ccxt.BaseError, OSError) as exc:
            log.warning("%s: cannot read the order history for %s (%s)", self.name, symbols, exc)
            return []
        return found or []

    async def fresh_snapshot(self) -> AccountSnapshot:
        """The account read now, for an entry about to be sent (no decision is taken on it)."""
        return dataclasses.replace(await self._read(), timestamp_ms=self.clock())

    async def _cash_flows(self, snapshot: AccountSnapshot, ts: int) -> FlowInput:
        """The venue's ledger since the last accounted entry, read only when the wallet moved."""
        if self._read_flows is None:
            return FlowInput(None, feed=False)
        try:
            entries = await self._read_flows(ledger_since(self.state, ts))
        except (ccxt.BaseError, OSError) as exc:
            # the drawdown waits for the ledger rather than take a transfer for a loss
            log.warning("%s: cannot read the ledger (%s: %s)", self.name, type(exc).__name__, exc)
            return FlowInput(None, feed=True)
        return FlowInput(None if entries is None else tuple(entries), feed=entries is not None)

    async def _journal_cycle(
        self, ts: int, decisions: list[Decision], seen: CycleSnapshot | None
    ) -> list[int]:
        """The cycle's snapshot, guard state, decisions and transitions, committed together; the
        decisions' ids (their orders' rows point at them)."""
        _, ids = await self.journal.record_cycle(
            self.name,
            ts,
            snapshot=seen,
            guard_state=self._state_row(ts),
            decisions=[
                dict(rule=d.rule, kind=d.kind, reason=d.reason, symbol=d.symbol, details=d.to_dict())
                for d in decisions
            ],
            transitions=[
                Transition(
                    str(d.details.get("from", "")),
                    str(d.details.get("to", self.state.trading_state.value)),
                    d.reason,
                )
                for d in decisions
                if d.kind == "set_state"
            ],
        )
        return ids

    async def _apply(
        self,
        decisions: list[Decision],
        ids: list[int],
        snapshot: AccountSnapshot | None,
        ts: int,
        outcome: CycleOutcome,
    ) -> None:
        """Send the (already journaled) decisions' orders; then tell a person, one message per event."""
        results: list[list[ActionResult]] = [[] for _ in decisions]
        orders = [i for i, d in enumerate(decisions) if d.is_order] if snapshot is not None else []
        if orders and snapshot is not None:
            sent = await self.executor.execute_all([(decisions[i], ids[i]) for i in orders], snapshot)
            for i, done in zip(orders, sent, strict=True):
                results[i] = done
                outcome.actions.extend(done)
        for message in compose(decisions, results):
            await self._tell(message, ts)

    async def _tell(self, m: Message, ts: int) -> None:
        last = self._recent.get(m.key)
        if last is not None and last[0] == m.text and ts - last[1] < REPEAT_WINDOW_MS:
            return
        self._recent[m.key] = (m.text, ts)
        level: Level = "critical" if m.level == "critical" else "warning" if m.level == "warning" else "info"
        alert_id = await self.journal.record_alert(self.name, ts, level=level, key=m.key, text=m.text)
        alert = Alert(level, self.name, m.key, m.text, dry_run=self.dry_run, alert_id=alert_id)
        delivered = await self.notifier.send(alert)
        await self.journal.update_alert_delivery(alert_id, delivered)

    def lateness(self, now: int) -> str | None:
        """The late-snapshot warning for the watchdog (once per lateness), or None."""
        last = self.state.last_ok_ms if self.state.last_ok_ms is not None else self.started_ms
        if last is None or now - last <= self.limits.max_snapshot_age_s * 1000:
            self._late_since = None
            return None
        if self._late_since == last:
            return None  # already said for this stretch
        self._late_since = last
        busy = " (a cycle is still waiting on the exchange)" if self.lock.locked() else ""
        return (
            f"guardbot has not seen the account for {(now - last) / 1000:.0f}s "
            f"(max {self.limits.max_snapshot_age_s:g}s){busy}: no action is taken until it does"
        )

    async def alert_late(self, text: str, ts: int) -> None:
        """The watchdog's alert; deliberately not under the cycle's lock (a stalled cycle holds it)."""
        key = f"{RULE_BLIND}|late"
        alert_id = await self.journal.record_alert(self.name, ts, level="critical", key=key, text=text)
        delivered = await self.notifier.send(Alert("critical", self.name, key, text, self.dry_run, alert_id))
        await self.journal.update_alert_delivery(alert_id, delivered)

    async def save_state(self, ts: int) -> None:
        await self.journal.save_guard_state(self._state_row(ts))

    def _state_row(self, ts: int) -> GuardStateRow:
        s = self.state
        return GuardStateRow(
            account=self.name,
            high_water_mark=s.high_water_mark,
            day_start_equity=s.day_start_equity,
            day_start_ts=s.day_start_ms,
            trading_state=s.trading_state.value,
            lock_reason=s.lock_reason,
            locked_until_ts=s.locked_until_ms,
            paused=s.paused,
            updated_ts=ts,
            extra=s.to_dict(),
        )
