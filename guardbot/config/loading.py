"""`load_settings`: the TOML file, the GUARDBOT_* overrides merged over it, validated at once.

The file is chosen as: explicit path (``--config``), else ``$GUARDBOT_CONFIG``, else ``./guardbot.toml``
(only that last one may be absent: then the defaults apply, with no accounts).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, get_origin

from pydantic import ValidationError
from pydantic_settings import SettingsError

from guardbot.config.environment import (
    CONFIG_ENV,
    EnvVars,
    Loc,
    MappingEnvSource,
    annotation_at,
    decode_nested,
    env_problems,
    unwrap,
)
from guardbot.config.messages import dotted, format_errors
from guardbot.config.schema import ENV_PREFIX, NESTING, Settings
from guardbot.config.secrets import SECRET_KEYS
from guardbot.errors import ConfigError

DEFAULT_CONFIG_FILE = "guardbot.toml"


def _take_secrets(data: Any, loc: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Remove secret-looking keys from the raw data in place; yield (location, *_env key to use).
    Keys of user tables (risk.sectors, risk.sector_caps) are names, not settings, and are left alone."""
    if isinstance(data, dict):
        if get_origin(unwrap(annotation_at(loc))) is dict:
            return
        for key in list(data):
            if isinstance(key, str) and key.lower() in SECRET_KEYS:
                del data[key]
                yield (*loc, key), SECRET_KEYS[key.lower()]
            else:
                yield from _take_secrets(data[key], (*loc, key))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from _take_secrets(item, (*loc, i))


def _choose_file(path: str | Path | None, environ: Mapping[str, str]) -> tuple[Path, bool]:
    """(file, explicit). An explicit file must exist; the default one may be absent."""
    if path is not None and str(path) != "":
        return Path(path), True
    from_env = environ.get(CONFIG_ENV)
    if from_env:
        return Path(from_env), True
    return Path(DEFAULT_CONFIG_FILE), False


def _read_toml(file: Path, label: str, explicit: bool) -> dict[str, Any] | None:
    if not file.exists():
        if explicit:
            raise ConfigError([f"{label}: config file not found"])
        return None
    if file.is_dir():
        raise ConfigError([f"{label}: is a directory, expected a TOML file"])
    try:
        text = file.read_text(encoding="utf-8-sig")  # tolerate a BOM from Windows editors
    except OSError as exc:
        raise ConfigError([f"{label}: cannot read: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{label}: not a UTF-8 text file"]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{label}: invalid TOML: {exc}"]) from None


def _merge(base: Any, over: Any, loc: Loc, env_vars: EnvVars, problems: list[str]) -> Any:
    """Deep-merge environment values over file values. A dict of digit keys over a list overrides
    single items: GUARDBOT_ACCOUNTS__0__DRY_RUN=false."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge(base.get(key), value, (*loc, key), env_vars, problems)
        return out
    index_keys = isinstance(over, dict) and over and all(isinstance(k, str) and k.isdigit() for k in over)
    if index_keys and get_origin(unwrap(annotation_at(loc))) is list:
        items = list(base) if isinstance(base, list) else []
        for key, value in over.items():
            index = int(key)
            if index >= len(items):
                origin = env_vars.origin([(*loc, key)])
                names = origin[0] if origin else ENV_PREFIX + "…"
                problems.append(
                    f"{names}: there is no {dotted(loc)}[{index}] to override "
                    f"(the config file defines {len(items)}); set "
                    f"{ENV_PREFIX}{NESTING.join(map(str, loc)).upper()} to a JSON list instead"
                )
                continue
            items[index] = _merge(items[index], value, (*loc, index), env_vars, problems)
        return items
    return over


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Load and validate the configuration. Raises ConfigError listing every problem found.

    `path` is the --config argument; `environ` defaults to os.environ and is the only environment read
    (for GUARDBOT_CONFIG and the GUARDBOT_* overrides).
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    file, explicit = _choose_file(path, env)
    label = str(file)
    data = _read_toml(file, label, explicit)
    file_data: dict[str, Any] = {} if data is None else data

    env_vars = EnvVars.scan(env)
    clean_env, problems = env_problems(env, env_vars)
    try:
        env_data = decode_nested(MappingEnvSource(Settings, clean_env)())
    except SettingsError as exc:  # a case env_problems did not foresee; still one line, no traceback
        raise ConfigError([*problems, f"environment: {exc}"]) from None

    for loc, env_key in _take_secrets(file_data):
        problems.append(
            f"{label}: {dotted(loc)}: secrets are not read from the config file; "
            f'set {env_key} = "NAME" and export NAME'
        )
    for loc, env_key in _take_secrets(env_data):
        origin = env_vars.origin([loc])
        problems.append(
            f"{origin[0] if origin else 'environment'}: secrets are not read from {ENV_PREFIX}* settings; "
            f"put it in the variable named by {dotted((*loc[:-1], env_key))} and export that"
        )

    merged = _merge(file_data, env_data, (), env_vars, problems)
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        problems.extend(format_errors(exc, label if data is not None else "settings", env_vars))
    if problems or settings is None:
        raise ConfigError(problems)
    settings._source = file.absolute() if data is not None else None
    settings._environ = env
    return settings
