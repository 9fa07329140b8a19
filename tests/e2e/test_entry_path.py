"""The one entry path end to end: an intent becomes a bracket on the emulator (real ccxt over HTTP,
real journal), with the quantity the risk core computes; a refused intent sends nothing."""

from __future__ import annotations

from typing import Any

import pytest
from venue_spec import GUARD_VENUES

from guardbot.config import GuardConfig, RiskConfig, Settings
from guardbot.config.strategies import EntriesConfig
from guardbot.exchange.gateway import ActionResult
from guardbot.guard.state import lock, set_paused
from guardbot.intents.desk import EntryDesk
from guardbot.intents.model import Intent, TakeProfit
from guardbot.risk.precision import round_down
from guardbot.risk.sizing import loss_per_unit
from guardbot.store.intents import BracketStatus, IntentStatus

from .conftest import QUIET_GUARD, GuardRig, RigFactory, limits

pytestmark = pytest.mark.parametrize("exchange", GUARD_VENUES, indirect=True)
MARK = 95_000.0  # the emulator's BTC start price


def settings(entries: dict[str, Any] | None = None, **risk: Any) -> Settings:
    return Settings(
        risk=RiskConfig(**risk), guard=GuardConfig(**QUIET_GUARD), entries=EntriesConfig(**(entries or {}))
    )


async def started(make_rig: RigFactory, **kw: Any) -> GuardRig:
    rig = make_rig(limits(), **kw)
    await rig.start()
    await rig.cycle()
    return rig


def expected_qty(rig: GuardRig, risk: float, stop: float, entry: float = MARK, step: float = 0.001) -> float:
    """What the risk core must size: fees (the venue's taker rate: Binance 0.05 %, Bybit 0.055 %,
    Hyperliquid 0.045 %, Aster 0.035 %) and slippage (0.05 %) in."""
    return round_down(risk / loss_per_unit(entry, stop, rig.engine.fees.taker, 0.0005), step)


def intents(rig: GuardRig) -> list[Any]:
    with rig.reader() as r:
        return r.intents_for(rig.name)


def brackets(rig: GuardRig) -> list[Any]:
    with rig.reader() as r:
        return r.brackets_for(rig.name)


async def test_a_market_intent_becomes_entry_stop_and_take_profits_of_the_right_size(
    make_rig: RigFactory,
) -> None:
    rig = await started(make_rig)
    desk = EntryDesk(rig.guard, settings())
    intent = Intent(
        symbol="BTC",
        side="long",
        stop=93_100,
        risk=50,
        take_profits=(TakeProfit(price=97_000, fraction=0.5), TakeProfit(price=99_000, fraction=0.5)),
        reason="test",
    )
    out = await desk.submit(intent, source="donchian_breakout", key="bar-1")
    assert out.status == "placed", out.reason
    qty = expected_qty(rig, 50, 93_100)
    assert qty == pytest.approx(0.023 if rig.engine.fees.taker >= 0.0005 else 0.024)  # fees differ
    assert rig.qty("BTCUSDT") == pytest.approx(qty)  # the entry filled with the risk core's quantity
    # the stop went out right after the entry, then the take-profits: nothing else, nothing later
    assert rig.mutations() == [("place", "order")] + [("place", "stop")] * 3
    stop, tp1, tp2 = sorted(rig.algo_orders(), key=lambda o: o.algo_id)
    assert (stop.order_type, stop.side, stop.reduce_only) == ("STOP_MARKET", "SELL", True)
    assert stop.quantity == pytest.approx(qty) and stop.trigger_price == 93_100
    assert stop.working_type == "MARK_PRICE"
    for tp, price in ((tp1, 97_000), (tp2, 99_000)):
        assert (tp.order_type, tp.side, tp.reduce_only) == ("TAKE_PROFIT_MARKET", "SELL", True)
        assert tp.quantity == pytest.approx(round_down(qty / 2, 0.001)) and tp.trigger_price == price
    # journaled as one intent and one bracket; the guard leaves the bracket alone
    [row] = intents(rig)
    assert (row.source, row.intent_key, row.status) == ("donchian_breakout", "bar-1", IntentStatus.PLACED)
    assert row.quantity == pytest.approx(qty)
    [b] = brackets(rig)
    assert b.status is BracketStatus.OPEN and len(b.take_profit_client_ids) == 2
    before = len(rig.server.mutating_requests())
    await rig.cycles(3)
    assert len(rig.server.mutating_requests()) == before
    alerts = [a.text for a in rig.notifier.of("intent|")]
    said = f"donchian_breakout: long {qty:g} {rig.venue.sym('BTC')} at market, stop 93,100"
    assert alerts and said in alerts[0]
    # the take-profit does its job
    rig.engine.set_mark("BTCUSDT", 97_100)
    assert rig.qty("BTCUSDT") == pytest.approx(qty - round_down(qty / 2, 0.001))


