"""Decimal strings for JSON replies.

Decimals are written with the float's shortest exact representation (not a venue's fixed places),
so a client that parses them gets back the engine's own floats bit for bit: that is what lets tests
compare the guard's view with the engine's books at 1e-9.
"""

from __future__ import annotations

from decimal import Decimal


def fmt(x: float) -> str:
    """A decimal string without exponent; "0" for zero."""
    if x == 0:
        return "0"
    s = repr(float(x))
    if "e" in s or "E" in s:
        s = format(Decimal(s), "f")
    return s[:-2] if s.endswith(".0") else s


def num(x: float) -> int | float:
    """A JSON number: an int when the float is whole."""
    return int(x) if float(x).is_integer() else x
