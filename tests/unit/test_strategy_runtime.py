"""Strategy plug-ins without an exchange: loading (each mistake one line), schedules, the shipped
donchian_breakout on synthetic candles, the webhook's rate limiter, and the [[strategies]] config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from guardbot.config import ConfigError, Settings, load_settings
from guardbot.config.strategies import StrategyConfig
from guardbot.domain import Position, Side
from guardbot.strategies_runtime import Candle, View
from guardbot.strategies_runtime.loader import StrategyLoadError, load_strategy
from guardbot.strategies_runtime.runner import StrategyFailed, _intents
from guardbot.strategies_runtime.schedule import BAR_DELAY_MS, next_run, period_of
from guardbot.webhook.ratelimit import RateLimiter
from strategies.donchian_breakout import DonchianParams, average_true_range, breakout, propose

HOUR = 3_600_000


def config(**kw: Any) -> StrategyConfig:
    return StrategyConfig(**{"name": "donchian_breakout", "accounts": ["main"], **kw})


# ----------------------------------------------------------------------------- loading


def test_the_shipped_strategy_loads_with_its_parameters() -> None:
    loaded = load_strategy(config(parameters={"symbols": ["ETH/USDT:USDT"], "channel": 30}))
    assert loaded.where == "strategies/donchian_breakout.py"
    assert loaded.needs.symbols == ("ETH/USDT:USDT",) and loaded.needs.bars == 31


def _file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "mine.py"
    path.write_text(text)
    return str(path)


GOOD = """
from guardbot.strategies_runtime import Needs, Strategy, StrategyParams
class P(StrategyParams):
    n: int = 3
def needs(p):
    return Needs(("BTC/USDT:USDT",), "1h", p.n)
