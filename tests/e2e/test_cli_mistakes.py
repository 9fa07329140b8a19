"""Command lines that used to print a traceback or silently misread a number, run as a user types
them: each now gets one line naming what is wrong and what was expected, and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .cli import guardbot

EXAMPLE = str(Path(__file__).parents[2] / "guardbot" / "examples" / "alt-book.json")
SIM_ACCOUNT = (
    '[[accounts]]\nname = "x"\nexchange = "binanceusdm"\nbase_url = "http://127.0.0.1:9"\n'
    'api_key_env = "X_KEY"\napi_secret_env = "X_SECRET"\n'
)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "guardbot.toml").write_text(SIM_ACCOUNT)
    (tmp_path / "afile").write_text("not a directory\n")
    return tmp_path


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["sim", "--port", "99999"], ["--port", "from 1 to 65535", "99999"]),
        (["demo", "--fast", "--out", "/proc"], ["--out /proc: cannot write there"]),
        (["demo", "--fast", "--out", "afile"], ["--out afile: is a file, expected a directory"]),
        (
            ["snapshot", "--account", "x", "--out", "missing/dir/snap.json"],
            ["--out missing/dir/snap.json: directory missing/dir does not exist"],
        ),
        (["snapshot", "--account", "x", "--out", "/proc/snap.json"], ["--out /proc/snap.json: cannot write"]),
        (
            ["size", EXAMPLE, "--symbol", "XRP", "--side", "short", "--stop", "2,45", "--risk", "150"],
            ["--stop", "use a dot for decimals (did you mean 2.45?)"],
        ),
        (
            ["size", EXAMPLE, "--symbol", "XRP", "--side", "short", "--stop", "2.45", "--leverage", "5%"],
            ["--leverage", "not a percentage"],
        ),
        (
            ["size", EXAMPLE, "--symbol", "XRP", "--side", "short", "--stop", "2.45", "--risk", "200%"],
            ["--risk", "at most 100%"],
        ),
    ],
)
def test_mistakes_are_one_line_and_exit_2(home: Path, argv: list[str], fragments: list[str]) -> None:
    # X_KEY/X_SECRET are set: snapshot gets as far as it can, and must stop at --out before the
    # exchange (a dead port here) is called
    ran = guardbot(*argv, cwd=home, env={"X_KEY": "k", "X_SECRET": "s"})
    ran.one_line_error(*fragments)
    assert not (home / "missing").exists()


def test_risk_with_a_percent_sign_is_a_share_of_equity(home: Path) -> None:
    base = ["size", EXAMPLE, "--symbol", "XRP", "--side", "short", "--stop", "2.45", "--json"]
    pct = guardbot(*base, "--risk", "1%", cwd=home)
    also_pct = guardbot(*base, "--risk-pct", "1%", cwd=home)
    amount = guardbot(*base, "--risk", "150", cwd=home)
    assert pct.code == also_pct.code == amount.code == 0, (pct.err, also_pct.err, amount.err)
    equity = 28_800.0  # the example book
    assert json.loads(pct.out)["risk_budget"] == pytest.approx(equity / 100)
    assert json.loads(also_pct.out)["risk_budget"] == pytest.approx(equity / 100)
    assert json.loads(amount.out)["risk_budget"] == pytest.approx(150)


def test_thousands_separators_still_read_as_thousands(home: Path) -> None:
    ran = guardbot(
        "size", EXAMPLE, "--symbol", "ETH", "--side", "short", "--stop", "3,400", "--risk", "50", "--json",
        cwd=home,
    )  # fmt: skip
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["stop"] == 3_400
