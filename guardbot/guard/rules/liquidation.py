"""Rule 3: distance from mark to each symbol's cross liquidation price (in % of mark).

The distance belongs to the symbol, not to a leg: in hedge mode the long and the short leg of a
symbol move together and share one liquidation price. Closer than `liquidation_warn_pct` -> alert;
closer than `liquidation_reduce_pct` -> cut the symbol (net side first, then both legs together:
never growing its net exposure; fewest lot steps, solved on the whole-book model) until it is back
beyond the warn distance.

A cut counts only if it is progress, measured on the book after it: the symbol's liquidation moves
away (or the symbol is flat) and the account's nearest liquidation distance is not closer. Closing
a hedge leg "solves" nothing — the symbol keeps its liquidation price, only nearer — so such a cut
is never sent. Isolated positions are only alerted: a partial close of an isolated position
releases margin in proportion and leaves its liquidation price where it was.
"""

from __future__ import annotations

from guardbot.domain import AccountSnapshot, MarginMode, Position
from guardbot.guard.context import Condition, Work, episode
from guardbot.guard.decisions import RULE_LIQUIDATION, num, qty, short
from guardbot.guard.symbol_cuts import apply_symbol_cut, smallest_symbol_cut
from guardbot.risk.account import PositionFigures, liquidation_price
from guardbot.risk.liquidation import distance_pct
from guardbot.risk.margin import MarginModel

_PROGRESS_EPS = 1e-9  # % of mark: closer than this is "the same distance"
# A liquidation that needs the price to more than double is no practical risk: comparing two such
# distances (a hedged book's far side) says nothing about whether a cut made the account safer.
FAR_PCT = 100.0


def symbol_distance(s: AccountSnapshot, symbol: str, model: MarginModel) -> float | None:
    """% from mark to the liquidation price shared by the symbol's cross legs (None: no cross leg
    left, or nothing liquidates it)."""
    leg = next((p for p in s.positions if p.symbol == symbol and p.margin_mode is MarginMode.CROSS), None)
    if leg is None:
        return None
    return distance_pct(leg.mark_price, liquidation_price(s, leg, model))


def nearest_distance(s: AccountSnapshot, model: MarginModel) -> float | None:
    """The account's nearest cross liquidation distance, over every symbol (None: none at all, or
    none within `FAR_PCT` of the mark)."""
    found = [symbol_distance(s, sym, model) for sym in dict.fromkeys(p.symbol for p in s.positions)]
    return min((d for d in found if d is not None and d < FAR_PCT), default=None)


def _farther(after: float | None, before: float | None) -> bool:
    """Is `after` a liquidation distance at least as safe as `before`? (None: no liquidation.)"""
    if after is None:
        return True
    return before is not None and after >= before - _PROGRESS_EPS


def _by_symbol(w: Work) -> dict[str, PositionFigures]:
    out: dict[str, PositionFigures] = {}
    for pf in w.figures.positions:
        p = pf.position
        if p.margin_mode is MarginMode.CROSS and not w.is_dust(p) and pf.liquidation_price is not None:
            out.setdefault(p.symbol, pf)
    return out


def check(w: Work) -> None:
    lim = w.limits
    for pf in w.figures.positions:  # isolated: each its own liquidation, alerted only
        p = pf.position
        if p.margin_mode is MarginMode.ISOLATED and not w.is_dust(p):
            _isolated(w, pf)
    for symbol, pf in _by_symbol(w).items():
        d = pf.liquidation_distance_pct
        liq = pf.liquidation_price
        if d is None or liq is None:
            continue
        key = f"liquidation|{symbol}"
        name = _legs_name(w.snapshot, symbol)
        mark = pf.position.mark_price
        w.reading(key, f"{name} liquidation {num(liq)} is {d:.1f}% from mark {num(mark)}")
        level = w.level(
            key, [("warn", d < lim.liquidation_warn_pct), ("reduce", d < lim.liquidation_reduce_pct)]
        )
        if level is None:
            continue
        base = f"{name}: liquidation {num(liq)} is {d:.1f}% from mark {num(mark)}"
        if level == "warn":
            reason = f"{base} < warn {lim.liquidation_warn_pct:g}%"
            w.raise_condition(Condition(key, RULE_LIQUIDATION, level, "warning", reason, symbol))
            continue
        _reduce(w, symbol, d, f"{base} < reduce {lim.liquidation_reduce_pct:g}%", key, level)


