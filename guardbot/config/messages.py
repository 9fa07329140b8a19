"""One line per problem: ``<file or env var>: <dotted.path>: <message> (got <value>)``.

Turns pydantic's validation errors into those lines, naming the environment variable when a value
(or a value it is compared with) came from the environment.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from guardbot.config.environment import EnvVars, Loc, annotation_at
from guardbot.config.fields import RULES_ERROR, num


def dotted(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else json.dumps(part)
            out += f".{text}" if out else text
    return out


def _show(value: Any, raw: bool) -> str:
    if raw and isinstance(value, str):
        return value if value else '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return num(value)
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


_HIDE_VALUE = {"missing", "extra_forbidden", "model_type", "model_attributes_type", "dict_type"}


def _message(error: Any, loc: Loc) -> str:
    kind: str = error["type"]
    ctx: dict[str, Any] = error.get("ctx") or {}
    simple = {
        "missing": "is required",
        "finite_number": "must be a finite number",
        "float_parsing": "must be a number",
        "float_type": "must be a number",
        "int_parsing": "must be a whole number",
        "int_type": "must be a whole number",
        "int_from_float": "must be a whole number",
        "bool_parsing": "must be true or false",
        "bool_type": "must be true or false",
        "string_type": "must be a string (in quotes)",
        "dict_type": "must be a table",
        "model_type": "must be a table",
        "model_attributes_type": "must be a table",
    }
    if kind in simple:
        return simple[kind]
    if kind == "greater_than":
        return f"must be greater than {num(ctx['gt'])}"
    if kind == "greater_than_equal":
        return f"must be at least {num(ctx['ge'])}"
    if kind == "less_than":
        return f"must be less than {num(ctx['lt'])}"
    if kind == "less_than_equal":
        return f"must be at most {num(ctx['le'])}"
    if kind == "too_short":
        count = ctx.get("min_length", 1)
        return "must not be empty" if count == 1 else f"must have at least {count} items"
    if kind == "literal_error":
        return "must be one of " + str(ctx.get("expected", "")).replace("'", '"')
    if kind == "list_type":
        return (
            "must be a list of tables; write one [[accounts]] table per account"
            if loc == ("accounts",)
            else ("must be a list")
        )
    if kind == "extra_forbidden":
        parent = annotation_at(loc[:-1])
        names: list[str] = []
        if isinstance(parent, type) and issubclass(parent, BaseModel):
            names = list(parent.model_fields)
        close = difflib.get_close_matches(str(loc[-1]), names, n=1)
        if close:
            return f'unknown key; did you mean "{close[0]}"?'
        return "unknown key" + (f"; expected one of: {', '.join(names)}" if 0 < len(names) <= 8 else "")
    message: str = error["msg"]
    message = message.removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def format_errors(exc: ValidationError, label: str, env_vars: EnvVars) -> list[str]:
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        loc: Loc = tuple(error["loc"])
        if error["type"] == RULES_ERROR:
            for sub_loc, message, value, related in error["ctx"]["problems"]:
                full = (*loc, *sub_loc)
                lines.append(
                    _line(label, env_vars, full, message, value, True, [full, *((*loc, *r) for r in related)])
                )
            continue
        shown = error["type"] not in _HIDE_VALUE and not str(loc[-1] if loc else "").endswith("_env")
        lines.append(_line(label, env_vars, loc, _message(error, loc), error.get("input"), shown, [loc]))
    return lines


def _line(
    label: str, env_vars: EnvVars, loc: Loc, message: str, value: Any, shown: bool, locs: Sequence[Loc]
) -> str:
    """One problem line, naming the environment variable when the value (or a related one) came from it."""
    own = env_vars.origin([loc])
    related = None if own else env_vars.origin(locs)
    if own is not None:
        head = own[0] if own[1] else f"{own[0]}: {dotted(loc)}"
    elif related is not None:
        head = f"{related[0]}: {dotted(loc)}"
    else:
        head = f"{label}: {dotted(loc)}"
    got = f" (got {_show(value, raw=own is not None)})" if shown else ""
    return f"{head}: {message}{got}"
