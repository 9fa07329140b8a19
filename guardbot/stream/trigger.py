"""Pure decisions of streaming mode: does a streamed mark move cross a trigger level, should the
streams be given up for polling alone, does an order update need a look. No I/O, no clock.

Levels. The margin ratio trips a level when it is at or above it, the nearest cross liquidation
distance when it is below it: the same comparisons as the guard's rules (rules/margin.py,
rules/liquidation.py), whose own levels are the default, so a trigger fires exactly where a rule
would change what it does.

Edge, not level. A level triggers once when it is crossed, not at every mark while the account
stays beyond it: the polling cycle keeps looking at an account that stays there. The zone (how many
levels are crossed) re-arms downward as the risk recedes, and each guard cycle re-arms it from
what that cycle read, so the next crossing after it triggers again.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from guardbot.domain import AccountSnapshot, MarginMode
from guardbot.guard.limits import GuardLimits
from guardbot.risk.account import AccountFigures, measure_account


@dataclass(frozen=True, slots=True)
class RiskPoint:
    """The two figures a trigger watches."""

    margin_ratio: float  # inf when equity <= 0
    liquidation_pct: float | None  # nearest cross liquidation, % from mark; None: none


@dataclass(frozen=True, slots=True)
class TriggerLevels:
    margin_ratio: tuple[float, ...]  # ascending: trips at or above
    liquidation_pct: tuple[float, ...]  # ascending: trips below

    @classmethod
    def of(
        cls, limits: GuardLimits, margin_ratio: Sequence[float] = (), liquidation_pct: Sequence[float] = ()
    ) -> TriggerLevels:
        """Configured levels, or the guard's own (warn, reduce, flatten / warn, reduce)."""
        mr = margin_ratio or (
            limits.margin_ratio_warn,
            limits.margin_ratio_reduce,
            limits.margin_ratio_flatten,
        )
        lq = liquidation_pct or (limits.liquidation_reduce_pct, limits.liquidation_warn_pct)
        return cls(tuple(sorted(mr)), tuple(sorted(lq)))


Zone = tuple[int, int]  # (margin-ratio levels reached, liquidation levels reached)
CALM: Zone = (0, 0)


def risk_point(figures: AccountFigures, dust_notional: float = 0.0) -> RiskPoint:
    """Margin ratio and nearest liquidation distance of cross, non-dust positions (as the rules)."""
    distances = [
        pf.liquidation_distance_pct
        for pf in figures.positions
        if pf.position.margin_mode is MarginMode.CROSS
        and pf.position.notional >= dust_notional
        and pf.liquidation_distance_pct is not None
        and pf.liquidation_price is not None
    ]
    return RiskPoint(figures.margin_ratio, min(distances, default=None))


def point_at_marks(
    snapshot: AccountSnapshot, marks: Mapping[str, float], dust_notional: float = 0.0
) -> RiskPoint:
    """The last snapshot's book measured again at streamed marks (symbols it does not hold are
    ignored): the pure risk functions, nothing read from the exchange."""
    held = {p.symbol for p in snapshot.positions}
    moved = {s: m for s, m in marks.items() if s in held and math.isfinite(m) and m > 0}
    book = snapshot.with_marks(moved) if moved else snapshot
    return risk_point(measure_account(book), dust_notional)


def zone(point: RiskPoint, levels: TriggerLevels) -> Zone:
    mr = sum(1 for level in levels.margin_ratio if point.margin_ratio >= level)
    d = point.liquidation_pct
    lq = 0 if d is None else sum(1 for level in levels.liquidation_pct if d < level)
    return mr, lq