STRATEGY = Strategy(name="mine", params=P, needs=needs, propose=lambda v, p: [])
"""


@pytest.mark.parametrize(
    ("name", "text", "parameters", "expected"),
    [
        ("nope", None, {}, "strategy 'nope': no module strategies/nope.py (shipped: donchian_breakout)"),
        ("mine", "def f(:\n", {}, "mine.py:1: syntax error: invalid syntax"),
        (
            "mine",
            "import not_a_module_anywhere\n",
            {},
            "importing it failed: ModuleNotFoundError: No module named",
        ),
        ("mine", "x = 1\n", {}, "defines no STRATEGY = Strategy(...) (see docs/strategies.md)"),
        ("other", GOOD, {}, "is the strategy 'mine'; use name = 'mine'"),
        ("mine", GOOD, {"n": "many"}, "parameters: n: Input should be a valid integer"),
        ("mine", GOOD, {"m": 1}, "parameters: m: Extra inputs are not permitted (got 1)"),
        ("mine", GOOD, {"n": 0}, "needs() failed: ValueError: bars must be from 1 to 1000, got 0"),
        ("webhook", None, {}, "strategy 'webhook' is built in, not a plug-in module"),
    ],
)
def test_every_loading_mistake_is_one_line(
    tmp_path: Path, name: str, text: str | None, parameters: dict[str, Any], expected: str
) -> None:
    path = _file(tmp_path, text) if text is not None else None
    with pytest.raises(StrategyLoadError) as err:
        load_strategy(StrategyConfig(name=name, path=path, accounts=["main"], parameters=parameters))
    assert expected in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_a_file_strategy_loads_by_path(tmp_path: Path) -> None:
    loaded = load_strategy(StrategyConfig(name="mine", path=_file(tmp_path, GOOD), accounts=["main"]))
    assert loaded.needs.bars == 3 and loaded.where.endswith("mine.py")


def test_what_propose_returns_is_checked() -> None:
    assert _intents(None) == []
    for bad in ("long BTC", [1], 3):
        with pytest.raises(StrategyFailed, match="must return a list of Intent"):
            _intents(bad)


# ----------------------------------------------------------------------------- schedules


def test_bar_schedules_run_just_after_each_close() -> None:
    period, offset = period_of("bar", "1h")
    assert (period, offset) == (HOUR, BAR_DELAY_MS)
    t = 1_760_097_600_000 + 25 * 60_000  # 12:25
    assert next_run(t, period, offset) == 1_760_097_600_000 + HOUR + BAR_DELAY_MS
    assert (
        next_run(1_760_097_600_000 + BAR_DELAY_MS, period, offset) == 1_760_097_600_000 + HOUR + BAR_DELAY_MS
    )
    assert period_of("30s", "1h") == (30_000, 0) and period_of("15m", "1h") == (900_000, 0)
    with pytest.raises(ValueError, match='schedule must be "bar"'):
        period_of("hourly", "1h")


# ----------------------------------------------------------------------------- donchian_breakout


def bars(closes: list[float], spread: float = 1.0) -> list[Candle]:
    out = []
    prev = closes[0]
    for i, c in enumerate(closes):
        out.append(Candle(i * HOUR, prev, max(prev, c) + spread, min(prev, c) - spread, c, 1.0))
        prev = c
    return out


P = DonchianParams(symbols=["BTC/USDT:USDT"], channel=5, atr_period=3, atr_stop=2.0, take_profit_r=2.0)


def test_a_close_above_the_channel_is_a_long_with_an_atr_stop_and_target() -> None:
    candles = bars([100, 101, 100, 102, 101, 100, 105])
    intent = breakout("BTC/USDT:USDT", candles, P)
    assert intent is not None and intent.side is Side.LONG
    atr = average_true_range(candles, 3)
    assert intent.stop == pytest.approx(105 - 2 * atr)
    [tp] = intent.take_profits
    assert tp.price == pytest.approx(105 + 4 * atr) and tp.fraction == 0.5
    assert "broke the 5-bar high 103" in intent.reason


def test_a_close_below_is_a_short_and_inside_is_nothing() -> None:
    short = breakout("BTC/USDT:USDT", bars([100, 101, 100, 102, 101, 100, 95]), P)
    assert short is not None and short.side is Side.SHORT and short.stop > 95
    assert breakout("BTC/USDT:USDT", bars([100, 101, 100, 102, 101, 100, 101]), P) is None
    no_shorts = P.model_copy(update={"shorts": False})
    assert breakout("BTC/USDT:USDT", bars([100, 101, 100, 102, 101, 100, 95]), no_shorts) is None
    assert breakout("BTC/USDT:USDT", bars([100, 105]), P) is None  # not enough bars


def test_no_new_intent_while_a_position_is_open() -> None:
    candles = {"BTC/USDT:USDT": bars([100, 101, 100, 102, 101, 100, 105])}
    assert len(propose(View(0, "1h", candles), P)) == 1
    held = (Position("BTC/USDT:USDT", Side.LONG, 1.0, 100.0, 105.0),)
    assert propose(View(0, "1h", candles, positions=held), P) == []


# ----------------------------------------------------------------------------- rate limit


def test_the_rate_limit_is_a_token_bucket_per_source() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=6, burst=2, clock=lambda: now[0])
    assert [limiter.allow("a")[0] for _ in range(3)] == [True, True, False]
    assert limiter.allow("a")[1] == pytest.approx(10.0)
    assert limiter.allow("b")[0]  # another source has its own bucket
    now[0] = 10.0
    assert limiter.allow("a") == (True, 0.0)


# ----------------------------------------------------------------------------- config


def test_strategy_config_mistakes_are_one_line_each(tmp_path: Path) -> None:
    path = tmp_path / "guardbot.toml"
    path.write_text(
        '[[accounts]]\nname = "main"\nexchange = "binanceusdm"\n'
        '[[strategies]]\nname = "Donchian"\naccounts = ["main"]\n'
        '[[strategies]]\nname = "webhook"\naccounts = ["alt"]\nschedule = "hourly"\n'
        '[[strategies]]\nname = "webhook"\naccounts = ["main"]\n'
    )
    with pytest.raises(ConfigError) as err:
        load_settings(path, {})
    lines = err.value.problems
    assert any("strategies[0].name: must be a module name" in line for line in lines), lines
    assert any('strategies[1].schedule: must be "bar"' in line for line in lines), lines
    assert len(lines) >= 2
    path.write_text(
        '[[accounts]]\nname = "main"\nexchange = "binanceusdm"\n'
        '[[strategies]]\nname = "webhook"\naccounts = ["alt"]\n'
        '[[strategies]]\nname = "webhook"\naccounts = ["main"]\n'
    )
    with pytest.raises(ConfigError) as err:
        load_settings(path, {})
    text = str(err.value)
    assert 'strategies[0].accounts[0]: no such account (known: main) (got "alt")' in text, text
    assert "strategies[1].name: duplicate strategy name; strategies[0] already uses it" in text, text
    assert Settings().entries.confirm_tolerance_pct == 2.0


def test_the_example_configs_strategy_parameters_are_valid() -> None:
    from guardbot.webhook.signal import WebhookParams

    settings = load_settings(Path(__file__).parents[2] / "config.example.toml", {})
    donchian, webhook = settings.strategies
    assert not donchian.enabled and not webhook.enabled  # an example must not trade by itself
    assert load_strategy(donchian).needs.symbols == ("BTC/USDT:USDT", "ETH/USDT:USDT")
    assert WebhookParams.model_validate(webhook.parameters).bind == "127.0.0.1"
