"""Strategy plug-ins end to end: the shipped donchian_breakout on the emulator's candles (real ccxt,
one klines request per symbol and timeframe per bar) ends as the right bracket; a strategy that
raises is caught, journaled, alerted once and paused until resumed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from guardbot.config import GuardConfig, Settings
from guardbot.config.strategies import StrategyConfig
from guardbot.intents.desk import EntryDesk
from guardbot.risk.precision import round_down
from guardbot.risk.sizing import loss_per_unit
from guardbot.store.intents import BracketStatus, IntentStatus
from guardbot.strategies_runtime.candles import CandleCache
from guardbot.strategies_runtime.loader import load_strategy
from guardbot.strategies_runtime.runner import StrategyRunner

from .conftest import QUIET_GUARD, GuardRig, RigFactory, limits

KLINES = "/fapi/v1/klines"


def runner_for(rig: GuardRig, config: StrategyConfig) -> StrategyRunner:
    desk = EntryDesk(rig.guard, Settings(guard=GuardConfig(**QUIET_GUARD)))
    cache = CandleCache(rig.guard.gateway.client, lambda: rig.engine.now_ms)
    return StrategyRunner(load_strategy(config), {rig.name: desk}, {rig.name: cache}, rig.guard.journal)


def klines_requests(rig: GuardRig) -> int:
    return sum(1 for r in rig.server.request_log if r.path == KLINES)


DONCHIAN: dict[str, Any] = {
    "symbols": ["BTC/USDT:USDT"],
    "timeframe": "1m",
    "channel": 20,
    "atr_period": 14,
    "atr_stop": 14.0,
    "take_profit_r": 2.0,
    "take_profit_fraction": 0.5,
}


async def test_donchian_breakout_on_emulator_candles_becomes_the_right_bracket(make_rig: RigFactory) -> None:
    rig = make_rig(limits())
    await rig.start()
    rig.engine.advance(21 * 60)  # 21 flat one-minute bars at 95,000: the channel
    rig.engine.set_mark("BTCUSDT", 96_000.0)  # the breakout, inside the next minute
    rig.engine.advance(60)  # that bar closes at 96,000
    await rig.cycle()
    runner = runner_for(rig, StrategyConfig(name="donchian_breakout", accounts=["main"], parameters=DONCHIAN))

    [report] = await runner.run_once()
    [out] = report.outcomes
    assert out.status == "placed", out.reason
    # ATR = 1,000 / 14 (one 1,000 bar among 14): 14 ATRs put the stop at 95,000; the risk is the
    # configured 1 % of equity (10,000); the entry is at market (96,000)
    qty = round_down(100.0 / loss_per_unit(96_000, 95_000, 0.0005, 0.0005), 0.001)
    assert qty == pytest.approx(0.083)
    assert rig.qty("BTCUSDT") == pytest.approx(qty)
    stop, tp = sorted(rig.algo_orders(), key=lambda o: o.algo_id)
    assert (stop.order_type, stop.trigger_price, stop.quantity) == (
        "STOP_MARKET",
        95_000.0,
        pytest.approx(qty),
    )
    assert (tp.order_type, tp.trigger_price, tp.quantity) == (
        "TAKE_PROFIT_MARKET",
        98_000.0,
        pytest.approx(0.041),
    )
    with rig.reader() as r:
        [intent] = r.intents_for("main")
        [bracket] = r.brackets_for("main")
    assert intent.source == "donchian_breakout" and intent.status is IntentStatus.PLACED
    assert "broke the 20-bar high 95000" in intent.reason and bracket.status is BracketStatus.OPEN
    assert klines_requests(rig) == 1

    # the same bar again (a second schedule tick, a restart): the cache answers, nothing new is sent
    orders = len(rig.server.mutating_requests())
    await rig.cycle()
    [again] = await runner.run_once()
    assert again.outcomes == [] and klines_requests(rig) == 1
    assert len(rig.server.mutating_requests()) == orders
    rig.engine.advance(60)  # the next bar: one more request
    await runner.run_once()
    assert klines_requests(rig) == 2


BROKEN = """
from guardbot.strategies_runtime import Needs, Strategy, StrategyParams


class P(StrategyParams):
    pass


def needs(p: P) -> Needs:
    return Needs(("BTC/USDT:USDT",), "1m", 5)


def propose(view, p):
    raise ValueError("boom")


STRATEGY = Strategy(name="broken", params=P, needs=needs, propose=propose)
"""


async def test_a_strategy_that_raises_is_paused_alerted_once_and_resumed(
    make_rig: RigFactory, tmp_path: Path
) -> None:
    rig = make_rig(limits())
    await rig.start()
    rig.engine.advance(10 * 60)
    await rig.cycle()
    path = tmp_path / "broken.py"
    path.write_text(BROKEN)
    runner = runner_for(rig, StrategyConfig(name="broken", path=str(path), accounts=["main"]))

    [report] = await runner.run_once()
    assert report.error is not None and report.error.startswith("ValueError: boom at broken.py:")
    states = await rig.guard.journal.strategy_states()
    assert states["broken"].paused and "boom" in (states["broken"].reason or "")
    [alert] = rig.notifier.of("strategy|broken")
    assert alert.level == "critical" and "paused until resumed (/strategies resume broken)" in alert.text
    with rig.reader() as r:
        [event] = [h.row for h in r.history(0, kinds=["event"]) if h.row.kind == "strategy_error"]
    assert "ValueError: boom" in event.details["traceback"]

    [skipped] = await runner.run_once()  # paused: not run, not alerted again
    assert skipped.skipped is not None and skipped.skipped.startswith("paused: ValueError: boom")
    assert len(rig.notifier.of("strategy|broken")) == 1
    assert rig.server.mutating_requests() == []

    await rig.guard.journal.set_strategy_paused("broken", False, None, 2)  # /strategies resume broken
    [again] = await runner.run_once()
    assert again.error is not None  # it runs again (and, still broken, pauses again)