def crossing(armed: Zone, point: RiskPoint, levels: TriggerLevels) -> tuple[Zone, str | None]:
    """The new armed zone and, when `point` crossed a level beyond `armed`, why (else None)."""
    now = zone(point, levels)
    reason = None
    if now[0] > armed[0]:
        level = levels.margin_ratio[now[0] - 1]
        shown = "∞" if math.isinf(point.margin_ratio) else f"{point.margin_ratio:.1%}"
        reason = f"margin ratio {shown} crossed {level:.0%} at streamed marks"
    elif now[1] > armed[1] and point.liquidation_pct is not None:
        level = levels.liquidation_pct[len(levels.liquidation_pct) - now[1]]
        reason = (
            f"nearest liquidation {point.liquidation_pct:.1f}% from mark crossed {level:g}% at streamed marks"
        )
    return now, reason


# ---- stream health ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Health:
    down_since_ms: int | None = None  # since when some stream has been down
    fallen_back: bool = False  # the fallback alert was sent (and no recovery since)


Event = Literal["fallback", "recovered"]


def health_step(h: Health, now_ms: int, up: bool, bound_ms: int) -> tuple[Health, Event | None]:
    """One look at the streams: "fallback" once when they have been down longer than `bound_ms`,
    "recovered" once when they are all up again after that; nothing for a short blip."""
    if up:
        return Health(), ("recovered" if h.fallen_back else None)
    since = now_ms if h.down_since_ms is None else h.down_since_ms
    if not h.fallen_back and now_ms - since >= bound_ms:
        return Health(since, True), "fallback"
    return Health(since, h.fallen_back), None


def backoff_s(failures: int, cap_s: float, first_s: float = 0.25) -> float:
    """Reconnect delay after `failures` failed attempts in a row: doubling from `first_s` to `cap_s`."""
    return float(min(cap_s, first_s * 2 ** max(0, failures - 1)))


# ---- user-data events ----------------------------------------------------------------------------

LEFT_THE_BOOK = ("canceled", "expired", "rejected")


def order_needs_look(order: Mapping[str, Any], known_stops: Collection[str] = ()) -> bool:
    """A ccxt order from the user-data stream that changes what protects a position: a reducing
    conditional order that left the book without filling (cancelled by hand, expired, rejected).
    `known_stops`: ids of the reducing stops the last snapshot held (for streams whose orders do
    not say reduce-only or trigger)."""
    if order.get("status") not in LEFT_THE_BOOK:
        return False
    if str(order.get("id")) in known_stops:
        return True
    info = order.get("info") or {}
    reducing = (
        bool(order.get("reduceOnly")) or info.get("cp") in (True, "true") or info.get("R") in (True, "true")
    )
    trigger = order.get("triggerPrice") or order.get("stopPrice")
    return reducing and bool(trigger)


# Venues whose position stream carries the whole book every time (Hyperliquid's
# clearinghouseState): a position missing from an update was closed. Elsewhere an update lists only
# what changed (Binance ACCOUNT_UPDATE, Bybit `position`), and a closed position comes as size 0.
FULL_POSITION_STATE = frozenset({"hyperliquid"})


def positions_changed(
    positions: Sequence[Mapping[str, Any]], known: Mapping[str, float], *, full_state: bool = False
) -> bool:
    """Did a position update move a position away from what the last snapshot held?
    `known`: "symbol|side" -> contracts of the last snapshot; `full_state`: the update lists every
    open position (see FULL_POSITION_STATE)."""
    listed: set[str] = set()
    for p in positions:
        symbol, side = p.get("symbol"), p.get("side")
        contracts = float(p.get("contracts") or 0.0)
        if side not in ("long", "short"):
            # a flat one-way position has no direction in ccxt (Binance: "both", Bybit: None): it
            # closed if the snapshot held the symbol
            if contracts == 0 and any(n > 0 and k.rpartition("|")[0] == symbol for k, n in known.items()):
                return True
            continue
        key = f"{symbol}|{side}"
        listed.add(key)
        if abs(contracts - known.get(key, 0.0)) > 1e-12:
            return True
    return full_state and any(n > 0 and key not in listed for key, n in known.items())
