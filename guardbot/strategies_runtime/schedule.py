"""When a strategy runs (pure): `schedule = "bar"` runs it just after each close of its timeframe
(`BAR_DELAY_MS` later, so the exchange has the final bar), a period ("30s", "15m", "4h", "1d")
every that long, on the clock's grid (UTC)."""

from __future__ import annotations

import re

from guardbot.strategies_runtime.contract import timeframe_ms

BAR_DELAY_MS = 3_000
_PERIOD = re.compile(r"^([1-9][0-9]*)([smhd])$")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def period_of(schedule: str, timeframe: str) -> tuple[int, int]:
    """(period, offset) in ms: runs happen at offset + k * period."""
    if schedule == "bar":
        return timeframe_ms(timeframe), BAR_DELAY_MS
    m = _PERIOD.fullmatch(schedule)
    if m is None:
        raise ValueError(f'schedule must be "bar" or a period like "30s" or "15m", got {schedule!r}')
    return int(m.group(1)) * _UNIT_MS[m.group(2)], 0


def next_run(now_ms: int, period_ms: int, offset_ms: int) -> int:
    """The first run time strictly after `now_ms`."""
    k = (now_ms - offset_ms) // period_ms + 1
    return offset_ms + k * period_ms
