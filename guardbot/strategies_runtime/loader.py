"""Loading a strategy named in the config: `strategies/<name>.py`, or the file its `path` names.

Whatever is wrong (no such module, a syntax error, an import that fails, no `STRATEGY`, a name that
does not match, parameters its model refuses, a `needs` that fails) is one `StrategyLoadError`
line naming the strategy and the problem; the daemon logs it, says it once, and guards on without
that strategy.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import ValidationError

from guardbot.config.strategies import StrategyConfig
from guardbot.intents.model import one_line
from guardbot.strategies_runtime.contract import Needs, Strategy, StrategyParams

PACKAGE = "strategies"
BUILT_IN = ("manual", "webhook")  # sources that are not plug-in modules


class StrategyLoadError(Exception):
    """A strategy that cannot run; the message is one line naming it."""


@dataclass(frozen=True)
class LoadedStrategy:
    config: StrategyConfig
    strategy: Strategy[Any]
    params: StrategyParams
    needs: Needs
    where: str  # the module or file it came from

    @property
    def name(self) -> str:
        return self.config.name


def _shipped() -> str:
    try:
        package = importlib.import_module(PACKAGE)
    except ImportError:
        return "none"
    names = sorted(p.stem for p in Path(package.__path__[0]).glob("*.py") if not p.stem.startswith("_"))
    return ", ".join(names) or "none"


def _import(config: StrategyConfig) -> tuple[ModuleType, str]:
    name = config.name
    if config.path is None:
        module_name = f"{PACKAGE}.{name}"
        try:
            return importlib.import_module(module_name), f"{PACKAGE}/{name}.py"
        except ModuleNotFoundError as err:
            if err.name in (PACKAGE, module_name):
                raise StrategyLoadError(
                    f"strategy {name!r}: no module {PACKAGE}/{name}.py (shipped: {_shipped()}); "
                    "or set path to the strategy's file"
                ) from None
            raise
    path = Path(config.path).expanduser()
    if not path.is_file():
        raise StrategyLoadError(f"strategy {name!r}: path {str(path)!r} is not a file")
    spec = importlib.util.spec_from_file_location(f"guardbot_strategy_{name}", path)
    if spec is None or spec.loader is None:
        raise StrategyLoadError(f"strategy {name!r}: {path} cannot be imported (expected a .py file)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pydantic look their module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(spec.name, None)
        raise
    return module, str(path)


def load_strategy(config: StrategyConfig) -> LoadedStrategy:
    name = config.name
    if name in BUILT_IN:
        raise StrategyLoadError(f"strategy {name!r} is built in, not a plug-in module")
    try:
        module, where = _import(config)
    except StrategyLoadError:
        raise
    except SyntaxError as err:
        raise StrategyLoadError(
            f"strategy {name!r}: {err.filename}:{err.lineno}: syntax error: {err.msg}"
        ) from None
    except Exception as err:
        raise StrategyLoadError(
            f"strategy {name!r}: importing it failed: {type(err).__name__}: {err}"
        ) from None
    strategy = getattr(module, "STRATEGY", None)
    if not isinstance(strategy, Strategy):
        raise StrategyLoadError(
            f"strategy {name!r}: {where} defines no STRATEGY = Strategy(...) (see docs/strategies.md)"
        )
    if strategy.name != name:
        raise StrategyLoadError(
            f"strategy {name!r}: {where} is the strategy {strategy.name!r}; use name = {strategy.name!r}"
        )
    if not (isinstance(strategy.params, type) and issubclass(strategy.params, StrategyParams)):
        raise StrategyLoadError(f"strategy {name!r}: its params must be a StrategyParams model")
    try:
        params = strategy.params.model_validate(config.parameters)
    except ValidationError as err:
        raise StrategyLoadError(f"strategy {name!r}: parameters: {one_line(err)}") from None
    try:
        needs = strategy.needs(params)
    except Exception as err:
        raise StrategyLoadError(f"strategy {name!r}: needs() failed: {type(err).__name__}: {err}") from None
    if not isinstance(needs, Needs):
        raise StrategyLoadError(f"strategy {name!r}: needs() must return Needs, got {type(needs).__name__}")
    return LoadedStrategy(config, strategy, params, needs, where)
