"""Rule 1: every position carries a reduce-only stop on the exchange that can actually fire.

A position is protected by a resting stop that is reducing (reduce-only, close-position, or a
hedge-mode exit), on the exit side, triggers on the *mark* price, sits on the loss side of the mark,
covers the whole position (to half a lot step), and triggers at least `stop_buffer_pct` of mark
before the cross liquidation price. Otherwise, once the position is older than
`new_position_grace_s`:
- no stop -> place one `default_stop_pct` from mark, clamped to liquidation ± buffer;
- a stop that is too small (an add), beyond liquidation ("will never fire"), or on last price ->
  replace it (the decision names the order to cancel) with a full-size mark-price stop at the same
  trigger, moved inside the liquidation buffer if needed;
- no room for a stop at all (liquidation within the buffer of the mark) -> reduce the position
  until a stop fits, and say why.
A reducing stop whose position is gone (an orphan) is cancelled after the same grace period, unless
an order that would open that position still rests (the stop of a bracket waiting for its entry).
Stops are placed for dust positions too: it is the one thing dust does get — except where the venue
refuses it: a stop worth less than the venue's minimum for a reducing order at its trigger
(Hyperliquid: $10, stops included) is not planned; the position is reported once instead, and
gets its stop as soon as one is worth the minimum. Moving the trigger cannot help: a long's stop is
worth more only closer to the mark (a short's only further from it, i.e. a looser stop).
"""

from __future__ import annotations

from guardbot.domain import AccountSnapshot, MarginMode, Order, Position, Side
from guardbot.guard.context import Condition, Work, episode
from guardbot.guard.decisions import RULE_STOP, num, qty, short
from guardbot.guard.protection import closes_side, covers, opens_side, stops_for, triggers_on_right_side
from guardbot.guard.symbol_cuts import apply_symbol_cut, smallest_symbol_cut
from guardbot.guard.whatif import find_position, lot_step
from guardbot.risk.account import loss_side_liquidation_price
from guardbot.risk.liquidation import distance_pct
from guardbot.risk.precision import round_down, round_price


def _safe(trigger: float, p: Position, liq: float | None, buffer_abs: float) -> bool:
    if liq is None:
        return True
    return trigger >= liq + buffer_abs if p.side is Side.LONG else trigger <= liq - buffer_abs


def _beyond(trigger: float, p: Position, liq: float | None) -> bool:
    if liq is None:
        return False
    return trigger <= liq if p.side is Side.LONG else trigger >= liq


def _clamp(trigger: float, p: Position, liq: float | None, buffer_abs: float, tick: float) -> float | None:
    """The trigger moved (if needed) to the safe side of liquidation + buffer, on the tick grid
    (rounded toward the mark, i.e. away from liquidation); None when no such price is below
    (long) / above (short) the mark."""
    if p.side is Side.LONG:
        t = trigger if liq is None else max(trigger, liq + buffer_abs)
        t = round_price(t, tick, up=True)
        return t if 0 < t < p.mark_price else None
    t = trigger if liq is None else min(trigger, liq - buffer_abs)
    t = round_price(t, tick)
    return t if t > p.mark_price else None


def _primary(stops: list[Order], p: Position) -> Order:
    """The stop that comes closest to protecting the position: the biggest, then nearest to mark."""

    def key(o: Order) -> tuple[float, float]:
        size = float("inf") if o.close_position else (o.amount or 0.0)
        return (size, -abs(p.mark_price - (o.trigger_price or 0.0)))

    return max(stops, key=key)


