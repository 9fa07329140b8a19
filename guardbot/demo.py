"""`guardbot demo`: watch the guard protect a cross-margin account through a simulated crash.

No keys, no network: the built-in emulator runs on 127.0.0.1 with the `crash` scenario, two
identical accounts hold the same over-leveraged, correlated book, and the *same* guard cycle that
`guardbot run` schedules protects one of them through the real ccxt client. The other is left alone.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from guardbot.config import AccountConfig, Credentials, GuardConfig, RiskConfig
from guardbot.config.schema import ActionsConfig
from guardbot.cycle import AccountGuard
from guardbot.demo_story import Market, Notes, intro, live_line
from guardbot.demo_story import pace as story_pace
from guardbot.exchange.cache import TiersCache
from guardbot.exchange.client import make_client
from guardbot.exchange.gateway import RetryPolicy
from guardbot.exchange.session import AccountSession
from guardbot.guard import GuardLimits
from guardbot.notify.base import Alert, Delivery
from guardbot.sim import SimAccount, SimExchange, SimServer, load_scenario
from guardbot.store import Journal

WALLET = 10_000.0
BOOK_LEVERAGE = 8  # gross notional / wallet
LEVERAGE = 10  # the positions' leverage setting (initial margin = notional / 10)
# (exchange id, share of the book's notional); the book is 8x the wallet, spread over five longs
BOOK = (("BTCUSDT", 0.24), ("ETHUSDT", 0.22), ("SOLUSDT", 0.2), ("DOGEUSDT", 0.17), ("AVAXUSDT", 0.17))
TRADER_STOPS = {"BTCUSDT": 0.06, "ETHUSDT": 0.08}  # the trader protected only these two
CYCLE_S = 10.0

DEMO_ACTIONS = ActionsConfig(drawdown="reduce", leverage="reduce")


@dataclass(frozen=True)
class AccountResult:
    name: str
    final_equity: float
    max_drawdown_pct: float
    liquidated: bool
    actions: int
    history: list[tuple[int, float, float]]
    liquidated_at_s: float | None = None  # simulated second of the liquidation


@dataclass(frozen=True)
class DemoResult:
    guarded: AccountResult
    unguarded: AccountResult
    journal: Path
    chart: Path | None
    sim_seconds: float
    guard_actions: list[tuple[float, str]] = field(default_factory=list)  # (sim second, label)


def _max_drawdown(history: list[tuple[int, float, float]]) -> float:
    peak, worst = -math.inf, 0.0
    for _, equity, _ in history:
        peak = max(peak, equity)
        if peak > 0:
            worst = max(worst, (peak - equity) / peak)
    return worst * 100


class _DemoNotifier:
    """Alerts printed as they happen, stamped with simulated time."""

    def __init__(self, engine: SimExchange, out: Callable[[str], None]) -> None:
        self.engine, self.out = engine, out

    async def send(self, alert: Alert) -> Delivery:
        t = int(self.engine.t_s)
        self.out(f"[+{t // 60:02d}:{t % 60:02d}] {alert.render()}")
        return "console"


def _open_book(engine: SimExchange, api_key: str) -> None:
    for symbol, share in BOOK:
        market = engine.market(symbol)
        step = float(market.step_size)
        qty = math.floor(WALLET * BOOK_LEVERAGE * share / engine.marks[symbol] / step) * step
        engine.open_position(api_key, symbol, "long", round(qty, 8), leverage=LEVERAGE)


def _place_trader_stops(engine: SimExchange, api_key: str) -> None:
    from guardbot.sim import OrderRequest

    for symbol, pct in TRADER_STOPS.items():
        tick = float(engine.market(symbol).tick_size)
        trigger = math.floor(engine.marks[symbol] * (1 - pct) / tick) * tick
        engine.place_algo_order(
            api_key,
            OrderRequest(
                symbol,
                "SELL",
                "STOP_MARKET",
                trigger_price=round(trigger, 8),
                close_position=True,
                working_type="MARK_PRICE",
            ),
        )


def _credentials(engine: SimExchange, acct: SimAccount) -> Credentials:
    """The account's credentials as a config gives them for the venue: an API key and secret, or
    (Aster, Hyperliquid) the wallet's private key and address."""
    if engine.profile.wallet_keys:
        return Credentials(private_key=SecretStr(acct.secret), wallet_address=acct.api_key)
    return Credentials(api_key=SecretStr(acct.api_key), secret=SecretStr(acct.secret))


