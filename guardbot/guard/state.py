"""Persisted guard state of one account, and the trading-state helpers built on it.

The state is a frozen value: `evaluate` returns a new one, the daemon stores it (`to_dict`, JSON)
and feeds it back next cycle, so locks, high-water marks, hysteresis counters and alert episodes
survive restarts.

Keys used in the mappings (strings, stable across versions):
- `first_seen_ms`: "pos|<symbol>|<side>" (a position, for the grace period), "order|<id>" (an
  orphan stop, for its grace period), "cond|<condition key>" (start of an active condition: the
  timestamp in its episode id).
- `consecutive`: "<condition key>@<level>" -> consecutive readings at or beyond that level.
- `active_conditions`: "<condition key>=<level>" for every condition that has been alerted.
- `targets`: "<symbol>|<side>" -> contracts to keep, set when a drawdown reduce/flatten trips.
- `last_legs`: "<symbol>|<side>" -> (contracts, entry, mark) at the last good snapshot.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from guardbot.domain import TradingState
from guardbot.guard.limits import GuardLimits

STATE_VERSION = 1
LOCK_LEVELS = ("halt", "reduce", "flatten")


def pending_confirmation(consecutive: Mapping[str, int], need: int) -> bool:
    """Has the guard seen a level beyond fewer times in a row than it needs to act
    (`confirm_readings`)? The confirming readings are then taken at once, back to back (each a
    fresh snapshot), not an interval later: by the scheduled cycle and by a streamed trigger."""
    return any(0 < n < need for n in consecutive.values())


@dataclass(frozen=True)
class GuardState:
    trading_state: TradingState = TradingState.ACTIVE
    high_water_mark: float | None = None
    day_start_equity: float | None = None
    day_start_ms: int | None = None
    lock_reason: str | None = None  # set while a lock holds the account HALTED
    locked_until_ms: int | None = None  # earliest time `resume` may unlock
    paused: bool = False  # entries paused by the user (no lock, no cool-down)
    consecutive: Mapping[str, int] = field(default_factory=dict)
    first_seen_ms: Mapping[str, int] = field(default_factory=dict)
    active_conditions: frozenset[str] = frozenset()
    failures: int = 0  # consecutive failed snapshots
    last_ok_ms: int | None = None  # time of the last good snapshot
    lock_level: str | None = None  # "halt" | "reduce" | "flatten": how far the lock has gone
    locked_at_ms: int | None = None
    targets: Mapping[str, float] = field(default_factory=dict)
    recent_equity: tuple[float, ...] = ()  # last readings; the HWM only rises to their minimum
    # cash flows: what the wallet and the book looked like last time, to tell a transfer from PnL
    last_wallet: float | None = None
    last_legs: Mapping[str, tuple[float, float, float]] = field(
        default_factory=dict
    )  # contracts, entry, mark
    flow_ids: tuple[str, ...] = ()  # ledger ids already accounted for (the latest ones)
    flow_cursor_ms: int | None = None  # read the venue's ledger from here on
    unexplained_cycles: int = 0  # cycles the wallet has moved with no trade and no ledger entry

    @property
    def locked(self) -> bool:
        return self.lock_reason is not None

    @property
    def blind(self) -> bool:
        return any(c.startswith("blind|") for c in self.active_conditions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "trading_state": self.trading_state.value,
            "high_water_mark": self.high_water_mark,
            "day_start_equity": self.day_start_equity,
            "day_start_ms": self.day_start_ms,
            "lock_reason": self.lock_reason,
            "locked_until_ms": self.locked_until_ms,
            "paused": self.paused,
            "consecutive": dict(sorted(self.consecutive.items())),
            "first_seen_ms": dict(sorted(self.first_seen_ms.items())),
            "active_conditions": sorted(self.active_conditions),
            "failures": self.failures,
            "last_ok_ms": self.last_ok_ms,
            "lock_level": self.lock_level,
            "locked_at_ms": self.locked_at_ms,
            "targets": dict(sorted(self.targets.items())),
            "recent_equity": list(self.recent_equity),
            "last_wallet": self.last_wallet,
            "last_legs": {k: list(v) for k, v in sorted(self.last_legs.items())},
            "flow_ids": list(self.flow_ids),
            "flow_cursor_ms": self.flow_cursor_ms,
            "unexplained_cycles": self.unexplained_cycles,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GuardState:
        """Read a stored state; a malformed one raises ValueError naming the field."""
        version = data.get("version", STATE_VERSION)
        if version != STATE_VERSION:
            raise ValueError(f"guard state: version {version!r} is not supported (expected {STATE_VERSION})")
        try:
            trading_state = TradingState(data.get("trading_state", "ACTIVE"))
        except ValueError:
            raise ValueError(
                f"guard state: trading_state {data.get('trading_state')!r} "
                "is not one of ACTIVE, REDUCING, HALTED"
            ) from None
        lock_level = data.get("lock_level")
        if lock_level is not None and lock_level not in LOCK_LEVELS:
            raise ValueError(f"guard state: lock_level {lock_level!r} is not one of {', '.join(LOCK_LEVELS)}")
        try:
            return cls(
                trading_state=trading_state,
                high_water_mark=_opt_float(data.get("high_water_mark")),
                day_start_equity=_opt_float(data.get("day_start_equity")),
                day_start_ms=_opt_int(data.get("day_start_ms")),
                lock_reason=data.get("lock_reason"),
                locked_until_ms=_opt_int(data.get("locked_until_ms")),
                paused=bool(data.get("paused", False)),
                consecutive={str(k): int(v) for k, v in dict(data.get("consecutive") or {}).items()},
                first_seen_ms={str(k): int(v) for k, v in dict(data.get("first_seen_ms") or {}).items()},
                active_conditions=frozenset(str(c) for c in data.get("active_conditions") or ()),
                failures=int(data.get("failures", 0)),
                last_ok_ms=_opt_int(data.get("last_ok_ms")),
                lock_level=lock_level,
                locked_at_ms=_opt_int(data.get("locked_at_ms")),
                targets={str(k): float(v) for k, v in dict(data.get("targets") or {}).items()},
                recent_equity=tuple(float(x) for x in data.get("recent_equity") or ()),
                last_wallet=_opt_float(data.get("last_wallet")),
                last_legs={
                    str(k): (float(v[0]), float(v[1]), float(v[2]))
                    for k, v in dict(data.get("last_legs") or {}).items()
                },
                flow_ids=tuple(str(x) for x in data.get("flow_ids") or ()),
                flow_cursor_ms=_opt_int(data.get("flow_cursor_ms")),
                unexplained_cycles=int(data.get("unexplained_cycles", 0)),
            )
        except (TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"guard state: malformed value ({exc})") from None

    @classmethod
    def from_json(cls, text: str) -> GuardState:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"guard state: not valid JSON ({exc.msg} at char {exc.pos})") from None
        if not isinstance(data, dict):
            raise ValueError("guard state: expected a JSON object")
        return cls.from_dict(data)


def _opt_float(x: Any) -> float | None:
    return None if x is None else float(x)


def _opt_int(x: Any) -> int | None:
    return None if x is None else int(x)


def initial_state() -> GuardState:
    return GuardState()


def entry_allowed(state: GuardState) -> tuple[bool, str]:
    """Whether a new entry (sizing, `/open`, a strategy) may be sent, and why not."""
    if state.trading_state is TradingState.HALTED or state.locked:
        why = state.lock_reason or "trading is halted"
        return False, f"HALTED: new entries refused ({why}); unlock with /resume after the cool-down"
    if state.trading_state is TradingState.REDUCING:
        return (
            False,
            "REDUCING: guardbot is cutting risk, new entries refused until the account is back in limits",
        )
    if state.blind:
        return False, "guardbot cannot see the account (snapshots failing): new entries refused"
    if state.paused:
        return False, "entries are paused by the user (/resume to allow them again)"
    return True, "ACTIVE"


def lock(state: GuardState, now_ms: int, limits: GuardLimits, reason: str, level: str = "halt") -> GuardState:
    """Lock the account HALTED (a drawdown level, a flatten, or a user's /halt).

    A lock only ever escalates: a later, higher level replaces the reason and restarts the cool-down;
    a lower one leaves the lock as it is.
    """
    if level not in LOCK_LEVELS:
        raise ValueError(f"lock level {level!r}: expected one of {', '.join(LOCK_LEVELS)}")
    if state.locked and LOCK_LEVELS.index(state.lock_level or "halt") >= LOCK_LEVELS.index(level):
        return state
    return replace(
        state,
        trading_state=TradingState.HALTED,
        lock_reason=reason,
        lock_level=level,
        locked_at_ms=state.locked_at_ms if state.locked else now_ms,
        locked_until_ms=now_ms + limits.cooldown_ms,
    )


def resume(state: GuardState, now_ms: int, limits: GuardLimits) -> tuple[bool, str, GuardState]:
    """Explicit unlock (the /resume command). Refused before the cool-down has passed.

    Resuming re-bases the drawdown: the high-water mark and the day-start equity are taken again
    from the next reading, otherwise the same drawdown would lock the account again at once.
    """
    if not state.locked:
        if state.trading_state is TradingState.HALTED:
            return (
                True,
                "not locked: trading state set back to ACTIVE",
                replace(state, trading_state=TradingState.ACTIVE),
            )
        return False, f"not locked (trading state {state.trading_state.value})", state
    until = state.locked_until_ms or 0
    if now_ms < until:
        minutes = (until - now_ms) / 60_000
        return (
            False,
            f"resume refused: cool-down has {minutes:.0f} min left (locked for: {state.lock_reason})",
            state,
        )
    reason = f"resumed after lock: {state.lock_reason}"
    new = replace(
        state,
        trading_state=TradingState.ACTIVE,
        lock_reason=None,
        lock_level=None,
        locked_at_ms=None,
        locked_until_ms=None,
        high_water_mark=None,
        day_start_equity=None,
        recent_equity=(),
        targets={},
        consecutive={k: v for k, v in state.consecutive.items() if not k.startswith("drawdown|")},
    )
    return True, reason, new


def set_paused(state: GuardState, paused: bool) -> GuardState:
    return replace(state, paused=paused)


def day_start_of(now_ms: int, reset_hour_utc: int) -> int:
    """Start (epoch ms) of the trading day holding `now_ms`, days starting at `reset_hour_utc`."""
    offset = reset_hour_utc * 3_600_000
    return (now_ms - offset) // 86_400_000 * 86_400_000 + offset