def check(w: Work) -> None:
    lim = w.limits
    snap = w.snapshot
    for p in snap.positions:
        first = w.seen(f"pos|{p.symbol}|{p.side.value}")
        if p.key in w.closing or w.limits.ignores(p.symbol):
            continue  # closed this cycle (a stop would only become an orphan), or left alone
        market = snap.markets.get(p.symbol)
        step = lot_step(snap, p)
        tick = market.price_tick if market is not None else 0.0
        liq = _loss_side_liquidation(w, p)
        buffer_abs = p.mark_price * lim.stop_buffer_pct / 100.0
        stops = [o for o in stops_for(snap, p) if triggers_on_right_side(o, p)]
        good = [
            o
            for o in stops
            if covers(o, p, step)
            and o.working_type == "mark"
            and _safe(o.trigger_price or 0.0, p, liq, buffer_abs)
        ]
        if good or w.now_ms - first < lim.grace_ms:
            continue

        name = f"{short(p.symbol)} {p.side.value} {qty(p.contracts)}"
        liq_text = "none" if liq is None else num(liq)
        amount = round_down(p.contracts, step)
        key = f"stop|{p.symbol}|{p.side.value}"
        old: Order | None = None
        if not stops:
            sign = -1 if p.side is Side.LONG else 1
            wanted = p.mark_price * (1 + sign * lim.default_stop_pct / 100.0)
            trigger = _clamp(wanted, p, liq, buffer_abs, tick)
            problem = f"{name} has no stop"
            detail = f"default {lim.default_stop_pct:g}% from mark {num(p.mark_price)}"
            if trigger is not None and abs(trigger - wanted) > max(tick, 1e-12 * p.mark_price):
                detail = (
                    f"{lim.default_stop_pct:g}% from mark would be beyond liquidation {liq_text}: "
                    f"clamped to {lim.stop_buffer_pct:g}% of mark inside it"
                )
        else:
            old = _primary(stops, p)
            t0 = old.trigger_price or 0.0
            problems: list[str] = []
            if not covers(old, p, step):
                problems.append(f"stop covers {qty(old.amount or 0.0)} of {qty(p.contracts)} (size changed)")
            if _beyond(t0, p, liq):
                problems.append(f"stop {num(t0)} is beyond liquidation {liq_text}: it will never fire")
            elif not _safe(t0, p, liq, buffer_abs):
                problems.append(
                    f"stop {num(t0)} is within {lim.stop_buffer_pct:g}% of liquidation {liq_text}: "
                    "it may not fire"
                )
            if old.working_type != "mark":
                problems.append(
                    f"stop {num(t0)} triggers on {old.working_type} price: a mark/last gap can liquidate "
                    "before it fires"
                )
            trigger = _clamp(t0, p, liq, buffer_abs, tick)
            problem = f"{name}: " + "; ".join(problems)
            detail = "full size, mark price"

        if trigger is not None and amount > 0 and _too_small(w, p, amount, trigger, name, old):
            continue
        since = w.raise_condition(
            Condition(key, RULE_STOP, "on", "warning", problem, p.symbol, p.side, alert=False)
        )
        ep = episode(RULE_STOP, p.symbol, p.side, since)
        if trigger is None or amount <= 0:
            _no_room(w, p, problem, liq_text, ep)
            continue
        details = {"working_type": "mark", "reduce_only": True, "liquidation_price": liq}
        if old is None:
            reason = f"{problem} → place stop {qty(amount)} @ {num(trigger)} ({detail})"
            w.act(
                RULE_STOP,
                "place_stop",
                reason,
                ep,
                symbol=p.symbol,
                side=p.side,
                quantity=amount,
                trigger_price=trigger,
                details=details,
            )
        else:
            reason = f"{problem} → replace with {qty(amount)} @ {num(trigger)} ({detail})"
            w.act(
                RULE_STOP,
                "replace_stop",
                reason,
                # a replacement is a new order: its own episode (so its own client id), tied to
                # the order it replaces, never the id of the stop it cancels
                f"{ep}:replaces:{old.id or old.client_order_id or num(old.trigger_price or 0.0)}",
                symbol=p.symbol,
                side=p.side,
                quantity=amount,
                trigger_price=trigger,
                order_id=old.id or None,
                client_order_id=old.client_order_id,
                details={
                    **details,
                    "old_trigger_price": old.trigger_price,
                    "old_amount": old.amount,
                    "old_working_type": old.working_type,
                },
            )

    _orphans(w)


def _too_small(w: Work, p: Position, amount: float, trigger: float, name: str, old: Order | None) -> bool:
    """True when the venue would refuse this stop for its value at the trigger: the position is
    reported (one alert per episode, a clear when it can carry one) and no order is planned, since
    the same refusal would come back every cycle."""
    market = w.snapshot.markets.get(p.symbol)
    least = market.reduce_min_notional if market is not None else 0.0
    key = f"{RULE_STOP}|{p.symbol}|{p.side.value}|venue_minimum"
    value = amount * p.contract_size * trigger
    if least <= 0 or value >= least:
        w.reading(key, f"{name} is worth {value:.2f} at its stop {num(trigger)}: its stop can be placed")
        return False
    now = "unprotected" if old is None else f"covered only by its stop {num(old.trigger_price or 0.0)}"
    reason = (
        f"{name} is too small for a stop on {w.snapshot.exchange}: a stop @ {num(trigger)} would be "
        f"worth {value:.2f}, below the venue's minimum order value {least:g} (stops included), so "
        f"none is placed → the position stays {now}: close it by hand, or it gets its stop once "
        f"it is worth {least:g} at the stop"
    )
    w.raise_condition(Condition(key, RULE_STOP, "on", "warning", reason, p.symbol, p.side))
    return True


