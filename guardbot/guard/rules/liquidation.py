"""Rule 3: distance from mark to each cross position's liquidation price (in % of mark).

Closer than `liquidation_warn_pct` -> alert; closer than `liquidation_reduce_pct` -> cut that
position (fewest lot steps, solved on the whole-book model) until it is back beyond the warn
distance. Isolated positions are only alerted: a partial close of an isolated position releases
margin in proportion and leaves its liquidation price where it was.
"""

from __future__ import annotations

from guardbot.domain import MarginMode
from guardbot.guard.context import Condition, Work, episode
from guardbot.guard.decisions import RULE_LIQUIDATION, num, qty, short
from guardbot.guard.planner import cut_for_liquidation_distance, find_position


def check(w: Work) -> None:
    lim = w.limits
    for pf in w.figures.positions:
        p = pf.position
        d = pf.liquidation_distance_pct
        if w.is_dust(p) or d is None or pf.liquidation_price is None:
            continue
        key = f"liquidation|{p.symbol}|{p.side.value}"
        name = f"{short(p.symbol)} {p.side.value}"
        w.reading(
            key, f"{name} liquidation {num(pf.liquidation_price)} is {d:.1f}% from mark {num(p.mark_price)}"
        )
        level = w.level(
            key, [("warn", d < lim.liquidation_warn_pct), ("reduce", d < lim.liquidation_reduce_pct)]
        )
        if level is None:
            continue
        base = f"{name}: liquidation {num(pf.liquidation_price)} is {d:.1f}% from mark {num(p.mark_price)}"
        if level == "warn" or p.margin_mode is MarginMode.ISOLATED:
            reason = f"{base} < warn {lim.liquidation_warn_pct:g}%"
            w.raise_condition(Condition(key, RULE_LIQUIDATION, level, "warning", reason, p.symbol, p.side))
            continue
        current = find_position(w.working, p.symbol, p.side)
        if current is None:  # already closed by an earlier rule this cycle
            w.raise_condition(
                Condition(
                    key,
                    RULE_LIQUIDATION,
                    level,
                    "critical",
                    f"{base} < reduce {lim.liquidation_reduce_pct:g}%",
                    p.symbol,
                    p.side,
                )
            )
            continue
        contracts, reached, after = cut_for_liquidation_distance(
            w.working, current, lim.liquidation_warn_pct, w.fee, w.model
        )
        after_text = "no liquidation price" if after is None else f"{after:.1f}%"
        plan = (
            f"cut {qty(contracts)} of {qty(current.contracts)} → {after_text}"
            if contracts > 0
            else "earlier cuts already move it back"
        )
        if not reached:
            plan += f" (cannot reach {lim.liquidation_warn_pct:g}%)"
        reason = f"{base} < reduce {lim.liquidation_reduce_pct:g}%: {plan}"
        since = w.raise_condition(
            Condition(key, RULE_LIQUIDATION, level, "critical", reason, p.symbol, p.side)
        )
        w.reducing.append(f"{name} {d:.1f}% from liquidation")
        w.cut(
            RULE_LIQUIDATION,
            p,
            contracts,
            reason,
            episode(RULE_LIQUIDATION, p.symbol, p.side, since),
            "critical",
        )
