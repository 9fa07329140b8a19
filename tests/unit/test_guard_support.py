"""Builders shared by the guard tests (imported as `test_guard_support`), and the what-if math the
rules stand on: a cut at the mark leaves equity unchanged but for the fee, and the planner's fast
margin ratio is the account's."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from guardbot.domain import AccountSnapshot, Fees, MarginMode, Market, Order, Position, Side, Tier
from guardbot.guard import Decision, GuardLimits, GuardState, evaluate, initial_state
from guardbot.guard.limits import DEFAULT_ACTIONS
from guardbot.guard.whatif import apply_cut, cross_margin_ratio, equity_of
from guardbot.risk.account import measure_account

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
SOL = "SOL/USDT:USDT"
DOGE = "DOGE/USDT:USDT"
# One flat 1 % maintenance tier keeps the hand arithmetic simple: MM = 1 % of notional.
FLAT = (Tier(0, 1e18, 0.01, 0, 50),)
STEPS = {BTC: 0.001, ETH: 0.01, SOL: 0.1, DOGE: 1.0}
FEES = Fees(taker=0.0005, maker=0.0002)
MIN = 60_000  # one minute in ms
T0 = 1_700_000_000_000  # a fixed "now" (2023-11-14 22:13 UTC)


def pos(
    symbol: str,
    side: Side,
    contracts: float,
    entry: float,
    mark: float | None = None,
    *,
    mode: MarginMode = MarginMode.CROSS,
    isolated_margin: float = 0.0,
) -> Position:
    return Position(
        symbol,
        side,
        contracts,
        entry,
        entry if mark is None else mark,
        leverage=20,
        margin_mode=mode,
        isolated_margin=isolated_margin,
    )


def book(
    wallet: float,
    *positions: Position,
    orders: Sequence[Order] = (),
    tiers: tuple[Tier, ...] = FLAT,
    ts: int | None = None,
    **kw: Any,
) -> AccountSnapshot:
    symbols = {BTC, ETH, SOL, DOGE} | {p.symbol for p in positions}
    return AccountSnapshot(
        "binanceusdm",
        wallet,
        tuple(positions),
        {s: tiers for s in symbols},
        {s: Market(s, STEPS.get(s, 0.001)) for s in symbols},
        fees=FEES,
        open_orders=tuple(orders),
        timestamp_ms=ts,
        account="main",
        **kw,
    )


def stop(symbol: str, side: str, amount: float | None, trigger: float, oid: str = "s1", **kw: Any) -> Order:
    kw.setdefault("reduce_only", True)
    return Order(symbol, side, "stop_market", amount, id=oid, trigger_price=trigger, **kw)


def protect(p: Position, pct: float = 5.0, oid: str | None = None) -> Order:
    """A correct stop for `p`: full size, mark price, `pct` from mark on the loss side."""
    sign = -1 if p.side is Side.LONG else 1
    side = "sell" if p.side is Side.LONG else "buy"
    return stop(p.symbol, side, p.contracts, p.mark_price * (1 + sign * pct / 100), oid or f"stop-{p.symbol}")


# Every rule allowed to cut, so a test sees a rule's own mechanics (test_guard_actions.py covers
# the policies and their conservative defaults).
ALL_REDUCE = {rule: "reduce" for rule in DEFAULT_ACTIONS}


def quiet(**overrides: Any) -> GuardLimits:
    """Limits with every rule but the ones a test sets effectively switched off."""
    base: dict[str, Any] = {
        "actions": ALL_REDUCE,
        "liquidation_warn_pct": 1e-6,
        "liquidation_reduce_pct": 5e-7,
        "leverage_warn": 1e6,
        "leverage_hard": 1e6,
        "max_symbol_notional_pct": 1e9,
        "max_cluster_pct": 1e9,
        "max_net_beta_pct": 1e9,
        "margin_ratio_warn": 50.0,
        "margin_ratio_reduce": 60.0,
        "margin_ratio_flatten": 70.0,
        "margin_ratio_target": 40.0,
        "drawdown_halt_pct": 90.0,
        "drawdown_reduce_pct": 95.0,
        "drawdown_flatten_pct": 99.0,
        "daily_loss_halt_pct": 90.0,
    }
    base.update(overrides)
    return GuardLimits(**base)


def run(
    snapshot: AccountSnapshot,
    state: GuardState | None = None,
    limits: GuardLimits | None = None,
    now: int = T0,
    **kw: Any,
) -> tuple[list[Decision], GuardState]:
    return evaluate(
        snapshot, measure_account(snapshot), state or initial_state(), limits or GuardLimits(), now, **kw
    )


def cycles(
    snapshot: AccountSnapshot,
    n: int,
    limits: GuardLimits | None = None,
    state: GuardState | None = None,
    start: int = T0,
    every: int = 10_000,
    **kw: Any,
) -> tuple[list[list[Decision]], GuardState]:
    """`n` evaluations of the same snapshot, `every` ms apart; the decisions of each."""
    out: list[list[Decision]] = []
    st = state or initial_state()
    for i in range(n):
        d, st = run(snapshot, st, limits, start + i * every, **kw)
        out.append(d)
    return out, st


def kinds(decisions: Iterable[Decision], kind: str, rule: str | None = None) -> list[Decision]:
    return [d for d in decisions if d.kind == kind and (rule is None or d.rule == rule)]


def assert_never_increases(snapshot: AccountSnapshot, decisions: Iterable[Decision]) -> None:
    """Every order decision reduces an existing position, and never by more than it holds."""
    held = {(p.symbol, p.side): p.contracts for p in snapshot.positions}
    cut: dict[tuple[str, Side], float] = {}
    for d in decisions:
        if d.kind in ("reduce", "close", "place_stop", "replace_stop"):
            assert d.symbol is not None and d.side is not None and d.quantity is not None
            key = (d.symbol, d.side)
            assert key in held, f"{d.kind} for a position that does not exist: {key}"
            assert 0 < d.quantity <= held[key] + 1e-12
            assert d.order_side == ("sell" if d.side is Side.LONG else "buy")
        if d.kind in ("reduce", "close"):
            assert d.details.get("reduce_only") is True
            key = (d.symbol or "", d.side or Side.LONG)
            cut[key] = cut.get(key, 0.0) + (d.quantity or 0.0)
            assert cut[key] <= held[key] + 1e-9, f"cuts of {key} add up past the position"


def on_step(quantity: float, step: float) -> bool:
    return abs(quantity / step - round(quantity / step)) < 1e-6


def apply(snapshot: AccountSnapshot, decisions: Iterable[Decision]) -> AccountSnapshot:
    """What the exchange would look like once the order decisions were executed at the marks."""
    orders = list(snapshot.open_orders)
    for d in decisions:
        if d.kind in ("reduce", "close"):
            assert d.symbol and d.side and d.quantity
            snapshot = apply_cut(snapshot, d.symbol, d.side, d.quantity, snapshot.fees.taker)
        elif d.kind in ("cancel_order", "replace_stop"):
            orders = [o for o in orders if o.id != d.order_id]
        if d.kind in ("place_stop", "replace_stop"):
            assert d.symbol and d.order_side and d.trigger_price
            orders.append(stop(d.symbol, d.order_side, d.quantity, d.trigger_price, f"gb-{d.episode}"))
    return dataclasses.replace(snapshot, open_orders=tuple(orders))


# --- tests of the what-if math -------------------------------------------------------------------


def test_cut_at_mark_keeps_equity_but_for_the_fee() -> None:
    s = book(10_000, pos(BTC, Side.LONG, 1, 50_000, 48_000), pos(ETH, Side.SHORT, 10, 3_000, 3_100))
    after = apply_cut(s, BTC, Side.LONG, 0.4, 0.0005)
    assert equity_of(after) == pytest.approx(equity_of(s) - 0.4 * 48_000 * 0.0005)
    assert after.wallet_balance == pytest.approx(10_000 - 0.4 * 2_000 - 0.4 * 48_000 * 0.0005)
    assert [p.contracts for p in after.positions] == pytest.approx([0.6, 10])
    assert len(apply_cut(s, BTC, Side.LONG, 5, 0.0).positions) == 1  # never past the position


def test_fast_margin_ratio_is_the_accounts() -> None:
    iso = pos(SOL, Side.LONG, 100, 100, 95, mode=MarginMode.ISOLATED, isolated_margin=600)
    s = book(10_000, pos(BTC, Side.LONG, 1, 50_000, 48_000), pos(ETH, Side.SHORT, 10, 3_000, 3_100), iso)
    assert cross_margin_ratio(s) == pytest.approx(measure_account(s).margin_ratio, rel=1e-12)


def test_limits_read_the_documented_config_field_names() -> None:
    guard = SimpleNamespace(
        **{k: v for k, v in GuardLimits().__dict__.items() if k not in _RISK_FIELDS},
    )
    guard.reduce_priority = ["maintenance", "unprotected"]
    guard.margin_ratio_warn = 0.55
    risk = SimpleNamespace(
        taker_fee=0.0004,
        cluster_threshold=0.7,
        max_cluster_pct=250.0,
        max_net_beta_pct=350.0,
        sectors={"memes": ["DOGE", "PEPE"]},
        sector_caps={"memes": 50.0},
    )
    lim = GuardLimits.from_config(guard, risk)
    assert lim.reduce_priority == ("maintenance", "unprotected")
    assert lim.margin_ratio_warn == 0.55 and lim.taker_fee == 0.0004
    assert lim.sectors == {"memes": ("DOGE", "PEPE")} and lim.sector_caps == {"memes": 50.0}


def test_limits_from_the_real_settings_models_match_the_defaults() -> None:
    config = pytest.importorskip("guardbot.config")
    assert GuardLimits.from_config(config.GuardConfig(), config.RiskConfig()) == GuardLimits()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"margin_ratio_warn": 0.8, "margin_ratio_reduce": 0.7}, "guard.margin_ratio"),
        ({"margin_ratio_target": 0.75}, "guard.margin_ratio_target"),
        ({"liquidation_reduce_pct": 20.0}, "guard.liquidation_reduce_pct"),
        ({"reduce_priority": ("biggest",)}, "guard.reduce_priority"),
        ({"sector_caps": {"l2": 50.0}}, "risk.sector_caps"),
    ],
)
def test_inconsistent_limits_are_refused_with_the_field_named(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        GuardLimits(**overrides)


_RISK_FIELDS = {
    "taker_fee",
    "cluster_threshold",
    "max_cluster_pct",
    "max_net_beta_pct",
    "sectors",
    "sector_caps",
}