def _loss_side_liquidation(w: Work, p: Position) -> float | None:
    """The liquidation price a stop of `p` must come before: on the leg's own loss side. For a
    one-way position that is its liquidation price; in a hedged symbol the legs share one price,
    which lies on the loss side of the net leg only — the hedging leg's stop is not bounded by it."""
    pf = w.by_key.get(p.key)
    hedged = (
        sum(1 for q in w.snapshot.positions if q.symbol == p.symbol and q.margin_mode is p.margin_mode) > 1
    )
    if not hedged or p.margin_mode is MarginMode.ISOLATED:
        return pf.liquidation_price if pf is not None else None
    return loss_side_liquidation_price(w.snapshot, p, w.model)


def _leg_distance(s: AccountSnapshot, p: Position, w: Work) -> float | None:
    leg = find_position(s, p.symbol, p.side)
    if leg is None:
        return None
    return distance_pct(leg.mark_price, loss_side_liquidation_price(s, leg, w.model))


def _no_room(w: Work, p: Position, problem: str, liq_text: str, ep: str) -> None:
    """Liquidation is within the buffer of the mark: no stop can sit between them. Reduce the
    symbol (net side first, never growing its net exposure) until a stop fits."""
    lim = w.limits
    if find_position(w.working, p.symbol, p.side) is None:
        return
    need = lim.default_stop_pct + lim.stop_buffer_pct

    def ok(s: AccountSnapshot) -> bool:
        d = _leg_distance(s, p, w)
        return d is None or d >= need

    cuts, _ = smallest_symbol_cut(w.working, p.symbol, ok, w.fee)
    if not cuts:
        return  # earlier cuts this cycle already make room; the stop follows next cycle
    after = _leg_distance(apply_symbol_cut(w.working, p.symbol, cuts, w.fee), p, w)
    after_text = "none" if after is None else f"{after:.1f}% from mark"
    for side, contracts in cuts:
        current = find_position(w.working, p.symbol, side)
        assert current is not None
        if contracts >= current.contracts:
            action = f"close {short(p.symbol)} {side.value} {qty(contracts)}"
        else:
            action = (
                f"reduce {short(p.symbol)} {side.value} {qty(contracts)} of {qty(current.contracts)} "
                f"(liquidation then {after_text})"
            )
        reason = (
            f"{problem}, and liquidation {liq_text} is within {lim.stop_buffer_pct:g}% of mark "
            f"{num(p.mark_price)}: no stop can fire before it → {action} so a stop fits"
        )
        w.cut(
            RULE_STOP, current, contracts, reason, ep if side is p.side else f"{ep}:{side.value}", "critical"
        )
    w.reducing.append(f"no room for a stop on {short(p.symbol)}")


def _orphans(w: Work) -> None:
    """Cancel a reducing stop that has nothing left to protect: no position on its side, and no
    resting order that would open one (a limit entry and its stop form a bracket: the stop waits for
    the fill, and must be there the moment it happens)."""
    snap = w.snapshot
    held = {p.key for p in snap.positions}
    awaited = {(o.symbol, side) for o in snap.open_orders if (side := opens_side(o, snap.position_mode))}
    for o in snap.open_orders:
        if not o.is_stop:
            continue
        side = closes_side(o, snap.position_mode)
        if (
            side is None
            or (o.symbol, side) in held
            or (o.symbol, side) in awaited
            or w.limits.ignores(o.symbol)
        ):
            continue
        ident = o.id or o.client_order_id or f"{o.symbol}:{o.trigger_price}"
        first = w.seen(f"order|{ident}")
        if w.now_ms - first < w.limits.grace_ms:
            continue
        reason = (
            f"orphan stop on {short(o.symbol)} "
            f"({o.side} {qty(o.amount or 0.0)} @ {num(o.trigger_price or 0.0)}): "
            f"no {side.value} position any more → cancel"
        )
        w.act(
            RULE_STOP,
            "cancel_order",
            reason,
            f"{RULE_STOP}:{o.symbol}:orphan:{ident}",
            "info",
            symbol=o.symbol,
            side=side,
            order_id=o.id or None,
            client_order_id=o.client_order_id,
        )