async def test_the_same_key_twice_is_one_order(make_rig: RigFactory, btc: str) -> None:
    rig = await started(make_rig)
    desk = EntryDesk(rig.guard, settings())
    intent = Intent(symbol=btc, side="short", stop=97_000, risk=40)
    first = await desk.submit(intent, source="webhook", key="sig-1")
    again = await desk.submit(intent, source="webhook", key="sig-1")
    assert (first.status, again.status) == ("placed", "duplicate")
    assert len(rig.orders_sent()) == 1
    assert len(intents(rig)) == 1


async def test_a_limit_entry_rests_with_its_stop_and_cancelling_it_cancels_the_stop(
    make_rig: RigFactory,
) -> None:
    rig = await started(make_rig)  # the guard itself would wait an hour before calling a stop orphan
    desk = EntryDesk(rig.guard, settings())
    intent = Intent(
        symbol="BTC",
        side="long",
        entry=94_000,
        stop=92_000,
        risk=30,
        take_profits=(TakeProfit(price=98_000, fraction=1),),
    )
    out = await desk.submit(intent, source="manual", key="t1")
    assert out.status == "placed", out.reason
    [entry] = [o for o in rig.plain_orders() if o.is_open]
    assert entry.type == "LIMIT" and entry.price == 94_000
    assert entry.orig_qty == pytest.approx(expected_qty(rig, 30, 92_000, entry=94_000))
    assert len(rig.algo_orders()) == 2  # its stop and take-profit wait with it
    [b] = brackets(rig)
    assert b.status is BracketStatus.RESTING
    await rig.cycles(2)
    assert len(rig.algo_orders()) == 2  # the stop waits for its entry: not an orphan

    rig.engine.cancel_order(rig.acct.api_key, "BTCUSDT", entry.order_id)  # the trader drops the entry
    await rig.cycle()  # the next cycle, not a grace period later
    assert rig.algo_orders() == []
    assert brackets(rig)[0].status is BracketStatus.CANCELLED
    assert any("left the book unfilled" in a.text for a in rig.notifier.of("bracket|"))


async def test_a_filled_limit_entry_keeps_its_stop(make_rig: RigFactory) -> None:
    rig = await started(make_rig)
    desk = EntryDesk(rig.guard, settings())
    out = await desk.submit(
        Intent(symbol="BTC", side="long", entry=94_000, stop=92_000, risk=30), source="manual", key="t2"
    )
    assert out.status == "placed"
    rig.engine.set_mark("BTCUSDT", 93_900)  # the limit fills
    await rig.cycle()
    assert brackets(rig)[0].status is BracketStatus.OPEN
    [stop] = rig.algo_orders()
    assert stop.trigger_price == 92_000 and stop.quantity == pytest.approx(rig.qty("BTCUSDT"))


