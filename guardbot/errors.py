"""Errors whose message is meant for the user: printed as one line each, never as a traceback.

This module sits at the bottom of the import graph (it imports nothing from guardbot), so any
layer can raise these without importing a front end.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence


class ConfigError(Exception):
    """Bad configuration. ``problems`` holds one line per problem; ``str()`` joins them."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: list[str] = list(problems)
        super().__init__("\n".join(self.problems))

    def __str__(self) -> str:
        return "\n".join(self.problems)


class UserError(Exception):
    """A mistake the user can fix; printed as one line."""


class NotReady(UserError):
    """The account cannot be looked at or acted on yet (no snapshot, the journal not open): the
    message says why and is the whole answer."""


@functools.cache
def one_line_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that carry a message meant for the user (printed without a traceback).

    Each class lives with the code that raises it; they are imported only when this is first
    called, so importing this module never pulls in (or cycles back into) the rest of guardbot.
    """
    from guardbot.exchange.errors import ExchangeSetupError, SnapshotError
    from guardbot.risk.margin import MissingTiersError
    from guardbot.risk.sizing import SizingError
    from guardbot.snapshot_file import SnapshotFileError
    from guardbot.store import JournalError

    return (
        UserError,
        ConfigError,
        SnapshotFileError,
        SizingError,
        MissingTiersError,
        JournalError,
        SnapshotError,
        ExchangeSetupError,
    )


# Where the other one-line errors live (module -> class names), for `is_one_line`.
_ELSEWHERE = {
    "guardbot.exchange.errors": ("ExchangeSetupError", "SnapshotError"),
    "guardbot.risk.margin": ("MissingTiersError",),
    "guardbot.risk.sizing": ("SizingError",),
    "guardbot.snapshot_file": ("SnapshotFileError",),
    "guardbot.store.schema": ("JournalError",),
}


def is_one_line(exc: BaseException) -> bool:
    """`isinstance(exc, one_line_errors())` without importing anything: an error class whose module
    was never imported cannot have been raised. (The CLI's error boundary uses this, so a typo does
    not cost the second it takes to import ccxt.)"""
    if isinstance(exc, UserError | ConfigError):
        return True
    for module, names in _ELSEWHERE.items():
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(exc, tuple(getattr(loaded, n) for n in names)):
            return True
    return False
