"""Checking values on their way into the journal, and turning stored rows back into row types.

Bad input is refused with one line naming the field and what was expected, before anything is
written, so a caller's bug never leaves a half-written row.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar

from guardbot.redaction import redact
from guardbot.store.rows import (
    ActionKind,
    ActionRow,
    ActionStatus,
    AlertLevel,
    AlertRow,
    DecisionRow,
    Delivery,
    EventRow,
    GuardStateRow,
    JsonDict,
    OrderState,
    PositionRow,
    SnapshotRow,
    TransitionRow,
)

E = TypeVar("E", bound=StrEnum)

REPLY_MAX_CHARS = 2000


def now_ms() -> int:
    return int(time.time() * 1000)


def columns(row_type: type[Any]) -> str:
    """Explicit column list for a SELECT, so columns added by later migrations do not break old rows."""
    return ", ".join(f.name for f in dataclasses.fields(row_type))


# --- checks -----------------------------------------------------------------------------------


def text(field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"journal: {field} must be a non-empty string, got {value!r}")
    return value


def prose(field: str, value: object) -> str:
    """Text for a person (a reason, an alert, an event): exchange URLs and signatures stripped."""
    return redact(text(field, value))


def opt_text(field: str, value: object) -> str | None:
    return None if value is None else text(field, value)


def ts(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"journal: {field} must be epoch milliseconds (a non-negative int), got {value!r}")
    return value


def opt_ts(field: str, value: object) -> int | None:
    return None if value is None else ts(field, value)


def number(field: str, value: object, *, allow_inf: bool = False) -> float:
    """A real number; NaN is always refused (SQLite would store it as NULL and lose the row's meaning)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"journal: {field} must be a number, got {value!r}")
    x = float(value)
    if math.isnan(x) or (math.isinf(x) and not allow_inf):
        raise ValueError(f"journal: {field} must be a finite number, got {value!r}")
    return x


def opt_number(field: str, value: object, *, allow_inf: bool = False) -> float | None:
    return None if value is None else number(field, value, allow_inf=allow_inf)


def choice(enum: type[E], field: str, value: object) -> E:
    try:
        return enum(value)  # type: ignore[arg-type]  # a wrong type is reported like a wrong value
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise ValueError(f"journal: {field} must be one of {allowed}, got {value!r}") from None


def _json_safe(value: Any) -> Any:
    # SQLite's JSON functions reject Infinity/NaN, so users' json_extract() queries would fail.
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def to_json(field: str, value: Mapping[str, Any] | None) -> str:
    if value is None:
        return "{}"
    if not isinstance(value, Mapping):
        raise ValueError(f"journal: {field} must be a mapping (JSON object), got {type(value).__name__}")
    return json.dumps(_json_safe(value), sort_keys=True, separators=(",", ":"), allow_nan=False, default=str)


def reply_text(value: str | Mapping[str, Any] | None) -> str | None:
    if value is None:
        return None
    out = redact(value) if isinstance(value, str) else to_json("reply", value)
    return out if len(out) <= REPLY_MAX_CHARS else out[: REPLY_MAX_CHARS - 1] + "…"


def from_json(raw: object) -> JsonDict:
    if raw is None or raw == "":
        return {}
    value = json.loads(str(raw))
    return value if isinstance(value, dict) else {"value": value}


# --- decoders (row dict from sqlite-utils -> row type) ----------------------------------------


def snapshot_row(d: Mapping[str, Any]) -> SnapshotRow:
    return SnapshotRow(**d)


def position_row(d: Mapping[str, Any]) -> PositionRow:
    return PositionRow(**d)


def decision_row(d: Mapping[str, Any]) -> DecisionRow:
    return DecisionRow(**{**d, "details": from_json(d["details"])})


def action_row(d: Mapping[str, Any]) -> ActionRow:
    return ActionRow(
        **{
            **d,
            "kind": ActionKind(d["kind"]),
            "status": ActionStatus(d["status"]),
            "dry_run": bool(d["dry_run"]),
            "order_state": None if d.get("order_state") is None else OrderState(d["order_state"]),
        }
    )


def alert_row(d: Mapping[str, Any]) -> AlertRow:
    return AlertRow(**{**d, "level": AlertLevel(d["level"]), "delivered": Delivery(d["delivered"])})


def transition_row(d: Mapping[str, Any]) -> TransitionRow:
    return TransitionRow(**d)


def guard_state_row(d: Mapping[str, Any]) -> GuardStateRow:
    extra = d["extra"]
    return GuardStateRow(
        **{**d, "paused": bool(d["paused"]), "extra": None if extra is None else from_json(extra)}
    )


def event_row(d: Mapping[str, Any]) -> EventRow:
    return EventRow(**{**d, "details": from_json(d["details"])})
