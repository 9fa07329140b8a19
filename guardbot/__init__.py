"""guardbot: a guard for cross-margin crypto perpetual-futures accounts."""

__version__ = "0.1.0"
