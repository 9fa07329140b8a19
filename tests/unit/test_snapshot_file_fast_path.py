"""`load_snapshot` parses and validates in one pass (pydantic-core's JSON parser) and falls back to
json.loads + `parse_snapshot` for anything that pass refuses: both paths must give the same
snapshot, and every refused file the same one-line errors as before."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardbot.domain import AccountSnapshot
from guardbot.snapshot_file import SnapshotFileError, load_snapshot, parse_snapshot

EXAMPLES = Path(__file__).parents[2] / "guardbot" / "examples"


def _slow(path: Path) -> AccountSnapshot | str:
    """The path every file took before: json.loads, then validation."""
    try:
        return parse_snapshot(json.loads(path.read_text(encoding="utf-8")), str(path))
    except SnapshotFileError as err:
        return str(err)
    except json.JSONDecodeError:
        return "json"


def _fast(path: Path) -> AccountSnapshot | str:
    try:
        return load_snapshot(path)
    except SnapshotFileError as err:
        return "json" if "not valid JSON" in str(err) else str(err)


@pytest.mark.parametrize("name", ["alt-book.json", "hedge-bybit.json"])
def test_shipped_examples_load_the_same_both_ways(name: str) -> None:
    assert _fast(EXAMPLES / name) == _slow(EXAMPLES / name)


def _example() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / "alt-book.json").read_text())
    return data


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[int(last) if isinstance(node, list) else last] = value

    return edit


EDITS = {
    "side": _set("positions.1.side", "buy"),
    "negative": _set("wallet_balance", -5),
    "schema": _set("schema", 2),
    "no schema": lambda d: d.pop("schema"),
    "string number": _set("wallet_balance", "1234.5"),
    "int where float": _set("positions.0.contracts", 3),
    "bool where float": _set("positions.0.leverage", True),
    "float timestamp": _set("timestamp_ms", 1.5),
    "string timestamp": _set("timestamp_ms", "1700000000000"),
    "unknown key": _set("positions.0.levarage", 3),
    "tier gap": _set("tiers.BTC/USDT:USDT.1.notional_floor", 60_000),
    "infinite cap": _set("tiers.BTC/USDT:USDT.2.notional_cap", math.inf),
    "nan mark": _set("positions.0.mark_price", math.nan),
    "null fee": _set("fees.taker", None),
    "int close": _set("closes.BTC/USDT:USDT.0", 50_000),
}


@pytest.mark.parametrize("edit", list(EDITS), ids=list(EDITS))
def test_edited_files_load_or_fail_the_same_both_ways(edit: str, tmp_path: Path) -> None:
    data = _example()
    EDITS[edit](data)
    path = tmp_path / "snap.json"
    path.write_text(json.dumps(data))  # json.dumps writes inf and nan as the tokens Infinity, NaN
    assert _fast(path) == _slow(path)


@pytest.mark.parametrize(
    "text",
    ['{"schema": 1,', "[]", "null", '{"schema": 1, "schema": 1}', "{} trailing", '{"a": 1e400}', ""],
)
def test_odd_json_loads_or_fails_the_same_both_ways(text: str, tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    path.write_text(text)
    assert _fast(path) == _slow(path)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(closes=st.lists(st.floats(min_value=1e-300, max_value=1e300), min_size=30, max_size=60))
def test_every_float_reads_back_to_the_same_bits(closes: list[float], tmp_path: Path) -> None:
    data = _example()
    data["closes"]["BTC/USDT:USDT"] = closes
    data["wallet_balance"] = closes[0]
    path = tmp_path / "snap.json"
    path.write_text(json.dumps(data))
    fast, slow = _fast(path), _slow(path)
    assert isinstance(fast, AccountSnapshot) and fast == slow
    assert [x.hex() for x in fast.closes["BTC/USDT:USDT"]] == [x.hex() for x in closes]
