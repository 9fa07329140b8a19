"""The configuration in force, with secrets masked: as JSON-able data and as TOML text."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from guardbot.config.schema import Settings
from guardbot.config.secrets import file_var, resolve_secret

MASKED = "**********"
UNSET = "(unset)"

_STATUS_KEYS = {  # *_env field -> key showing whether its secret is present
    "api_key_env": "api_key",
    "api_secret_env": "api_secret",
    "password_env": "password",
    "private_key_env": "private_key",
    "bot_token_env": "bot_token",
}


def _secret_status(name: str | None, environ: Mapping[str, str]) -> str | None:
    if name is None:
        return None
    secret, problem = resolve_secret(name, environ, "")
    if secret is not None:
        return MASKED
    if environ.get(name) is not None or environ.get(file_var(name)) is not None:
        return f"(unreadable: {problem.split(':')[0] if problem else name})"
    return UNSET


def _with_status(section: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in section.items():
        out[key] = value
        if key in _STATUS_KEYS and value is not None:
            out[_STATUS_KEYS[key]] = _secret_status(value, environ)
    return out


def effective_config(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The configuration in force, JSON-able. Secrets appear only as "**********" (present) or
    "(unset)", next to the names of the variables that hold them. `environ` defaults to the
    environment the settings were loaded from."""
    env = settings.environ if environ is None else environ
    data = settings.model_dump(mode="json")
    return {
        "source": str(settings.source) if settings.source else None,
        "accounts": [_with_status(a, env) for a in data["accounts"]],
        "risk": data["risk"],
        "guard": data["guard"],
        "telegram": _with_status(data["telegram"], env),
        "storage": data["storage"],
        "schedule": data["schedule"],
        "entries": data["entries"],
        "strategies": data["strategies"],
    }


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot render {type(value).__name__}")


def _toml_table(header: str, table: dict[str, Any], lines: list[str], array: bool = False) -> None:
    lines.append("")
    lines.append(f"[[{header}]]" if array else f"[{header}]")
    subtables = {k: v for k, v in table.items() if isinstance(v, dict) and v}
    secret_keys = set(_STATUS_KEYS.values())
    for key, value in table.items():
        if key in subtables:
            continue
        if key in secret_keys:
            lines.append(f"# {key} = {value}")  # a comment, so the output still loads as a config file
        elif value is None:
            lines.append(f"# {key} = (not set)")
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in subtables.items():
        _toml_table(f"{header}.{_toml_key(key)}", value, lines)


def render_effective_config(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    """`effective_config` as TOML text (it loads back as the same configuration)."""
    data = effective_config(settings, environ)
    source = data.pop("source")
    lines = [
        "# guardbot effective configuration",
        f"# source: {source}" if source else "# source: no config file (defaults and GUARDBOT_* variables)",
        "# secrets are never shown: ********** = present, (unset) = missing",
    ]
    if not data["accounts"]:
        lines += ["", "# no [[accounts]] configured"]
    for account in data.pop("accounts"):
        _toml_table("accounts", account, lines, array=True)
    strategies = data.pop("strategies")
    for section, table in data.items():
        _toml_table(section, table, lines)
    for strategy in strategies:  # arrays of tables last: a [table] after them would nest in one
        _toml_table("strategies", strategy, lines, array=True)
    return "\n".join(lines) + "\n"
