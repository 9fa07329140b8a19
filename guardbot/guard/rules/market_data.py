"""Say when a position is measured on estimated market data (a listing newer than the loaded tiers).

The reader measures such a position with a conservative stand-in tier table rather than go blind
on the whole account; this rule makes that visible once, and clears when real tiers arrive.
"""

from __future__ import annotations

from guardbot.guard.context import Condition, Work
from guardbot.guard.decisions import RULE_MARKET_DATA, short


def check(w: Work) -> None:
    for symbol in sorted(w.snapshot.estimated_tiers):
        key = f"{RULE_MARKET_DATA}|{symbol}"
        w.reading(key, f"{short(symbol)}: the exchange's maintenance tiers are loaded now")
        reason = (
            f"{short(symbol)}: the exchange gave no maintenance tiers (listed after the last load?): "
            "measured with a stand-in 5% maintenance rate until they can be read; the other positions "
            "are measured as usual"
        )
        w.raise_condition(Condition(key, RULE_MARKET_DATA, "on", "warning", reason, symbol))
