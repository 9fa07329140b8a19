"""The thresholds the guard enforces, read from the [guard] and [risk] settings.

`GuardLimits` is a frozen copy of the fields the rules use, so `guardbot.guard` stays importable
and testable without the settings module: anything with the right attribute names (the pydantic
models in `guardbot.config`, a `SimpleNamespace` in a test) can be turned into limits.
Percentages are in percent (10 means 10 %), margin ratios are fractions (0.7 = 70 %).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Literal, Protocol

from guardbot.domain import base_asset

PriorityKey = Literal["unprotected", "correlated", "maintenance"]
PRIORITY_KEYS: tuple[PriorityKey, ...] = ("unprotected", "correlated", "maintenance")
ManualPolicy = Literal["alert", "close"]
FlattenCancels = Literal["all", "guardbot"]
Policy = Literal["alert", "protect", "reduce"]
POLICIES: tuple[Policy, ...] = ("alert", "protect", "reduce")
# How hard each rule may act by default (see config ActionsConfig): stops placed, only the two
# emergencies cut. A rule not listed (halted, blind, ...) is not limited.
DEFAULT_ACTIONS: dict[str, Policy] = {
    "stop": "protect",
    "margin_ratio": "reduce",
    "liquidation": "reduce",
    "drawdown": "alert",
    "leverage": "alert",
    "symbol_cap": "alert",
    "cluster_cap": "alert",
    "sector_cap": "alert",
    "net_beta": "alert",
}


class GuardConfigLike(Protocol):
    """The [guard] settings, as read-only attributes (what `guardbot.config` provides)."""

    @property
    def drawdown_halt_pct(self) -> float: ...
    @property
    def drawdown_reduce_pct(self) -> float: ...
    @property
    def drawdown_flatten_pct(self) -> float: ...
    @property
    def drawdown_reduce_fraction(self) -> float: ...
    @property
    def daily_loss_halt_pct(self) -> float: ...
    @property
    def day_reset_hour_utc(self) -> int: ...
    @property
    def margin_ratio_warn(self) -> float: ...
    @property
    def margin_ratio_reduce(self) -> float: ...
    @property
    def margin_ratio_flatten(self) -> float: ...
    @property
    def margin_ratio_target(self) -> float: ...
    @property
    def liquidation_warn_pct(self) -> float: ...
    @property
    def liquidation_reduce_pct(self) -> float: ...
    @property
    def stop_buffer_pct(self) -> float: ...
    @property
    def default_stop_pct(self) -> float: ...
    @property
    def new_position_grace_s(self) -> float: ...
    @property
    def confirm_readings(self) -> int: ...
    @property
    def resume_cooldown_minutes(self) -> float: ...
    @property
    def blind_after_failures(self) -> int: ...
    @property
    def max_snapshot_age_s(self) -> float: ...
    @property
    def halted_manual_position_policy(self) -> str: ...
    @property
    def flatten_cancels(self) -> str: ...
    @property
    def leverage_warn(self) -> float: ...
    @property
    def leverage_hard(self) -> float: ...
    @property
    def max_symbol_notional_pct(self) -> float: ...
    @property
    def reduce_priority(self) -> Sequence[str]: ...
    @property
    def dust_notional(self) -> float: ...
    @property
    def actions(self) -> object: ...


class RiskConfigLike(Protocol):
    """The [risk] settings the guard uses."""

    @property
    def taker_fee(self) -> float | None: ...
    @property
    def cluster_threshold(self) -> float: ...
    @property
    def max_cluster_pct(self) -> float: ...
    @property
    def max_net_beta_pct(self) -> float: ...
    @property
    def sectors(self) -> Mapping[str, Sequence[str]]: ...
    @property
    def sector_caps(self) -> Mapping[str, float]: ...


@dataclass(frozen=True)
class GuardLimits:
    """Every threshold of every rule. Defaults are the documented [guard]/[risk] defaults."""

    # drawdown (percent of the high-water mark / of day-start equity)
    drawdown_halt_pct: float = 10.0
    drawdown_reduce_pct: float = 15.0
    drawdown_flatten_pct: float = 20.0
    drawdown_reduce_fraction: float = 0.5
    daily_loss_halt_pct: float = 5.0
    day_reset_hour_utc: int = 0
    # margin ratio (fractions)
    margin_ratio_warn: float = 0.5
    margin_ratio_reduce: float = 0.7
    margin_ratio_flatten: float = 0.9
    margin_ratio_target: float = 0.4
    # liquidation distance and stops (percent of mark)
    liquidation_warn_pct: float = 15.0
    liquidation_reduce_pct: float = 7.5
    stop_buffer_pct: float = 1.0
    default_stop_pct: float = 5.0
    new_position_grace_s: float = 60.0
    # hysteresis, lock, blindness
    confirm_readings: int = 2
    resume_cooldown_minutes: float = 60.0
    blind_after_failures: int = 3
    max_snapshot_age_s: float = 60.0
    halted_manual_position_policy: ManualPolicy = "alert"
    flatten_cancels: FlattenCancels = "all"  # which opening orders a flatten cancels
    # exposure
    leverage_warn: float = 5.0
    leverage_hard: float = 8.0
    max_symbol_notional_pct: float = 200.0
    reduce_priority: tuple[PriorityKey, ...] = PRIORITY_KEYS
    dust_notional: float = 10.0
    # from [risk]
    taker_fee: float | None = None
    cluster_threshold: float = 0.8
    max_cluster_pct: float = 300.0
    max_net_beta_pct: float = 400.0
    sectors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sector_caps: Mapping[str, float] = field(default_factory=dict)
    actions: Mapping[str, Policy] = field(default_factory=lambda: dict(DEFAULT_ACTIONS))
    # per account: symbols (or base assets) guardbot measures in the pool but never acts on
    ignore_symbols: frozenset[str] = frozenset()

    def ignores(self, symbol: str | None) -> bool:
        if symbol is None or not self.ignore_symbols:
            return False
        return symbol in self.ignore_symbols or base_asset(symbol) in self.ignore_symbols

    def policy(self, rule: str) -> Policy:
        """How hard `rule` may act: unlisted rules (halted, ...) act as they are written."""
        return self.actions.get(rule, "reduce")

    def may(self, rule: str, kind: str) -> bool:
        """May `rule` send an order of this decision kind?"""
        policy = self.policy(rule)
        if kind in ("reduce", "close"):
            return policy == "reduce"
        if kind in ("place_stop", "replace_stop", "cancel_order"):
            return policy in ("protect", "reduce")
        return True

    def order_policy(self) -> str:
        """Which rules may send which orders, for `guardbot run`'s start-up line per account."""
        by: dict[str, list[str]] = {"reduce": [], "protect": [], "alert": []}
        for rule, policy in self.actions.items():
            by[policy].append(rule)
        words = {"reduce": "stops and cuts", "protect": "stops only", "alert": "alerts only"}
        return "; ".join(f"{words[p]}: {', '.join(rules)}" for p, rules in by.items() if rules)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float | int) and not isinstance(value, bool) and not math.isfinite(value):
                raise ValueError(f"guard.{f.name}: expected a finite number, got {value!r}")
        _ascending(
            "drawdown",
            ("halt", "reduce", "flatten"),
            self.drawdown_halt_pct,
            self.drawdown_reduce_pct,
            self.drawdown_flatten_pct,
        )
        _ascending(
            "margin_ratio",
            ("warn", "reduce", "flatten"),
            self.margin_ratio_warn,
            self.margin_ratio_reduce,
            self.margin_ratio_flatten,
        )
        if not 0 < self.margin_ratio_target < self.margin_ratio_reduce:
            raise ValueError(
                f"guard.margin_ratio_target: expected 0 < target < margin_ratio_reduce "
                f"({self.margin_ratio_reduce}), got {self.margin_ratio_target}"
            )
        if not 0 < self.liquidation_reduce_pct < self.liquidation_warn_pct:
            raise ValueError(
                f"guard.liquidation_reduce_pct: expected 0 < reduce < liquidation_warn_pct "
                f"({self.liquidation_warn_pct}), got {self.liquidation_reduce_pct}"
            )
        if not 0 < self.drawdown_reduce_fraction <= 1:
            raise ValueError(
                f"guard.drawdown_reduce_fraction: expected a fraction in (0, 1], "
                f"got {self.drawdown_reduce_fraction}"
            )
        if not 0 <= self.day_reset_hour_utc <= 23:
            raise ValueError(f"guard.day_reset_hour_utc: expected 0..23, got {self.day_reset_hour_utc}")
        if self.default_stop_pct <= 0 or self.stop_buffer_pct < 0:
            raise ValueError("guard.default_stop_pct must be > 0 and guard.stop_buffer_pct >= 0")
        if self.confirm_readings < 1 or self.blind_after_failures < 1:
            raise ValueError("guard.confirm_readings and guard.blind_after_failures must be >= 1")
        if self.leverage_hard < self.leverage_warn:
            raise ValueError(
                f"guard.leverage_hard ({self.leverage_hard}) must be >= leverage_warn ({self.leverage_warn})"
            )
        if self.halted_manual_position_policy not in ("alert", "close"):
            raise ValueError(
                f"guard.halted_manual_position_policy: expected 'alert' or 'close', "
                f"got {self.halted_manual_position_policy!r}"
            )
        if self.flatten_cancels not in ("all", "guardbot"):
            raise ValueError(
                f"guard.flatten_cancels: expected 'all' or 'guardbot', got {self.flatten_cancels!r}"
            )
        bad = [k for k in self.reduce_priority if k not in PRIORITY_KEYS]
        if bad:
            raise ValueError(f"guard.reduce_priority: unknown {bad}; expected items of {list(PRIORITY_KEYS)}")
        bad_policy = {r: p for r, p in self.actions.items() if p not in POLICIES}
        if bad_policy:
            raise ValueError(f"guard.actions: {bad_policy}; expected one of {', '.join(POLICIES)}")
        unknown = [s for s in self.sector_caps if s not in self.sectors]
        if unknown:
            raise ValueError(f"risk.sector_caps: sectors {unknown} are not defined in risk.sectors")

    @property
    def cooldown_ms(self) -> int:
        return int(self.resume_cooldown_minutes * 60_000)

    @property
    def grace_ms(self) -> int:
        return int(self.new_position_grace_s * 1000)

    @classmethod
    def from_config(cls, guard_cfg: GuardConfigLike, risk_cfg: RiskConfigLike) -> GuardLimits:
        """Limits from the [guard] and [risk] settings (exact field names of `guardbot.config`)."""
        g, r = guard_cfg, risk_cfg
        policy = g.halted_manual_position_policy
        if policy not in ("alert", "close"):
            raise ValueError(
                f"guard.halted_manual_position_policy: expected 'alert' or 'close', got {policy!r}"
            )
        return cls(
            drawdown_halt_pct=float(g.drawdown_halt_pct),
            drawdown_reduce_pct=float(g.drawdown_reduce_pct),
            drawdown_flatten_pct=float(g.drawdown_flatten_pct),
            drawdown_reduce_fraction=float(g.drawdown_reduce_fraction),
            daily_loss_halt_pct=float(g.daily_loss_halt_pct),
            day_reset_hour_utc=int(g.day_reset_hour_utc),
            margin_ratio_warn=float(g.margin_ratio_warn),
            margin_ratio_reduce=float(g.margin_ratio_reduce),
            margin_ratio_flatten=float(g.margin_ratio_flatten),
            margin_ratio_target=float(g.margin_ratio_target),
            liquidation_warn_pct=float(g.liquidation_warn_pct),
            liquidation_reduce_pct=float(g.liquidation_reduce_pct),
            stop_buffer_pct=float(g.stop_buffer_pct),
            default_stop_pct=float(g.default_stop_pct),
            new_position_grace_s=float(g.new_position_grace_s),
            confirm_readings=int(g.confirm_readings),
            resume_cooldown_minutes=float(g.resume_cooldown_minutes),
            blind_after_failures=int(g.blind_after_failures),
            max_snapshot_age_s=float(g.max_snapshot_age_s),
            halted_manual_position_policy="close" if policy == "close" else "alert",
            flatten_cancels="guardbot" if g.flatten_cancels == "guardbot" else "all",
            leverage_warn=float(g.leverage_warn),
            leverage_hard=float(g.leverage_hard),
            max_symbol_notional_pct=float(g.max_symbol_notional_pct),
            reduce_priority=_priority(g.reduce_priority),
            dust_notional=float(g.dust_notional),
            taker_fee=None if r.taker_fee is None else float(r.taker_fee),
            cluster_threshold=float(r.cluster_threshold),
            max_cluster_pct=float(r.max_cluster_pct),
            max_net_beta_pct=float(r.max_net_beta_pct),
            sectors={name: tuple(symbols) for name, symbols in r.sectors.items()},
            sector_caps={name: float(cap) for name, cap in r.sector_caps.items()},
            actions=_actions(g.actions),
        )


def _actions(section: object) -> dict[str, Policy]:
    out = dict(DEFAULT_ACTIONS)
    for rule in DEFAULT_ACTIONS:
        value = getattr(section, rule, None)
        if value is None:
            continue
        if value not in POLICIES:
            raise ValueError(f"guard.actions.{rule}: expected one of {', '.join(POLICIES)}, got {value!r}")
        out[rule] = next(p for p in POLICIES if p == value)
    return out


def _priority(items: Sequence[str]) -> tuple[PriorityKey, ...]:
    out: list[PriorityKey] = []
    for item in items:
        if item not in PRIORITY_KEYS:
            raise ValueError(
                f"guard.reduce_priority: unknown {item!r}; expected items of {list(PRIORITY_KEYS)}"
            )
        out.append(next(k for k in PRIORITY_KEYS if k == item))
    return tuple(out)


def _ascending(name: str, labels: tuple[str, str, str], a: float, b: float, c: float) -> None:
    if not 0 < a <= b <= c:
        raise ValueError(
            f"guard.{name}: expected 0 < {labels[0]} <= {labels[1]} <= {labels[2]}, got {a}, {b}, {c}"
        )
