"""Errors whose message is meant for the user: printed as one line each, never as a traceback.

This module sits at the bottom of the import graph (it imports nothing from guardbot), so any
layer can raise these without importing a front end.
"""

from __future__ import annotations

from collections.abc import Sequence


class ConfigError(Exception):
    """Bad configuration. ``problems`` holds one line per problem; ``str()`` joins them."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: list[str] = list(problems)
        super().__init__("\n".join(self.problems))

    def __str__(self) -> str:
        return "\n".join(self.problems)
