"""The `guardbot` command as a user runs it: stable --json keys, tables, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardbot.cli import main

EXAMPLE = str(Path(__file__).parents[2] / "guardbot" / "examples" / "alt-book.json")
HEDGE = str(Path(__file__).parents[2] / "guardbot" / "examples" / "hedge-bybit.json")


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./guardbot.toml
    monkeypatch.delenv("GUARDBOT_CONFIG", raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse exits
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_analyze_json_has_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "analyze", EXAMPLE, "--json")
    assert code == 0
    data = json.loads(out)
    for key in (
        "equity",
        "wallet_balance",
        "unrealized_pnl",
        "initial_margin",
        "maintenance_margin",
        "margin_ratio",
        "available_margin",
        "gross_notional",
        "net_notional",
        "effective_leverage",
        "positions",
        "exposure",
        "stress",
    ):
        assert key in data, key
    assert data["equity"] == pytest.approx(28_800.0)
    pos = data["positions"][0]
    for key in (
        "symbol",
        "side",
        "contracts",
        "notional",
        "unrealized_pnl",
        "maintenance_margin",
        "liquidation_price",
        "liquidation_distance_pct",
    ):
        assert key in pos, key
    # the whole book liquidates long before any single position's own liquidation price
    move = data["stress"]["liquidating_move_down"]
    assert -0.25 < move < -0.05
    distances = [p["liquidation_distance_pct"] for p in data["positions"]]
    assert all(d is None or d > 30 for d in distances)


def test_analyze_shock_moves_alts_by_beta(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "analyze", EXAMPLE, "--shock", "BTC=-10%", "--json")
    assert code == 0
    shock = json.loads(out)["shock"]
    assert shock["moves"]["BTC/USDT:USDT"] == pytest.approx(-0.10)
    assert shock["moves"]["SOL/USDT:USDT"] < -0.10  # SOL's beta is above 1 in the example closes
    assert shock["liquidated"] is False


def test_analyze_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "analyze", HEDGE)
    assert code == 0
    assert "Margin ratio" in out and "BTC/USDT:USDT" in out
    assert "the account liquidates if BTC" in out


def test_size_json_keys_and_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "size",
        EXAMPLE,
        "--symbol",
        "XRP",
        "--side",
        "short",
        "--stop",
        "2.45",
        "--risk",
        "50",
        "--leverage",
        "5",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    for key in (
        "quantity",
        "notional",
        "risk_at_stop",
        "initial_margin",
        "binding_constraint",
        "projected",
        "warnings",
    ):
        assert key in data, key
    assert set(data["projected"]) >= {"margin_ratio", "effective_leverage", "liquidation_price"}
    assert data["risk_at_stop"] <= 50
    assert data["symbol"] == "XRP/USDT:USDT"


def test_size_refusal_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "size", EXAMPLE, "--symbol", "SOL", "--side", "long", "--stop", "190", "--risk", "100"
    )
    assert code == 2
    assert out == ""
    assert err.strip().count("\n") == 0
    assert "stop 190 is above entry 182" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["analyze", "missing.json"], "missing.json: no such file"),
        (["analyze", EXAMPLE, "--shock", "BTC=minus ten"], "expected SYMBOL=PCT"),
        (["analyze", EXAMPLE, "--shock", "FOO=-5%"], "unknown symbol 'FOO'"),
        (
            ["size", EXAMPLE, "--symbol", "SOL", "--side", "up", "--stop", "1"],
            "argument --side: invalid choice",
        ),
        (["size", EXAMPLE, "--symbol", "SOL", "--side", "long", "--stop", "-3"], "must be greater than 0"),
        (["size", EXAMPLE, "--symbol", "SOL", "--side", "long", "--stop", "abc"], "expected a number"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_user_mistakes_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_bad_snapshot_file_lists_each_problem(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = json.loads(Path(EXAMPLE).read_text())
    data["positions"][0]["side"] = "buy"
    data["wallet_balance"] = "lots"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    code, _, err = run(capsys, "analyze", str(bad))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"{bad}: ") for line in lines)


def test_config_check_masks_secrets(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "g.toml"
    cfg.write_text(
        '[[accounts]]\nname = "main"\nexchange = "binanceusdm"\nenvironment = "testnet"\n'
        'api_key_env = "GB_TEST_KEY"\napi_secret_env = "GB_TEST_SECRET"\n'
    )
    monkeypatch.setenv("GB_TEST_KEY", "key-abcdef-123")
    monkeypatch.setenv("GB_TEST_SECRET", "secret-zyx-987")
    for extra in ([], ["--json"]):
        code, out, _ = run(capsys, "config", "check", "--config", str(cfg), *extra)
        assert code == 0
        assert "GB_TEST_KEY" in out and "**********" in out
        assert "key-abcdef-123" not in out and "secret-zyx-987" not in out


def test_bad_config_is_one_line_per_problem(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[risk]\nmax_leverage = -2\n")
    code, out, err = run(capsys, "config", "check", "--config", str(cfg))
    assert code == 2 and out == ""
    assert err == f"{cfg}: risk.max_leverage: must be greater than 0 (got -2)\n"
    code, _, err = run(capsys, "analyze", EXAMPLE, "--config", str(tmp_path / "absent.toml"))
    assert code == 2 and "absent.toml" in err and len(err.strip().splitlines()) == 1
