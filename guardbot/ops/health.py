"""`/healthz`: 200 while every account's last good snapshot is younger than its bound, else 503.

The bound is `guard.max_snapshot_age_s`, the one the daemon's watchdog alerts on: a container
orchestrator restarting guardbot and a person reading the late-snapshot alert then agree on what
"not watching" means. Before an account's first good snapshot its age counts from the guard's
start (as the watchdog counts), so a daemon that never reaches an exchange turns unhealthy after
the same bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from guardbot.cycle import AccountGuard


def health_check(guards: Sequence[AccountGuard], now_ms: int) -> tuple[int, str]:
    """(HTTP status, one line): the stalest account over its bound, or "ok"."""
    if not guards:
        return 503, "starting: no account is guarded yet"
    worst: tuple[float, str] | None = None
    for g in guards:
        last = g.state.last_ok_ms if g.state.last_ok_ms is not None else g.started_ms
        bound_s = g.limits.max_snapshot_age_s
        age_s = (now_ms - last) / 1000 if last is not None else float("inf")
        if age_s > bound_s:
            line = (
                f"stale: {g.name} last good snapshot {age_s:.0f}s ago (max {bound_s:g}s)"
                if g.state.last_ok_ms is not None
                else f"stale: {g.name} no good snapshot in {age_s:.0f}s since start (max {bound_s:g}s)"
            )
            if worst is None or age_s - bound_s > worst[0]:
                worst = (age_s - bound_s, line)
    if worst is not None:
        return 503, worst[1]
    return 200, f"ok: {len(guards)} account(s) seen within their bound"
