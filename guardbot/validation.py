"""Turn pydantic validation errors into one line per problem: `file: dotted.path: message (got value)`."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError


def dotted(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _got(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def error_lines(source: str, err: ValidationError) -> list[str]:
    lines = []
    for e in err.errors(include_url=False):
        loc = [p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (typo?)"
        elif e["type"] == "missing":
            msg = "required key is missing"
        elif msg.startswith("Value error, "):
            msg = msg.removeprefix("Value error, ")
        msg = msg[0].lower() + msg[1:] if msg else msg
        got = "" if e["type"] in ("missing", "extra_forbidden") else f" (got {_got(e.get('input'))})"
        lines.append(f"{source}: {dotted(loc)}: {msg}{got}")
    return lines
