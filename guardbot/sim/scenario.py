"""Scenarios: TOML files that drive the emulator's mark prices.

A scenario is correlated random walks (one market factor = BTC, each symbol with its own volatility
and correlation to it) plus scripted shocks ("at 120 s BTC -18 % over 90 s, others follow with beta
1.3"). Everything is deterministic for a seed: the same scenario and seed give the same marks.
"""

from __future__ import annotations

import math
import random
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from guardbot.sim.markets import SimMarket, default_markets, resolve_symbol

SECONDS_PER_YEAR = 365 * 24 * 3600
BUILTIN = ("calm", "crash", "grind", "squeeze")


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message is one line naming the problem."""


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    vol_annual: float | None = None  # annualised volatility of log returns
    vol_step: float | None = None  # or: stdev of the log return per step
    corr: float | None = None  # correlation with BTC's returns


@dataclass(frozen=True, slots=True)
class Shock:
    """A scripted move of `symbol` by `pct` % spread evenly (in log terms) over `over_s` seconds.

    Every other symbol moves by pct x beta (its entry in `follow`, else `beta_follow`, which
    defaults to 0: only the shocked symbol moves).
    """

    at_s: float
    symbol: str
    pct: float
    over_s: float = 0.0
    beta_follow: float = 0.0
    follow: Mapping[str, float] = field(default_factory=dict)

    def pct_for(self, symbol: str) -> float:
        if symbol == self.symbol:
            return self.pct
        return self.pct * self.follow.get(symbol, self.beta_follow)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str = "static"
    description: str = ""
    seed: int = 0
    step_s: float = 1.0
    duration_s: float | None = None
    speed: float = 1.0  # suggested sim seconds per wall second for standalone runs
    vol_scale: float = 1.0  # multiplies every symbol's volatility; 0 = no random walk
    start: Mapping[str, float] = field(default_factory=dict)
    symbols: Mapping[str, SymbolSpec] = field(default_factory=dict)
    shocks: tuple[Shock, ...] = ()

    @classmethod
    def static(cls) -> Scenario:
        """Marks move only when told to (set_mark / shock): what tests want by default."""
        return cls(vol_scale=0.0)


class PricePath:
    """Steps marks through a scenario. One RNG draw order per step, so a seed fixes the path."""

    def __init__(self, scenario: Scenario, markets: Mapping[str, SimMarket], seed: int) -> None:
        self.scenario = scenario
        self.markets = markets
        self.rng = random.Random(seed)
        self._order = sorted(markets)

    def add_market(self, symbol: str) -> None:
        """Walk a newly listed market too. It draws last in each step, so the paths of the markets
        listed before it do not change within a step."""
        if symbol not in self._order:
            self._order.append(symbol)

    def _sigma(self, m: SimMarket, dt: float) -> float:
        spec = self.scenario.symbols.get(m.id, SymbolSpec())
        if spec.vol_step is not None:
            base = spec.vol_step * math.sqrt(dt / self.scenario.step_s)
        else:
            annual = spec.vol_annual if spec.vol_annual is not None else m.annual_vol
            base = annual * math.sqrt(dt / SECONDS_PER_YEAR)
        return base * self.scenario.vol_scale

    def _corr(self, m: SimMarket) -> float:
        spec = self.scenario.symbols.get(m.id, SymbolSpec())
        rho = spec.corr if spec.corr is not None else m.btc_corr
        return 1.0 if m.id == "BTCUSDT" else max(-1.0, min(1.0, rho))

    def shock_log_return(self, symbol: str, t0: float, t1: float) -> float:
        """Sum of the shocks' log moves falling in the sim-time interval [t0, t1)."""
        total = 0.0
        for s in self.scenario.shocks:
            pct = s.pct_for(symbol)
            if pct == 0:
                continue
            full = math.log(max(1e-6, 1.0 + pct / 100.0))
            if s.over_s <= 0:
                if t0 <= s.at_s < t1:
                    total += full
                continue
            overlap = min(t1, s.at_s + s.over_s) - max(t0, s.at_s)
            if overlap > 0:
                total += full * overlap / s.over_s
        return total

    def step(self, t_s: float, dt: float, marks: Mapping[str, float]) -> dict[str, float]:
        """Marks after one step of `dt` seconds starting at sim time `t_s`."""
        z_market = self.rng.gauss(0.0, 1.0)
        out: dict[str, float] = {}
        for sym in self._order:
            m = self.markets[sym]
            z_own = self.rng.gauss(0.0, 1.0)
            rho = self._corr(m)
            r = self._sigma(m, dt) * (rho * z_market + math.sqrt(max(0.0, 1.0 - rho * rho)) * z_own)
            r += self.shock_log_return(sym, t_s, t_s + dt)
            if sym in marks:
                out[sym] = marks[sym] * math.exp(r)
        return out


# ---- loading -------------------------------------------------------------------------------------

_TOP_KEYS = {
    "name",
    "description",
    "seed",
    "step_s",
    "duration_s",
    "speed",
    "vol_scale",
    "start",
    "symbols",
    "shocks",
}
_SYMBOL_KEYS = {"vol", "vol_step", "corr"}
_SHOCK_KEYS = {"at_s", "symbol", "pct", "over_s", "beta_follow", "follow"}


