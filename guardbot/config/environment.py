"""GUARDBOT_* variables: which setting each one names, and the type found at that place in `Settings`."""

from __future__ import annotations

import json
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_settings import BaseSettings, EnvSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

from guardbot.config.schema import ENV_PREFIX, NESTING, NONE_STR, Settings

CONFIG_ENV = "GUARDBOT_CONFIG"


class MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading a given mapping instead of os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._mapping = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._mapping, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


Loc = tuple[str | int, ...]


def unwrap(annotation: Any) -> Any:
    """Strip Annotated[...] and Optional[...]."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def annotation_at(path: Sequence[str | int]) -> Any:
    """The type at a location inside Settings (list indices and dict keys allowed), or None."""
    annotation: Any = Settings
    for part in path:
        annotation = unwrap(annotation)
        origin = get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part).lower())
            if field is None:
                return None
            annotation = field.annotation
        elif origin is list and (isinstance(part, int) or str(part).isdigit()):
            annotation = get_args(annotation)[0]
        elif origin is dict:
            annotation = get_args(annotation)[1]
        else:
            return None
    return annotation


def is_complex(annotation: Any) -> bool:
    annotation = unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return get_origin(annotation) in (list, dict)


@dataclass(frozen=True, slots=True)
class EnvVars:
    """GUARDBOT_* variables by their lower-cased path below the prefix, e.g. ("risk", "max_leverage")."""

    by_path: dict[tuple[str, ...], str]

    @classmethod
    def scan(cls, environ: Mapping[str, str]) -> EnvVars:
        prefix = ENV_PREFIX.lower()
        return cls(
            {
                tuple(key.lower()[len(prefix) :].split(NESTING)): key
                for key in environ
                if key.lower().startswith(prefix) and key.upper() != CONFIG_ENV
            }
        )

    def origin(self, locs: Sequence[Loc]) -> tuple[str, bool] | None:
        """(variable names, exact) for the first location set from the environment, else None.
        `exact` means the variable sets exactly that location (no dotted path needed)."""
        for loc in locs:
            key = tuple(str(part).lower() for part in loc)
            best: tuple[str, ...] | None = None
            for path in self.by_path:  # the longest variable path that contains the location
                if key[: len(path)] == path and (best is None or len(path) > len(best)):
                    best = path
            if best is not None:
                return self.by_path[best], best == key
            below = sorted(name for path, name in self.by_path.items() if path[: len(key)] == key)
            if below:
                return ", ".join(below), False
        return None


def env_problems(environ: Mapping[str, str], env_vars: EnvVars) -> tuple[dict[str, str], list[str]]:
    """Check GUARDBOT_* variables pydantic-settings would reject with an unhelpful message or ignore.
    Returns the environment without the bad variables, and one line per problem."""
    problems: list[str] = []
    bad: set[str] = set()
    sections = {name for name, f in Settings.model_fields.items() if is_complex(f.annotation)}
    for path, name in env_vars.by_path.items():
        value = environ[name]
        annotation = annotation_at(path)
        if annotation is None and len(path) == 1:
            # GUARDBOT_RISK_MAX_LEVERAGE: one underscore too few, which pydantic-settings ignores silently.
            for section in sections:
                rest = path[0].removeprefix(section + "_")
                if rest != path[0] and annotation_at((section, rest)) is not None:
                    fix = f"{ENV_PREFIX}{section.upper()}{NESTING}{rest.upper()}"
                    problems.append(
                        f"{name}: not a setting; did you mean {fix} (two underscores before the key)?"
                    )
        elif annotation is not None and is_complex(annotation) and value != NONE_STR:
            try:
                json.loads(value)
            except json.JSONDecodeError as exc:
                shape = (
                    'list, e.g. ["a", "b"]'
                    if get_origin(unwrap(annotation)) is list
                    else 'object, e.g. {"key": 1}'
                )
                problems.append(f"{name}: must be a JSON {shape} ({exc.msg})")
                bad.add(name)
    return {k: v for k, v in environ.items() if k not in bad}, problems


def decode_nested(data: Any, path: tuple[str, ...] = ()) -> Any:
    """JSON-decode values pydantic-settings left as text because they sit below a list index
    (GUARDBOT_ACCOUNTS__0__SYMBOLS='["BTC/USDT:USDT"]')."""
    if isinstance(data, dict):
        return {k: decode_nested(v, (*path, k)) for k, v in data.items()}
    if isinstance(data, str) and is_complex(annotation_at(path)):
        try:
            return json.loads(data)
        except json.JSONDecodeError:
            return data  # pydantic reports it
    return data
