"""Rule 4: drawdown from the high-water mark and loss since the start of the trading day.

Levels (each confirmed by `confirm_readings` consecutive readings): halt (new entries refused),
reduce (every position cut by `drawdown_reduce_fraction`, once per lock), flatten (close all).
Any level locks the account HALTED until an explicit resume after the cool-down; the lock, the
high-water mark and the cut targets are in the persisted state, so a restart changes nothing.

The high-water mark only rises to the *minimum* of the last `confirm_readings` equities: one bad
reading (a glitching mark) cannot lift the peak and fake a drawdown on the next, normal reading.

Money moved in or out (cashflow.py) has already re-based the peak, the day's start and the recent
readings when this rule runs: a withdrawal is not a loss, a deposit does not hide one.
"""

from __future__ import annotations

from dataclasses import replace

from guardbot.guard.context import LEVEL_RANK, Condition, Work, episode, position_key
from guardbot.guard.decisions import RULE_DRAWDOWN, num, qty, short
from guardbot.guard.state import day_start_of, lock
from guardbot.guard.whatif import lot_step
from guardbot.risk.precision import round_down

KEY = "drawdown|account"


def check(w: Work) -> None:
    lim, st = w.limits, w.state
    equity = w.figures.equity
    if w.flow is not None and w.flow.hold:
        # the wallet moved with no trade and no ledger entry yet: money moved, most likely. Measure
        # nothing (no new level, no new peak) until the ledger says what it was.
        w.reading(KEY, f"drawdown not measured: the wallet moved by {num(w.flow.jump)} with no trade")
        _hold(w)
        _enforce_targets(w)
        return
    recent = (*st.recent_equity, equity)[-lim.confirm_readings :]
    hwm = st.high_water_mark
    if hwm is None or hwm <= 0:
        hwm = equity  # the first reading (or the first after a resume) starts the peak
    elif len(recent) >= lim.confirm_readings:
        hwm = max(hwm, min(recent))
    day_ms = day_start_of(w.now_ms, lim.day_reset_hour_utc)
    day_equity = st.day_start_equity
    if st.day_start_ms != day_ms or day_equity is None:
        day_equity = equity  # a new trading day (or a re-based one after resume) starts here
    w.next_state = replace(
        w.next_state,
        high_water_mark=hwm,
        day_start_equity=day_equity,
        day_start_ms=day_ms,
        recent_equity=recent,
    )

    dd = (hwm - equity) / hwm * 100.0 if hwm > 0 else 0.0
    daily = (day_equity - equity) / day_equity * 100.0 if day_equity > 0 else 0.0
    reading = (
        f"drawdown {dd:.1f}% from high-water mark {num(hwm)} (equity {num(equity)}), "
        f"daily loss {daily:.1f}% of {num(day_equity)}"
    )
    w.reading(KEY, reading)
    level = w.level(
        KEY,
        [
            ("halt", dd >= lim.drawdown_halt_pct or daily >= lim.daily_loss_halt_pct),
            ("reduce", dd >= lim.drawdown_reduce_pct),
            ("flatten", dd >= lim.drawdown_flatten_pct),
        ],
    )
    if level is not None:
        if level == "halt":
            why = (
                f"drawdown {dd:.1f}% ≥ halt {lim.drawdown_halt_pct:g}%"
                if dd >= lim.drawdown_halt_pct
                else f"daily loss {daily:.1f}% ≥ {lim.daily_loss_halt_pct:g}%"
            )
            what = "new entries refused"
        elif level == "reduce":
            why = f"drawdown {dd:.1f}% ≥ reduce {lim.drawdown_reduce_pct:g}%"
            what = f"every position cut by {lim.drawdown_reduce_fraction * 100:.0f}%"
        else:
            why = f"drawdown {dd:.1f}% ≥ flatten {lim.drawdown_flatten_pct:g}%"
            what = "closing every position"
        reason = f"{why} (high-water mark {num(hwm)}, equity {num(equity)}): HALTED, {what}"
        w.raise_condition(
            Condition(KEY, RULE_DRAWDOWN, level, "warning" if level == "halt" else "critical", reason)
        )
        _lock(w, level, reason)
    _enforce_targets(w)


def _hold(w: Work) -> None:
    """Keep the drawdown's hysteresis counters and its alerted level as they are for this reading."""
    for key, n in w.state.consecutive.items():
        if key.startswith(f"{KEY}@"):
            w.consecutive[key] = n
    for item in w.state.active_conditions:
        key, _, level = item.rpartition("=")
        if key == KEY:
            w.raise_condition(
                Condition(KEY, RULE_DRAWDOWN, level, "warning", "held while a transfer is checked")
            )


def _lock(w: Work, level: str, reason: str) -> None:
    before = w.next_state
    if before.locked and LEVEL_RANK[before.lock_level or "halt"] >= LEVEL_RANK[level]:
        return
    after = lock(before, w.now_ms, w.limits, reason, level)
    targets = dict(after.targets)
    if not w.limits.may(RULE_DRAWDOWN, "reduce"):
        # [guard.actions] drawdown = "alert"/"protect": lock and say it, cut nothing (and keep no
        # targets that a later change of policy would suddenly act on)
        if level != "halt":
            w.withhold(RULE_DRAWDOWN, "close every position" if level == "flatten" else "cut every position")
        w.next_state = replace(after, targets={})
        return
    if level == "flatten":
        targets = {position_key(p): 0.0 for p in w.snapshot.positions if not w.limits.ignores(p.symbol)}
    elif level == "reduce":
        for p in w.snapshot.positions:
            if w.is_dust(p) or w.limits.ignores(p.symbol):
                continue
            step = lot_step(w.snapshot, p)
            cut = round_down(p.contracts * w.limits.drawdown_reduce_fraction, step)
            if cut > 0:
                targets[position_key(p)] = p.contracts - cut
    w.next_state = replace(after, targets=targets)


def _enforce_targets(w: Work) -> None:
    """Cut positions down to the targets set when the lock tripped (retried until done)."""
    st = w.next_state
    if not st.targets:
        return
    kept: dict[str, float] = {}
    for p in w.snapshot.positions:
        key = position_key(p)
        if key not in st.targets:
            continue
        target = st.targets[key]
        kept[key] = target
        step = lot_step(w.snapshot, p)
        excess = p.contracts - target
        if excess <= (step / 2 if step > 0 else p.contracts * 1e-9):
            continue
        amount = round_down(p.contracts, step) if target <= 0 else round_down(excess, step)
        verb = "close" if target <= 0 else f"cut {qty(amount)} of {qty(p.contracts)}, keep {qty(target)}"
        reason = f"{st.lock_reason}: {short(p.symbol)} {p.side.value} {verb}"
        ep = episode(RULE_DRAWDOWN, p.symbol, p.side, st.locked_at_ms)
        w.cut(RULE_DRAWDOWN, p, amount, reason, ep, "critical")
        w.reducing.append(f"drawdown cut of {short(p.symbol)}")
    # a position that is gone has no target any more (a new one is the halted-position policy's)
    w.next_state = replace(st, targets=kept)
