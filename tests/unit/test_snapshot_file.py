"""The snapshot JSON contract: round trip, shipped examples, and one clear line per mistake."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from guardbot.risk.account import measure_account
from guardbot.snapshot_file import (
    SnapshotFileError,
    load_snapshot,
    parse_snapshot,
    snapshot_to_dict,
    write_snapshot,
)

EXAMPLES = Path(__file__).parents[2] / "guardbot" / "examples"


def example() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / "alt-book.json").read_text())
    return data


@pytest.mark.parametrize("name", ["alt-book.json", "hedge-bybit.json"])
def test_shipped_examples_load_and_round_trip(name: str, tmp_path: Path) -> None:
    snap = load_snapshot(EXAMPLES / name)
    out = tmp_path / name
    write_snapshot(snap, out)
    again = load_snapshot(out)
    assert again == snap
    assert measure_account(again) == measure_account(snap)


def test_round_trip_keeps_every_documented_key() -> None:
    data = snapshot_to_dict(parse_snapshot(example()))
    for key in (
        "schema",
        "exchange",
        "margin_mode",
        "position_mode",
        "settle_currency",
        "wallet_balance",
        "fees",
        "positions",
        "tiers",
        "markets",
        "mark_prices",
        "closes",
        "closes_timeframe",
    ):
        assert key in data
    assert set(data["positions"][0]) >= {
        "symbol",
        "side",
        "contracts",
        "contract_size",
        "entry_price",
        "mark_price",
        "leverage",
        "margin_mode",
        "isolated_margin",
    }


def test_a_reducing_orders_minimum_round_trips_and_defaults_to_the_venues() -> None:
    data = example()
    symbol = next(iter(data["markets"]))
    data["markets"][symbol]["min_notional"] = 10.0
    assert parse_snapshot(data).markets[symbol].reduce_min_notional == 0.0  # Binance exempts them
    # an older Hyperliquid file (no such key): its minimum binds reducing orders too
    assert parse_snapshot({**data, "exchange": "hyperliquid"}).markets[symbol].reduce_min_notional == 10.0
    data["markets"][symbol]["reduce_min_notional"] = 5.0
    again = parse_snapshot(snapshot_to_dict(parse_snapshot(data)))
    assert again.markets[symbol].reduce_min_notional == 5.0


def _problems(data: Any) -> list[str]:
    with pytest.raises(SnapshotFileError) as exc:
        parse_snapshot(data, "snap.json")
    return exc.value.problems


def test_wrong_side_names_the_field_and_the_expected_values() -> None:
    data = example()
    data["positions"][1]["side"] = "buy"
    assert _problems(data) == ["snap.json: positions[1].side: input should be 'long' or 'short' (got 'buy')"]


def test_negative_number_and_unknown_key() -> None:
    data = example()
    data["wallet_balance"] = -5
    data["positions"][0]["levarage"] = 3
    problems = _problems(data)
    assert "snap.json: wallet_balance: input should be greater than or equal to 0 (got -5)" in problems
    assert "snap.json: positions[0].levarage: unknown key (typo?)" in problems


def test_position_without_tiers_is_rejected() -> None:
    data = example()
    del data["tiers"]["SOL/USDT:USDT"]
    [line] = _problems(data)
    assert "no tiers for 'SOL/USDT:USDT'" in line


def test_gap_between_tiers_is_rejected() -> None:
    data = example()
    data["tiers"]["BTC/USDT:USDT"][1]["notional_floor"] = 60_000
    [line] = _problems(data)
    assert "tiers.BTC/USDT:USDT[1].notional_floor: must equal the previous notional_cap" in line


def test_future_schema_is_named() -> None:
    data = example()
    data["schema"] = 2
    assert _problems(data) == ["snap.json: schema: this guardbot reads schema 1 (got 2)"]


def test_missing_file_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(SnapshotFileError, match="no such file"):
        load_snapshot(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": 1,')
    with pytest.raises(SnapshotFileError, match=r"not valid JSON: .* line 1 column 14"):
        load_snapshot(bad)
