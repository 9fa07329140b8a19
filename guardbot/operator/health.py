"""How an account is doing, in three levels: the colour both front ends put next to it.

The level is the worst of three readings, so a HALTED account never shows green because its
margin ratio happens to be low after a flatten:

- trading state: HALTED or REDUCING is `danger` (the guard locked entries or is cutting);
- margin ratio: from `guard.margin_ratio_warn` it is `warn`, from `margin_ratio_reduce` `danger`
  (an infinite ratio, equity <= 0, is `danger`);
- drawdown from the high-water mark: from half of `guard.drawdown_halt_pct` it is `warn`, from the
  halt level itself `danger`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from guardbot.config import GuardConfig

Health = Literal["ok", "warn", "danger"]
_ORDER: tuple[Health, ...] = ("ok", "warn", "danger")


@dataclass(frozen=True, slots=True)
class Levels:
    margin_ratio_warn: float = 0.5
    margin_ratio_reduce: float = 0.7
    drawdown_halt_pct: float = 10.0

    @classmethod
    def of(cls, guard: GuardConfig) -> Levels:
        return cls(guard.margin_ratio_warn, guard.margin_ratio_reduce, guard.drawdown_halt_pct)


def worst(*levels: Health) -> Health:
    return max(levels, key=_ORDER.index, default="ok")


def health(state: str, margin_ratio: float | None, drawdown_pct: float | None, levels: Levels) -> Health:
    """`margin_ratio` is a fraction (None or inf: equity <= 0); `drawdown_pct` is in percent."""
    by_state: Health = "danger" if state in ("HALTED", "REDUCING") else "ok"
    if margin_ratio is None or not math.isfinite(margin_ratio) or margin_ratio >= levels.margin_ratio_reduce:
        by_margin: Health = "danger"
    else:
        by_margin = "warn" if margin_ratio >= levels.margin_ratio_warn else "ok"
    dd = drawdown_pct or 0.0
    by_drawdown: Health = (
        "danger" if dd >= levels.drawdown_halt_pct else "warn" if dd >= levels.drawdown_halt_pct / 2 else "ok"
    )
    return worst(by_state, by_margin, by_drawdown)