def _reduce(w: Work, symbol: str, d: float, base: str, key: str, level: str) -> None:
    lim = w.limits
    if not any(p.symbol == symbol for p in w.working.positions):  # closed by an earlier rule
        w.raise_condition(Condition(key, RULE_LIQUIDATION, level, "critical", base, symbol))
        return

    def ok(s: AccountSnapshot) -> bool:
        after = symbol_distance(s, symbol, w.model)
        return after is None or after >= lim.liquidation_warn_pct

    cuts, reached = smallest_symbol_cut(w.working, symbol, ok, w.fee)
    after_book = apply_symbol_cut(w.working, symbol, cuts, w.fee)
    before_sym, after_sym = (
        symbol_distance(w.working, symbol, w.model),
        symbol_distance(after_book, symbol, w.model),
    )
    progress = bool(cuts) and (
        (after_sym is None or before_sym is None or after_sym > before_sym + _PROGRESS_EPS)
        and _farther(nearest_distance(after_book, w.model), nearest_distance(w.working, w.model))
    )
    if w.limits.ignores(symbol):
        plan = "ignored ([accounts] ignore_symbols): alert only"
        cuts = []
    elif not cuts:
        plan = "earlier cuts already move it back"
    elif not progress:
        plan = "no cut of it moves its liquidation away (closing a hedge would bring it closer): alert only"
        cuts = []
    else:
        what = ", ".join(f"{side.value} {qty(c)}" for side, c in cuts)
        after_text = "no liquidation price" if after_sym is None else f"{after_sym:.1f}%"
        plan = f"cut {what} → {after_text}"
        if not reached:
            plan += f" (cannot reach {lim.liquidation_warn_pct:g}%)"
    reason = f"{base}: {plan}"
    since = w.raise_condition(Condition(key, RULE_LIQUIDATION, level, "critical", reason, symbol))
    if not cuts:
        return
    w.reducing.append(f"{short(symbol)} {d:.1f}% from liquidation")
    for side, contracts in cuts:
        leg = next(p for p in w.working.positions if p.symbol == symbol and p.side is side)
        w.cut(
            RULE_LIQUIDATION,
            leg,
            contracts,
            reason,
            episode(RULE_LIQUIDATION, symbol, side, since),
            "critical",
        )


def _isolated(w: Work, pf: PositionFigures) -> None:
    p = pf.position
    d, liq = pf.liquidation_distance_pct, pf.liquidation_price
    if d is None or liq is None:
        return
    lim = w.limits
    key = f"liquidation|{p.symbol}|{p.side.value}"
    name = f"{short(p.symbol)} {p.side.value} (isolated)"
    w.reading(key, f"{name} liquidation {num(liq)} is {d:.1f}% from mark {num(p.mark_price)}")
    level = w.level(key, [("warn", d < lim.liquidation_warn_pct), ("reduce", d < lim.liquidation_reduce_pct)])
    if level is None:
        return
    limit = lim.liquidation_warn_pct if level == "warn" else lim.liquidation_reduce_pct
    reason = f"{name}: liquidation {num(liq)} is {d:.1f}% from mark {num(p.mark_price)} < {level} {limit:g}%"
    w.raise_condition(Condition(key, RULE_LIQUIDATION, level, "warning", reason, p.symbol, p.side))


def _legs_name(s: AccountSnapshot, symbol: str) -> str:
    legs: list[Position] = [
        p for p in s.positions if p.symbol == symbol and p.margin_mode is MarginMode.CROSS
    ]
    if len(legs) == 1:
        return f"{short(symbol)} {legs[0].side.value}"
    return f"{short(symbol)} " + " / ".join(f"{p.side.value} {qty(p.contracts)}" for p in legs)
