"""End-to-end rig: the real guard cycle, the real ccxt client over HTTP to guardbot.sim on 127.0.0.1,
and a real SQLite journal file. Nothing of ccxt is mocked.

`GuardRig` builds one guard the way `guardbot.demo` does (AccountConfig with base_url, make_client,
AccountSession, Journal, AccountGuard with the emulator's clock). The emulator's marks are static
unless a test moves them (set_mark / shock / a scenario), and time passes only through
`engine.advance`, so the tests are fast and deterministic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from venue_spec import SPECS, Sent, VenueSpec, credentials

from guardbot.config import AccountConfig, GuardConfig, RiskConfig
from guardbot.cycle import AccountGuard, CycleOutcome
from guardbot.exchange.cache import TiersCache
from guardbot.exchange.client import make_client
from guardbot.exchange.gateway import RetryPolicy
from guardbot.exchange.order_reads import OrderReads
from guardbot.exchange.session import AccountSession
from guardbot.guard import GuardLimits
from guardbot.guard.limits import DEFAULT_ACTIONS
from guardbot.notify.base import Alert, Delivery
from guardbot.sim import SimAccount, SimAlgoOrder, SimExchange, SimOrder, SimServer
from guardbot.store import Journal, JournalReader
from guardbot.store.rows import ActionRow, DecisionRow, TransitionRow

BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"
START_MS = 1_760_097_600_000  # 2025-10-10 12:00 UTC: far from a UTC day boundary (daily-loss reset)
FAST_RETRY = RetryPolicy(attempts=3, base_delay_s=0.001, max_delay_s=0.005)

# Every rule pushed out of the way, so a test switches on only the one it is about.
QUIET_GUARD: dict[str, Any] = {
    "drawdown_halt_pct": 90.0,
    "drawdown_reduce_pct": 95.0,
    "drawdown_flatten_pct": 99.0,
    "daily_loss_halt_pct": 90.0,
    "margin_ratio_warn": 0.95,
    "margin_ratio_reduce": 0.97,
    "margin_ratio_flatten": 0.99,
    "margin_ratio_target": 0.5,
    "liquidation_warn_pct": 0.02,
    "liquidation_reduce_pct": 0.01,
    "new_position_grace_s": 3600,
    "leverage_warn": 999.0,
    "leverage_hard": 1000.0,
    "max_symbol_notional_pct": 1_000_000.0,
    "max_snapshot_age_s": 3600,
    # every rule may act, so a test sees its rule's effect on the exchange (test_actions.py covers
    # the [guard.actions] policies and their conservative defaults)
    "actions": dict.fromkeys(DEFAULT_ACTIONS, "reduce"),
}


def limits(**guard: Any) -> GuardLimits:
    """Limits from the real config models: every rule quiet except the overrides given."""
    risk: Mapping[str, Any] = guard.pop("risk", {})
    return GuardLimits.from_config(GuardConfig(**{**QUIET_GUARD, **guard}), RiskConfig(**risk))


class RecordingNotifier:
    """Keeps every alert (the console notifier's job, minus the printing)."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    async def send(self, alert: Alert) -> Delivery:
        self.alerts.append(alert)
        return "console"

    def of(self, key_prefix: str) -> list[Alert]:
        return [a for a in self.alerts if a.key.startswith(key_prefix)]


@dataclass
class GuardRig:
    """One guarded emulator account. `start()` builds client + journal + guard (and reconciles),
    `restart()` throws them away and builds fresh ones on the same journal file."""

    server: SimServer
    acct: SimAccount
    db_path: Path
    limits: GuardLimits
    dry_run: bool = False
    name: str = "main"
    timeout_ms: int = 2_000
    retry: RetryPolicy = FAST_RETRY
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    _guard: AccountGuard | None = None
    _session: AccountSession | None = None
    _journal: Journal | None = None

    @property
    def engine(self) -> SimExchange:
        return self.server.engine

    @property
    def guard(self) -> AccountGuard:
        assert self._guard is not None, "call start() first"
        return self._guard

    def trading_state(self) -> str:
        return self.guard.state.trading_state.value

    async def start(self) -> list[str]:
        account = AccountConfig(
            name=self.name,
            exchange=self.engine.exchange,
            base_url=self.server.base_url,
            dry_run=self.dry_run,
        )  # settle_currency: the venue's own by default (Hyperliquid: USDC)
        creds = credentials(self.engine.exchange, self.acct.api_key, self.acct.secret)
        client = make_client(account, creds, rate_limit=False, timeout_ms=self.timeout_ms)
        client.timeout_on_exit = 0  # ccxt lingers 250 ms on close for TLS; loopback is plain HTTP
        # the reference-data cache runs on the emulator's clock too (its refresh intervals)
        self._session = AccountSession(
            account,
            client,
            TiersCache(clock=lambda: self.engine.now_ms / 1000),
            order_reads=OrderReads(clock=lambda: self.engine.now_ms),
        )
        self._journal = await Journal.open(self.db_path)
        engine = self.engine
        self._guard = AccountGuard(
            self.name,
            self._session.snapshot,
            self._session.gateway(retry=self.retry),
            self._journal,
            self.notifier,
            self.limits,
            clock=lambda: engine.now_ms,
            read_cash_flows=self._session.cash_flows,
            read_forced_closes=self._session.forced_closes,
        )
        return await self._guard.start()

    async def stop(self) -> None:
        if self._journal is not None:
            await self._journal.close()
            self._journal = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._guard = None

    async def restart(self) -> list[str]:
        await self.stop()
        return await self.start()

    async def cycle(self) -> CycleOutcome:
        return await self.guard.cycle()

    async def cycles(self, n: int, every_s: float = 10.0) -> list[CycleOutcome]:
        """n cycles, `every_s` simulated seconds apart (time passes after each)."""
        out = []
        for _ in range(n):
            out.append(await self.guard.cycle())
            self.engine.advance(every_s)
        return out

    # --- what reached the exchange and the journal ----------------------------------------------

    def reader(self) -> JournalReader:
        return JournalReader(self.db_path)

    def actions(self) -> list[ActionRow]:
        with self.reader() as r:
            return r.actions_for(self.name, 0)

    def decisions(self, rule: str | None = None) -> list[DecisionRow]:
        with self.reader() as r:
            rows = [h.row for h in r.history(0, account=self.name, kinds=["decision"])]
        return [d for d in rows if isinstance(d, DecisionRow) and (rule is None or d.rule == rule)]

    def transitions(self) -> list[TransitionRow]:
        with self.reader() as r:
            rows = [h.row for h in r.history(0, account=self.name, kinds=["transition"])]
        return [t for t in rows if isinstance(t, TransitionRow)]

    def posted(self, path: str) -> list[dict[str, str]]:
        """Params of the POSTs to one exchange path, in order."""
        return [r.params for r in self.server.mutating_requests() if r.method == "POST" and r.path == path]

    @property
    def venue(self) -> VenueSpec:
        return SPECS[self.engine.exchange]

    def stops_sent(self) -> list[Sent]:
        """The conditional orders sent to the exchange, in order, in venue-neutral words."""
        return self.venue.stops(self.server)

    def orders_sent(self) -> list[Sent]:
        """The plain orders sent (reductions, closes, entries), in order."""
        return self.venue.orders(self.server)

    def mutations(self) -> list[tuple[str, str]]:
        """What changed on the exchange, in order: ("place", "stop"), ("cancel", "stop"), ..."""
        return self.venue.mutations(self.server)

    def algo_orders(self, *, open_only: bool = True) -> list[SimAlgoOrder]:
        orders = self.acct.algo_orders.values()
        return [o for o in orders if o.is_open or not open_only]

    def plain_orders(self) -> list[SimOrder]:
        return list(self.acct.orders.values())

    def qty(self, symbol_id: str) -> float:
        pos = self.acct.positions.get((symbol_id, "BOTH"))
        return pos.qty if pos else 0.0


@pytest.fixture
async def sim(exchange: str) -> AsyncIterator[SimServer]:
    server = SimServer(SimExchange(seed=1, start_ms=START_MS, exchange=exchange), fault_delay_s=5.0)
    await server.start(host="127.0.0.1", port=0)
    try:
        yield server
    finally:
        await server.stop()


RigFactory = Callable[..., GuardRig]


@pytest.fixture
async def make_rig(sim: SimServer, tmp_path: Path) -> AsyncIterator[RigFactory]:
    """`make_rig(limits, wallet=..., dry_run=...)` -> an unstarted rig on a fresh emulator account."""
    rigs: list[GuardRig] = []

    def make(lim: GuardLimits, *, wallet: float = 10_000.0, **kw: Any) -> GuardRig:
        acct = sim.engine.create_account(wallet)
        rig = GuardRig(sim, acct, tmp_path / f"journal-{len(rigs)}.sqlite", lim, **kw)
        rigs.append(rig)
        return rig

    try:
        yield make
    finally:
        for rig in rigs:
            await rig.stop()


def is_multiple(x: float, step: float) -> bool:
    n = round(x / step)
    return abs(n * step - x) < step * 1e-6
