"""The scratch pad of one evaluation: inputs, hysteresis counters, conditions and the working book.

Rules read the *observed* snapshot/figures to decide which conditions hold, and size their actions
on the *working* snapshot: the book after the cuts earlier rules already decided this cycle, so two
rules never cut the same contracts twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from guardbot.domain import AccountSnapshot, Position, Side
from guardbot.guard.cashflow import FlowOutcome
from guardbot.guard.decisions import Decision, DecisionKind, Level
from guardbot.guard.limits import GuardLimits
from guardbot.guard.state import GuardState
from guardbot.guard.whatif import apply_cut, fee_rate, sendable_cut
from guardbot.risk.account import AccountFigures, PositionFigures
from guardbot.risk.margin import MarginModel

# Condition levels, by rank. "on" is a plain yes/no condition.
LEVEL_RANK = {"on": 1, "warn": 1, "halt": 2, "reduce": 3, "flatten": 4}


@dataclass(frozen=True, slots=True)
class Condition:
    """A limit currently breached (confirmed by hysteresis). Alerted on start/escalate/clear."""

    key: str  # "<rule>|<subject>", e.g. "margin_ratio|account", "liquidation|BTC/USDT:USDT|long"
    rule: str
    level: str  # a LEVEL_RANK key
    severity: Level
    reason: str
    symbol: str | None = None
    side: Side | None = None
    alert: bool = True  # False: tracked (for its episode) but the actions speak for themselves


def position_key(p: Position) -> str:
    return f"{p.symbol}|{p.side.value}"


def episode(rule: str, symbol: str | None, side: Side | None, since: int | None) -> str:
    """Stable episode id: f"{rule}:{symbol}:{side}:{start_ts}"."""
    return f"{rule}:{symbol or 'account'}:{side.value if side else '-'}:{since if since is not None else 0}"


@dataclass
class Work:
    snapshot: AccountSnapshot
    figures: AccountFigures
    state: GuardState
    limits: GuardLimits
    now_ms: int
    account: str
    model: MarginModel
    betas: Mapping[str, float] | None = None
    correlations: Mapping[tuple[str, str], float] | None = None
    # built during the evaluation
    working: AccountSnapshot = field(init=False)
    next_state: GuardState = field(init=False)  # lock, high-water mark, targets as rules update them
    consecutive: dict[str, int] = field(default_factory=dict)
    first_seen: dict[str, int] = field(default_factory=dict)
    conditions: dict[str, Condition] = field(default_factory=dict)
    readings: dict[str, str] = field(default_factory=dict)  # key -> current value, for "cleared"
    actions: list[Decision] = field(default_factory=list)
    reducing: list[str] = field(default_factory=list)  # why the account is REDUCING this cycle
    closing: set[tuple[str, Side]] = field(default_factory=set)
    flow: FlowOutcome | None = None  # money moved in or out since the last reading (cashflow.py)
    # orders a rule decided but its [guard.actions] policy does not let it send: rule -> what
    withheld: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.working = self.snapshot
        self.next_state = self.state
        self.by_key: dict[tuple[str, Side], PositionFigures] = {
            (pf.position.symbol, pf.position.side): pf for pf in self.figures.positions
        }

    @property
    def fee(self) -> float:
        return fee_rate(self.snapshot, self.limits.taker_fee)

    def is_dust(self, p: Position) -> bool:
        return p.notional < self.limits.dust_notional

    # --- hysteresis -------------------------------------------------------------------------------

    def confirm(self, key: str, beyond: bool) -> bool:
        """Count consecutive readings beyond a level; True once `confirm_readings` are reached."""
        need = self.limits.confirm_readings
        n = min(self.state.consecutive.get(key, 0) + 1, need) if beyond else 0
        if n:
            self.consecutive[key] = n
        return n >= need

    def level(self, key: str, levels: list[tuple[str, bool]]) -> str | None:
        """Highest confirmed level among (name, beyond) pairs listed from mildest to worst."""
        best = None
        for name, beyond in levels:
            if self.confirm(f"{key}@{name}", beyond):
                best = name
        return best

    # --- first-seen tracking ----------------------------------------------------------------------

    def seen(self, key: str) -> int:
        t = self.state.first_seen_ms.get(key, self.now_ms)
        self.first_seen[key] = t
        return t

    def raise_condition(self, cond: Condition) -> int:
        """Record a condition; returns its start time (the stable part of its episode)."""
        self.conditions[cond.key] = cond
        return self.seen(f"cond|{cond.key}")

    def reading(self, key: str, text: str) -> None:
        self.readings[key] = text

    # --- actions ----------------------------------------------------------------------------------

    def act(
        self,
        rule: str,
        kind: DecisionKind,
        reason: str,
        episode: str,
        level: Level = "warning",
        *,
        symbol: str | None = None,
        side: Side | None = None,
        quantity: float | None = None,
        trigger_price: float | None = None,
        order_id: str | None = None,
        client_order_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> Decision | None:
        if self.limits.ignores(symbol) and kind != "alert":
            return None  # left alone by the account's ignore_symbols
        if not self.limits.may(rule, kind):
            self.withhold(rule, reason)
            return None
        d = Decision(
            rule=rule,
            kind=kind,
            account=self.account,
            reason=reason,
            episode=episode,
            level=level,
            symbol=symbol,
            side=side,
            quantity=quantity,
            trigger_price=trigger_price,
            order_id=order_id,
            client_order_id=client_order_id,
            details=dict(details or {}),
        )
        self.actions.append(d)
        return d

    def withhold(self, rule: str, what: str) -> None:
        self.withheld.setdefault(rule, []).append(what)

    def cut(
        self,
        rule: str,
        p: Position,
        contracts: float,
        reason: str,
        episode: str,
        level: Level = "warning",
        details: Mapping[str, Any] | None = None,
    ) -> Decision | None:
        """A reduce (or close) of a position in the *working* book; never more than it holds."""
        current = next((q for q in self.working.positions if q.key == p.key), None)
        if current is None or contracts <= 0 or self.limits.ignores(p.symbol):
            return None
        if not self.limits.may(rule, "reduce"):
            # the rule's policy only lets it alert (or place stops): the book is left as it is
            self.withhold(rule, f"cut {p.symbol.split('/')[0]} {p.side.value} {contracts:.10g}")
            return None
        # an order the venue refuses for its value (Hyperliquid: $10, reducing ones too) would be
        # rejected every cycle: a cut is raised to it, and a position worth less gets none
        contracts = sendable_cut(self.working, current, min(contracts, current.contracts))
        if contracts <= 0:
            return None
        closes = contracts >= current.contracts * (1 - 1e-9)
        # the position's size at decision time is part of the episode: a retry of the same cut
        # keeps its client order id, a further cut after a fill gets a new one
        d = self.act(
            rule,
            "close" if closes else "reduce",
            reason,
            f"{episode}:{current.contracts:.10g}",
            level,
            symbol=p.symbol,
            side=p.side,
            quantity=contracts,
            details={**(details or {}), "reduce_only": True, "position_contracts": current.contracts},
        )
        self.working = apply_cut(self.working, p.symbol, p.side, contracts, self.fee)
        if closes:
            self.closing.add(p.key)
        return d