def _number(where: str, value: Any, *, minimum: float | None = None, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScenarioError(f"{where}: expected a number, got {value!r}")
    if positive and value <= 0:
        raise ScenarioError(f"{where}: expected a number > 0, got {value!r}")
    if minimum is not None and value < minimum:
        raise ScenarioError(f"{where}: expected a number >= {minimum:g}, got {value!r}")
    return float(value)


def _as_table(where: str, table: Any) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ScenarioError(f"{where}: expected a table, got {table!r}")
    return dict(table)


def _check_keys(where: str, value: Any, allowed: set[str]) -> dict[str, Any]:
    table = _as_table(where, value)
    for key in table:
        if key not in allowed:
            raise ScenarioError(
                f"{where}: unknown key {key!r} (expected one of: {', '.join(sorted(allowed))})"
            )
    return table


def _symbol(where: str, name: Any, markets: dict[str, SimMarket]) -> str:
    sym = resolve_symbol(markets, name) if isinstance(name, str) else None
    if sym is None:
        bases = ", ".join(m.base for m in markets.values())
        raise ScenarioError(f"{where}: unknown symbol {name!r} (expected one of: {bases})")
    return sym


def parse_scenario(data: dict[str, Any], label: str, markets: dict[str, SimMarket] | None = None) -> Scenario:
    """Validate a decoded TOML document; errors name the file and the offending key."""
    markets = markets or default_markets()
    p = f"scenario {label}"
    _check_keys(p, data, _TOP_KEYS)
    start: dict[str, float] = {}
    for name, price in _as_table(f"{p}: [start]", data.get("start", {})).items():
        start[_symbol(f"{p}: start.{name}", name, markets)] = _number(
            f"{p}: start.{name}", price, positive=True
        )
    symbols: dict[str, SymbolSpec] = {}
    for name, spec in _as_table(f"{p}: [symbols]", data.get("symbols", {})).items():
        where = f"{p}: symbols.{name}"
        sym = _symbol(where, name, markets)
        spec = _check_keys(where, spec, _SYMBOL_KEYS)
        vol = _number(f"{where}.vol", spec["vol"], minimum=0) if "vol" in spec else None
        vol_step = _number(f"{where}.vol_step", spec["vol_step"], minimum=0) if "vol_step" in spec else None
        if vol is not None and vol_step is not None:
            raise ScenarioError(f"{where}: give either vol (annualised) or vol_step, not both")
        corr = _number(f"{where}.corr", spec["corr"]) if "corr" in spec else None
        if corr is not None and not -1 <= corr <= 1:
            raise ScenarioError(f"{where}.corr: expected a number between -1 and 1, got {corr!r}")
        symbols[sym] = SymbolSpec(vol, vol_step, corr)
    shocks: list[Shock] = []
    raw_shocks = data.get("shocks", [])
    if not isinstance(raw_shocks, list):
        raise ScenarioError(f"{p}: shocks: expected an array of tables ([[shocks]]), got {raw_shocks!r}")
    for i, raw in enumerate(raw_shocks):
        where = f"{p}: shocks[{i}]"
        raw = _check_keys(where, raw, _SHOCK_KEYS)
        for req in ("at_s", "symbol", "pct"):
            if req not in raw:
                raise ScenarioError(f"{where}: missing {req!r}")
        follow: dict[str, float] = {}
        for name, beta in _as_table(f"{where}.follow", raw.get("follow", {})).items():
            follow[_symbol(f"{where}.follow.{name}", name, markets)] = _number(f"{where}.follow.{name}", beta)
        pct = _number(f"{where}.pct", raw["pct"])
        if pct <= -100:
            raise ScenarioError(f"{where}.pct: expected a number > -100, got {raw['pct']!r}")
        shocks.append(
            Shock(
                at_s=_number(f"{where}.at_s", raw["at_s"], minimum=0),
                symbol=_symbol(f"{where}.symbol", raw["symbol"], markets),
                pct=pct,
                over_s=_number(f"{where}.over_s", raw.get("over_s", 0), minimum=0),
                beta_follow=_number(f"{where}.beta_follow", raw.get("beta_follow", 0)),
                follow=follow,
            )
        )
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ScenarioError(f"{p}: seed: expected an integer, got {seed!r}")
    name = data.get("name", label)
    description = data.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        raise ScenarioError(f"{p}: name and description must be strings")
    duration = data.get("duration_s")
    return Scenario(
        name=name,
        description=description,
        seed=seed,
        step_s=_number(f"{p}: step_s", data.get("step_s", 1.0), positive=True),
        duration_s=None if duration is None else _number(f"{p}: duration_s", duration, positive=True),
        speed=_number(f"{p}: speed", data.get("speed", 1.0), positive=True),
        vol_scale=_number(f"{p}: vol_scale", data.get("vol_scale", 1.0), minimum=0),
        start=start,
        symbols=symbols,
        shocks=tuple(sorted(shocks, key=lambda s: s.at_s)),
    )


def load_scenario(name_or_path: str | Path, markets: dict[str, SimMarket] | None = None) -> Scenario:
    """A built-in scenario by name (calm, crash, grind, squeeze) or a TOML file by path.

    Raises ScenarioError with one line naming the file and what is wrong.
    """
    text: str
    label = str(name_or_path)
    path = Path(name_or_path)
    if isinstance(name_or_path, str) and name_or_path in BUILTIN:
        text = resources.files("guardbot.sim").joinpath(f"scenarios/{name_or_path}.toml").read_text("utf-8")
    elif path.is_file():
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ScenarioError(f"scenario {label}: cannot read file: {e}") from None
    else:
        raise ScenarioError(
            f"unknown scenario {label!r}: expected one of {', '.join(BUILTIN)} or the path of a .toml file"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"scenario {label}: invalid TOML: {e}") from None
    return parse_scenario(data, label, markets)
