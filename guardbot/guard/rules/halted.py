"""While the account is HALTED: cancel guardbot's own resting entry orders, and deal with positions
the trader opens by hand (`halted_manual_position_policy`: "alert" only, or "close" reduce-only).

Flatten means flat: once a lock reaches "flatten" (margin-ratio or drawdown flatten), every order
that could open a position again is cancelled too — the trader's as well as guardbot's with
`flatten_cancels = "all"` (the default), only guardbot's with "guardbot"."""

from __future__ import annotations

from guardbot.guard.context import Condition, Work, episode
from guardbot.guard.decisions import RULE_HALTED, num, qty, short
from guardbot.guard.protection import is_our_entry, opens_side
from guardbot.guard.whatif import lot_step
from guardbot.risk.precision import round_down


def check(w: Work) -> None:
    st = w.next_state
    if not st.locked:
        return
    locked_at = st.locked_at_ms or w.now_ms
    snap = w.snapshot
    flat = st.lock_level == "flatten" and w.limits.flatten_cancels == "all"
    for o in snap.open_orders:
        ours = is_our_entry(o, snap.position_mode)
        if not ours and not (flat and opens_side(o, snap.position_mode) is not None):
            continue
        what = f"{o.side} {qty(o.amount or 0.0)} {short(o.symbol)}"
        if o.price is not None:
            what += f" @ {num(o.price)}"
        elif o.trigger_price is not None:
            what += f" on trigger {num(o.trigger_price)}"
        whose = "guardbot entry order" if ours else "opening order (flatten cancels every one)"
        w.act(
            RULE_HALTED,
            "cancel_order",
            f"HALTED ({st.lock_reason}): cancel {whose} {what}",
            f"{RULE_HALTED}:{o.symbol}:{o.id or o.client_order_id}:{locked_at}",
            "warning",
            symbol=o.symbol,
            order_id=o.id or None,
            client_order_id=o.client_order_id,
        )

    policy = w.limits.halted_manual_position_policy
    for p in snap.positions:
        first = w.seen(f"pos|{p.symbol}|{p.side.value}")
        if first <= locked_at or w.is_dust(p) or p.key in w.closing or w.limits.ignores(p.symbol):
            continue
        key = f"halted|{p.symbol}|{p.side.value}"
        name = f"{short(p.symbol)} {p.side.value} {qty(p.contracts)} (notional {num(p.notional)})"
        reason = f"{name} opened while HALTED ({st.lock_reason})"
        # a new leg smaller than the opposite one hedges it: closing it would grow the net exposure
        hedge = any(q.symbol == p.symbol and q.side is not p.side and q.size > p.size for q in snap.positions)
        close = policy == "close" and not hedge
        if close:
            reason += ": closing it (policy close)"
        elif hedge:
            reason += ": it hedges the open position, left open (closing it would grow the net exposure)"
        else:
            reason += ": alert only (policy alert)"
        since = w.raise_condition(Condition(key, RULE_HALTED, "on", "critical", reason, p.symbol, p.side))
        w.reading(key, f"{short(p.symbol)} {p.side.value} position")
        if close:
            amount = round_down(p.contracts, lot_step(snap, p))
            w.cut(RULE_HALTED, p, amount, reason, episode(RULE_HALTED, p.symbol, p.side, since), "critical")
