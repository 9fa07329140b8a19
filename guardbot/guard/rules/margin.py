"""Rule 2: account margin ratio (cross maintenance / cross equity; 100 % = liquidation).

warn -> alert; reduce -> the planner's least-damage cuts back to `margin_ratio_target`;
flatten -> close everything (reduce-only) and lock the account HALTED.
"""

from __future__ import annotations

import math

from guardbot.guard.context import Condition, Work, episode
from guardbot.guard.decisions import RULE_MARGIN, pct, qty, short
from guardbot.guard.planner import plan_reduction
from guardbot.guard.rules.common import lock_account
from guardbot.guard.whatif import lot_step
from guardbot.risk.precision import round_down

KEY = "margin_ratio|account"


def _ratio_text(r: float) -> str:
    return "∞ (equity ≤ 0)" if math.isinf(r) else pct(r)


def check(w: Work) -> None:
    lim = w.limits
    r = w.figures.margin_ratio
    w.reading(KEY, f"margin ratio {_ratio_text(r)}")
    level = w.level(
        KEY,
        [
            ("warn", r >= lim.margin_ratio_warn),
            ("reduce", r >= lim.margin_ratio_reduce),
            ("flatten", r >= lim.margin_ratio_flatten),
        ],
    )
    if level is None:
        return
    if level == "warn":
        reason = f"margin ratio {_ratio_text(r)} ≥ warn {pct(lim.margin_ratio_warn, 0)}"
        w.raise_condition(Condition(KEY, RULE_MARGIN, level, "warning", reason))
        return

    if level == "flatten":
        reason = (
            f"margin ratio {_ratio_text(r)} ≥ flatten {pct(lim.margin_ratio_flatten, 0)}: "
            "closing every position"
        )
        since = w.raise_condition(Condition(KEY, RULE_MARGIN, level, "critical", reason))
        for p in w.working.positions:
            amount = round_down(p.contracts, lot_step(w.working, p))
            w.cut(
                RULE_MARGIN,
                p,
                amount,
                f"{reason}: close {short(p.symbol)} {p.side.value} {qty(amount)}",
                episode(RULE_MARGIN, p.symbol, p.side, since),
                "critical",
            )
        lock_account(w, "flatten", reason)
        w.reducing.append(reason)
        return

    plan = plan_reduction(
        w.working,
        lim.margin_ratio_target,
        lim.reduce_priority,
        w.betas,
        w.correlations,
        taker_fee=lim.taker_fee,
        dust_notional=lim.dust_notional,
        model=w.model,
        skip=lim.ignores,
    )
    reason = f"margin ratio {_ratio_text(r)} ≥ reduce {pct(lim.margin_ratio_reduce, 0)}: {plan.summary()}"
    since = w.raise_condition(Condition(KEY, RULE_MARGIN, level, "critical", reason))
    w.reducing.append(f"margin ratio {_ratio_text(r)} ≥ reduce {pct(lim.margin_ratio_reduce, 0)}")
    for c in plan.cuts:
        p = next(q for q in w.working.positions if q.symbol == c.symbol and q.side is c.side)
        w.cut(
            RULE_MARGIN,
            p,
            c.contracts,
            reason,
            episode(RULE_MARGIN, c.symbol, c.side, since),
            "critical",
            details={
                "margin_ratio": r,
                "target_ratio": plan.target_ratio,
                "expected_ratio": plan.ratio_after,
                "feasible": plan.feasible,
                "why": c.why,
            },
        )
