"""The SQLite journal: snapshots (sampled, see sampling.py), every decision, action, alert and state
change, in one file.

`Journal` is the single writer (async, for the daemon; `*_sync` twins for scripts), `JournalReader`
a read-only view for the CLI. The schema is documented in docs/journal.md and only migrates forward.
"""

from guardbot.store.journal import Journal, JournalReader
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
    HistoryItem,
    HistoryKind,
    PositionRow,
    SnapshotRow,
    TransitionRow,
)
from guardbot.store.sampling import SamplingPolicy
from guardbot.store.schema import CURRENT_VERSION, JournalError
from guardbot.store.snapshots import FIGURE_KEYS
from guardbot.store.writes import ActionConflictError

__all__ = [
    "CURRENT_VERSION",
    "FIGURE_KEYS",
    "ActionConflictError",
    "ActionKind",
    "ActionRow",
    "ActionStatus",
    "AlertLevel",
    "AlertRow",
    "DecisionRow",
    "Delivery",
    "EventRow",
    "GuardStateRow",
    "HistoryItem",
    "HistoryKind",
    "Journal",
    "JournalError",
    "JournalReader",
    "PositionRow",
    "SamplingPolicy",
    "SnapshotRow",
    "TransitionRow",
]
