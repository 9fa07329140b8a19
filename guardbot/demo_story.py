"""What `guardbot demo` tells while it runs, besides the guard's own alerts.

- `intro`: the book, the limits the guard applies, and why its first move is a trim;
- `Market`: what the exchange did on its own between two guard cycles, for both accounts: stops
  that fired (the trader's and guardbot's) and the unguarded account's liquidation, stamped with
  the simulated time they happened;
- `Notes`: the guard's actions for the chart, and the one thing people ask after a crash ("why
  did drawdown pass the 20 % flatten level?"), answered with the readings themselves;
- `live_line` and `pace`: a line that keeps moving (simulated time, BTC, both equities), so the
  demo never looks hung, at a pace that leaves time to read the crash and hurries through the
  quiet hour after it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from guardbot.config import GuardConfig
from guardbot.cycle import CycleOutcome
from guardbot.domain import is_guardbot_client_id
from guardbot.sim import SimExchange

CRASH_WINDOW_S = 900.0  # the cascade and its aftermath: read at a walking pace
SLOW_PACE_S, FAST_PACE_S = 0.25, 0.04  # wall seconds per 10 s cycle, in and after that window


def stamp(t_s: float) -> str:
    t = int(t_s)
    return f"[+{t // 60:02d}:{t % 60:02d}]"


def pace(t_s: float) -> float:
    """Wall seconds to spend on the cycle at simulated second `t_s` (about 35 s for the hour)."""
    return SLOW_PACE_S if t_s < CRASH_WINDOW_S else FAST_PACE_S


def intro(
    guard: GuardConfig, book: Sequence[str], book_leverage: float, wallet: float, settle: str = "USDT"
) -> list[str]:
    g = guard
    longs = ", ".join(book)
    opted = [rule for rule, policy in g.actions.model_dump().items() if policy == "reduce"]
    return [
        f"two identical accounts, {wallet:,.0f} {settle} each: {longs} long at {book_leverage:g}x, "
        "stops only on BTC and ETH (the trader's).",
        "guardbot guards 'guarded' with its default limits; 'unguarded' is left alone:",
        f"  a stop on every position ({g.default_stop_pct:g}% from mark) · "
        f"leverage: warn {g.leverage_warn:g}x, cut above {g.leverage_hard:g}x · "
        f"drawdown: halt {g.drawdown_halt_pct:g}%, cut {g.drawdown_reduce_pct:g}%, "
        f"close all {g.drawdown_flatten_pct:g}%",
        f"  rules that may cut ([guard.actions]): {', '.join(opted)}; by default only the margin-ratio "
        "and liquidation emergencies do, the others alert — this trader also opted in to drawdown "
        "and leverage cuts",
        f"  it checks every 10 s, and a level acts once {g.confirm_readings} readings in a row reach it "
        "(one bad price cannot trip it)",
        f"the book starts right at the {g.leverage_hard:g}x limit, so guardbot's first move is a small trim.",
        "",
    ]


@dataclass
class Market:
    """Stops that fired and liquidations, found after each `engine.advance`."""

    engine: SimExchange
    names: dict[str, str]  # api key -> account name
    out: Callable[[str], None]
    liquidated_at: dict[str, float] = field(default_factory=dict)  # account name -> sim second
    settle: str = "USDT"  # the wallet's currency (Hyperliquid: USDC)
    _seen_algos: set[tuple[str, int]] = field(default_factory=set)
    _seen_liquidations: int = 0

    def _t(self, ms: int) -> float:
        return (ms - self.engine.start_ms) / 1000

    def catch_up(self) -> None:
        events: list[tuple[float, str]] = []
        for key, name in self.names.items():
            acct = self.engine.account(key)
            for a in acct.algo_orders.values():
                if a.status != "FINISHED" or (key, a.algo_id) in self._seen_algos:
                    continue
                self._seen_algos.add((key, a.algo_id))
                whose = "guardbot's" if is_guardbot_client_id(a.client_algo_id) else "the trader's"
                order = acct.orders.get(a.actual_order_id or -1)
                filled = (
                    f" {order.executed_qty:g} at {order.avg_price:,.6g}"
                    if order and order.executed_qty
                    else ""
                )
                side = "long" if a.side == "SELL" else "short"
                short = a.symbol.removesuffix("USDT")
                events.append(
                    (
                        self._t(a.trigger_ms),
                        f"⛔ {name}: {whose} stop fired: {short} {side} closed{filled} "
                        f"(stop {a.trigger_price:,.6g}; it sits on the exchange, no guard cycle needed)",
                    )
                )
        for ev in self.engine.liquidations[self._seen_liquidations :]:
            who = self.names.get(ev.api_key)
            if who is None:
                continue
            t = self._t(ev.time_ms)
            self.liquidated_at.setdefault(who, t)
            what = ", ".join(p.symbol.removesuffix("USDT") for p in ev.positions)
            events.append(
                (
                    t,
                    f"💥 {who}: LIQUIDATED by the exchange at margin ratio {ev.margin_ratio:.0%}: {what} "
                    f"closed, wallet {ev.wallet_before:,.2f} → {ev.wallet_after:,.2f} {self.settle}",
                )
            )
        self._seen_liquidations = len(self.engine.liquidations)
        for t, text in sorted(events):
            self.out(f"{stamp(t)} {text}")


@dataclass
class Notes:
    """The guard's actions (for the chart) and the drawdown readings behind a flatten."""

    flatten_pct: float
    confirm_readings: int
    out: Callable[[str], None]
    actions: list[tuple[float, str]] = field(default_factory=list)  # (sim second, label)
    _readings: list[tuple[float, float]] = field(default_factory=list)  # (sim second, drawdown %)
    _explained: bool = False

    def after_cycle(self, t_s: float, outcome: CycleOutcome) -> None:
        f, hwm = outcome.figures, outcome.state.high_water_mark
        if f is not None and hwm:
            self._readings.append((t_s, max(0.0, (hwm - f.equity) / hwm * 100)))
        done = [a for a in outcome.actions if a.ok]
        flatten = any(d.rule == "drawdown" and "≥ flatten" in d.reason for d in outcome.decisions)
        halted = any(d.kind == "set_state" and "→ HALTED" in d.reason for d in outcome.decisions)
        cut = sorted({a.symbol.split("/")[0] for a in done if a.kind == "reduce"})
        stops = [a for a in done if a.kind == "stop"]
        if flatten and done:
            self.actions.append((t_s, "close all"))
        elif cut:
            self.actions.append((t_s, ("halt, " if halted else "") + f"cut {', '.join(cut)}"))
        elif stops:
            self.actions.append((t_s, f"{len(stops)} stop(s) placed"))
        if flatten and not self._explained:
            self._explained = True
            self._explain(t_s)

    def _explain(self, t_s: float) -> None:
        last = self._readings[-(self.confirm_readings + 1) :]
        if len(last) < 2 or last[-1][1] <= self.flatten_pct:
            return
        now, was = last[-1][1], ", ".join(f"{dd:.1f}% at {stamp(t)[1:-1]}" for t, dd in last)
        nth = _ordinal(self.confirm_readings)
        self.out(
            f"   why {now:.1f}% and not {self.flatten_pct:g}%: drawdown readings, 10 s apart, were {was}; "
            f"close-all acts on the {nth} reading in a row above {self.flatten_pct:g}%, and the crash "
            "moved the book that far between readings (a stop on the exchange fires in between)."
        )


def _ordinal(n: int) -> str:
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n if n < 20 else n % 10, 'th') }"


def live_line(
    engine: SimExchange, names: dict[str, str], liquidated_at: dict[str, float], settle: str = "USDT"
) -> str:
    btc = engine.marks.get("BTCUSDT", 0.0)
    parts = [f"{stamp(engine.t_s)} BTC {btc:,.0f}"]
    for key, name in names.items():
        history = engine.account(key).history
        equity = history[-1][1] if history else 0.0
        dead = " (liquidated)" if name in liquidated_at else ""
        parts.append(f"{name} {equity:,.2f} {settle}{dead}")
    return " · ".join(parts)