def _result(
    engine: SimExchange, name: str, api_key: str, actions: int, liquidated_at: float | None = None
) -> AccountResult:
    acct = engine.account(api_key)
    history = list(acct.history)
    return AccountResult(
        name=name,
        final_equity=history[-1][1] if history else acct.wallet,
        max_drawdown_pct=_max_drawdown(history),
        liquidated=any(ev.api_key == api_key for ev in engine.liquidations),
        actions=actions,
        history=history,
        liquidated_at_s=liquidated_at,
    )


async def run_demo(
    out_dir: Path,
    *,
    fast: bool = False,
    out: Callable[[str], None] = print,
    pace_s: float | None = None,
    exchange: str = "binanceusdm",
    status: Callable[[str], None] | None = None,
) -> DemoResult:
    """The crash demo on the emulator speaking `exchange`'s wire ("binanceusdm", "bybit", "aster"
    or "hyperliquid"): the same guard, ccxt client and margin rules a real account of that venue
    gets. `status` receives a live line (simulated time, BTC, both equities) after every cycle."""
    scenario = load_scenario("crash")
    duration = 1_200.0 if fast else float(scenario.duration_s or 3_600)
    # about half a minute of wall time for the full replay, slower through the crash; no pacing
    # in fast mode (CI)
    engine = SimExchange(seed=scenario.seed, slippage_bps=5.0, exchange=exchange)
    engine.use_scenario(scenario)
    guarded = engine.create_account(WALLET, name="guarded")
    unguarded = engine.create_account(WALLET, name="unguarded")
    for acct in (guarded, unguarded):
        _open_book(engine, acct.api_key)
        _place_trader_stops(engine, acct.api_key)

    out_dir.mkdir(parents=True, exist_ok=True)
    db_path = out_dir / "guardbot-demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)

    server = SimServer(engine)
    base_url = await server.start()
    settle = engine.market(BOOK[0][0]).quote
    account = AccountConfig(
        name="guarded", exchange=exchange, base_url=base_url, dry_run=False, settle_currency=settle
    )
    creds = _credentials(engine, guarded)
    client = make_client(account, creds, rate_limit=False)
    session = AccountSession(account, client, TiersCache())
    journal = await Journal.open(db_path)
    # The guarded trader opted in to drawdown and leverage cuts ([guard.actions]); by default those
    # only alert and just the margin-ratio and liquidation emergencies cut.
    limits = GuardLimits.from_config(GuardConfig(actions=DEMO_ACTIONS), RiskConfig())
    gateway = session.gateway(retry=RetryPolicy(attempts=3, base_delay_s=0.05, max_delay_s=0.2))
    guard = AccountGuard(
        "guarded",
        session.snapshot,
        gateway,
        journal,
        _DemoNotifier(engine, out),
        limits,
        clock=lambda: engine.now_ms,
        read_cash_flows=session.cash_flows,
        read_forced_closes=session.forced_closes,
    )
    out(f"{exchange} emulator at {base_url}: scenario '{scenario.name}' ({scenario.description})")
    book = [s.removesuffix("USDT") for s, _ in BOOK]
    for line in intro(GuardConfig(actions=DEMO_ACTIONS), book, BOOK_LEVERAGE, WALLET, settle):
        out(line)
    names = {guarded.api_key: "guarded", unguarded.api_key: "unguarded"}
    market = Market(engine, names, out, settle=settle)
    notes = Notes(limits.drawdown_flatten_pct, limits.confirm_readings, out)
    actions = 0
    try:
        await guard.start()
        wall = time.monotonic()
        while engine.t_s < duration:
            t_s = engine.t_s
            outcome = await guard.cycle()
            actions += sum(1 for a in outcome.actions if a.ok)
            notes.after_cycle(t_s, outcome)
            engine.advance(CYCLE_S)
            market.catch_up()
            if status is not None:
                status(live_line(engine, names, market.liquidated_at, settle))
            wait = pace_s if pace_s is not None else 0.0 if fast else story_pace(t_s)
            if wait:
                wall += wait
                await asyncio.sleep(max(0.0, wall - time.monotonic()))
    finally:
        await journal.close()
        await session.close()
        await server.stop()

    at = market.liquidated_at
    result_g = _result(engine, "guarded", guarded.api_key, actions, at.get("guarded"))
    result_u = _result(engine, "unguarded", unguarded.api_key, 0, at.get("unguarded"))
    chart: Path | None = out_dir / "guardbot-demo.png"
    try:
        from guardbot.demo_chart import demo_chart

        demo_chart(result_g, result_u, notes.actions, chart, settle)  # type: ignore[arg-type]
    except ImportError:  # matplotlib is a dependency, but keep the demo useful without it
        chart = None
    return DemoResult(result_g, result_u, db_path, chart, engine.t_s, notes.actions)