async def test_an_entry_whose_stop_is_refused_is_taken_back_at_once(make_rig: RigFactory) -> None:
    rig = await started(make_rig)
    desk = EntryDesk(rig.guard, settings())
    journal_action = rig.guard.gateway.journal_hook
    assert journal_action is not None

    async def refuse_the_stop(result: ActionResult) -> None:
        out = journal_action(result)
        if out is not None:
            await out
        if result.kind == "stop" and result.status == "pending":  # it would trigger at once
            rig.venue.refuse(rig.server, "would_trigger", rig.venue.stop_path)

    rig.guard.gateway.journal_hook = refuse_the_stop
    out = await desk.submit(
        Intent(symbol="BTC", side="long", stop=93_100, risk=50), source="webhook", key="s"
    )
    assert out.bracket is not None and out.bracket.unwind is not None
    assert rig.qty("BTCUSDT") == 0.0  # closed reduce-only rather than left without a stop
    entry, close = rig.orders_sent()
    assert not entry.reduce_only and close.reduce_only and close.side == "SELL"
    assert "its stop could not be placed" in out.reason
    assert brackets(rig)[0].status is BracketStatus.UNWOUND
    assert any(a.level == "critical" for a in rig.notifier.of("intent|"))


# ----------------------------------------------------------------------------- refusals send nothing


async def _halt(rig: GuardRig) -> None:
    rig.guard.state = lock(rig.guard.state, rig.guard.clock(), rig.guard.limits, "drawdown 12% ≥ 10%")


async def _pause(rig: GuardRig) -> None:
    rig.guard.state = set_paused(rig.guard.state, True)


async def _pause_strategy(rig: GuardRig) -> None:
    await rig.guard.journal.set_strategy_paused("donchian_breakout", True, "ValueError: boom", 1)


async def _nothing(rig: GuardRig) -> None:
    return None


def _loaded(rig: GuardRig) -> None:
    """ETH long 10 bought at 3,600 (mark 3,300): 3,000 down on a 10,000 wallet, 33,000 of notional."""
    rig.engine.open_position(rig.acct.api_key, "ETHUSDT", "long", 10, leverage=20, entry_price=3_600)


REFUSALS = [
    ("halted", _halt, {}, dict(stop=93_100, risk=50), "HALTED: new entries refused"),
    ("paused", _pause, {}, dict(stop=93_100, risk=50), "paused by the user"),
    (
        "strategy paused",
        _pause_strategy,
        {},
        dict(stop=93_100, risk=50),
        "strategy donchian_breakout is paused",
    ),
    ("risk above the limit", _nothing, {}, dict(stop=93_100, risk_pct=5), "above the limit of 2% per trade"),
    (
        "sector cap full",
        _nothing,
        {"sectors": {"majors": ["BTC", "ETH"]}, "sector_caps": {"majors": 0.5}},
        dict(stop=93_100, risk=50),
        "sector:majors cap",
    ),
    # Binance, Bybit, Aster: 0.001 BTC; Hyperliquid: one lot (it has no other minimum size)
    ("below the venue minimum", _nothing, {}, dict(stop=93_100, risk=1), "below the minimum amount"),
    ("stop crossed", _nothing, {}, dict(stop=95_500, risk=50), "has been crossed"),
]


@pytest.mark.parametrize(
    ("what", "setup", "risk", "fields", "reason"), REFUSALS, ids=[r[0] for r in REFUSALS]
)
async def test_a_refused_intent_sends_nothing_and_says_why(
    make_rig: RigFactory, what: str, setup: Any, risk: dict[str, Any], fields: dict[str, Any], reason: str
) -> None:
    rig = await started(make_rig)
    await setup(rig)
    desk = EntryDesk(rig.guard, settings(**risk))
    out = await desk.submit(Intent(symbol="BTC", side="long", **fields), source="donchian_breakout", key="k")
    assert out.status == "refused"
    assert reason in out.reason, out.reason
    assert rig.server.mutating_requests() == []
    [row] = intents(rig)
    assert row.status is IntentStatus.REFUSED and row.outcome == out.reason
    [alert] = rig.notifier.of("intent|")
    assert alert.level == "warning" and "refused, nothing sent" in alert.text and reason in alert.text


