"""The guard: pure rules that turn (snapshot, figures, persisted state, limits, now) into decisions.

No I/O, no clock, no imports of guardbot.exchange / store / notify: the daemon executes the order
decisions through the gateway and journals everything.
"""

from guardbot.guard.decisions import Decision, DecisionKind, Level
from guardbot.guard.engine import evaluate, evaluate_blind
from guardbot.guard.limits import GuardLimits
from guardbot.guard.planner import Cut, ReductionPlan, apply_cuts, plan_reduction
from guardbot.guard.state import GuardState, entry_allowed, initial_state, lock, resume, set_paused
from guardbot.guard.whatif import apply_cut

__all__ = [
    "Cut",
    "Decision",
    "DecisionKind",
    "GuardLimits",
    "GuardState",
    "Level",
    "ReductionPlan",
    "apply_cut",
    "apply_cuts",
    "entry_allowed",
    "evaluate",
    "evaluate_blind",
    "initial_state",
    "lock",
    "plan_reduction",
    "resume",
    "set_paused",
]
