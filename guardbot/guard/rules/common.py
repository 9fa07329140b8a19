"""Small helpers shared by several rules."""

from __future__ import annotations

from guardbot.guard.context import LEVEL_RANK, Work
from guardbot.guard.state import lock


def lock_account(w: Work, level: str, reason: str) -> None:
    """Lock HALTED at `level` unless an equal or higher lock already holds."""
    st = w.next_state
    if st.locked and LEVEL_RANK[st.lock_level or "halt"] >= LEVEL_RANK[level]:
        return
    w.next_state = lock(st, w.now_ms, w.limits, reason, level)