async def test_a_stop_beyond_the_post_trade_liquidation_is_refused(make_rig: RigFactory) -> None:
    rig = make_rig(limits(), wallet=10_000.0)
    _loaded(rig)
    await rig.start()
    await rig.cycle()
    roomy = settings(
        entries={"max_risk_pct": 100},
        max_leverage=100,
        default_leverage=20,
        max_position_pct=100_000,
        max_cluster_pct=100_000,
    )
    desk = EntryDesk(rig.guard, roomy)
    # the book has ~7,000 of equity left: a 6,500 loss at a stop 8% away leaves no room for the stop
    out = await desk.submit(
        Intent(symbol="BTC", side="long", stop=87_400, risk=6_500), source="manual", key="k"
    )
    assert out.status == "refused" and "beyond the post-trade liquidation price" in out.reason, out.reason
    assert rig.server.mutating_requests() == []


async def test_a_dry_run_account_checks_and_journals_but_sends_nothing(make_rig: RigFactory) -> None:
    rig = await started(make_rig, dry_run=True)
    desk = EntryDesk(rig.guard, settings())
    intent = Intent(
        symbol="BTC", side="long", stop=93_100, risk=50, take_profits=(TakeProfit(price=97_000, fraction=1),)
    )
    out = await desk.submit(intent, source="webhook", key="d")
    qty = expected_qty(rig, 50, 93_100)
    assert out.status == "dry_run" and out.reason.startswith(f"dry-run: long {qty:g} {rig.venue.sym('BTC')}")
    assert out.bracket is not None and [a.status for a in out.bracket.actions()] == ["dry_run"] * 3
    assert rig.server.mutating_requests() == []
    [row] = intents(rig)
    assert row.status is IntentStatus.DRY_RUN and brackets(rig)[0].status is BracketStatus.DRY_RUN


async def test_a_cancelled_entry_keeps_its_stop_when_a_position_is_held_on_its_side(
    make_rig: RigFactory,
) -> None:
    rig = await started(make_rig)
    desk = EntryDesk(rig.guard, settings())
    out = await desk.submit(
        Intent(symbol="BTC", side="long", entry=94_000, stop=92_000, risk=30), source="manual", key="t3"
    )
    assert out.status == "placed"
    [entry] = [o for o in rig.plain_orders() if o.is_open]
    rig.engine.cancel_order(rig.acct.api_key, "BTCUSDT", entry.order_id)
    rig.engine.open_position(rig.acct.api_key, "BTCUSDT", "long", 0.01)  # bought by hand meanwhile
    await rig.cycle()
    assert len(rig.algo_orders()) == 1  # the stop now protects the position bought by hand
    assert brackets(rig)[0].status is BracketStatus.OPEN


async def test_a_bracket_stop_missing_from_the_snapshot_is_found_by_its_client_id(
    make_rig: RigFactory,
) -> None:
    """A reader may read a symbol's orders only now and then: the follower asks the exchange."""
    import dataclasses

    rig = await started(make_rig)
    desk = EntryDesk(rig.guard, settings())
    out = await desk.submit(
        Intent(symbol="BTC", side="long", entry=94_000, stop=92_000, risk=30), source="manual", key="t4"
    )
    assert out.status == "placed"
    [entry] = [o for o in rig.plain_orders() if o.is_open]
    rig.engine.cancel_order(rig.acct.api_key, "BTCUSDT", entry.order_id)
    blind = dataclasses.replace(await rig.guard.fresh_snapshot(), open_orders=())
    notes = await rig.guard.brackets.follow(blind, [], rig.engine.now_ms)
    assert notes == ["bracket 1: entry canceled unfilled; 1 order(s) cancelled with it"]
    assert rig.algo_orders() == []
