"""`guardbot status` and `guardbot history` on a real journal (the demo's): the documented --json keys,
the CSV columns, the tables, and one-line errors (docs/cli.md)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import pytest

from guardbot.cli import main
from guardbot.demo import run_demo

STATUS_KEYS = {
    "account",
    "ts",
    "time",
    "equity",
    "margin_ratio",
    "effective_leverage",
    "drawdown_pct",
    "positions",
    "state",
    "lock_reason",
    "paused",
    "dry_run",
    "age_s",
    "health",
    "ignored",
}
HISTORY_KEYS = {"ts", "time", "account", "kind", "text", "row"}


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    return asyncio.run(run_demo(out, fast=True, out=lambda _: None)).journal


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./guardbot.toml, no ./guardbot.db
    monkeypatch.delenv("GUARDBOT_CONFIG", raising=False)
    monkeypatch.delenv("GUARDBOT_STORAGE__PATH", raising=False)
    monkeypatch.setenv("COLUMNS", "200")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse exits
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def on_journal(journal: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GUARDBOT_STORAGE__PATH", str(journal))
    return journal


def test_status_json_has_the_documented_keys(on_journal: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "status", "--json")
    assert code == 0 and err == ""
    [row] = json.loads(out)
    assert set(row) == STATUS_KEYS
    assert row["account"] == "guarded" and row["state"] == "HALTED" and row["paused"] is False
    assert row["positions"] == 0 and row["drawdown_pct"] > 20 and "flatten" in row["lock_reason"]
    assert row["time"].count(":") == 2 and isinstance(row["ts"], int)
    assert row["health"] == "danger" and row["dry_run"] is None and row["age_s"] >= 0


def test_status_table(on_journal: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "status")
    assert code == 0
    assert "guardbot status: no daemon running" in out
    assert "Margin ratio" in out and "● guarded" in out and "HALTED (drawdown" in out and "ago" in out


def test_history_json_csv_and_lines(on_journal: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "history", "--since", "3650d", "--json")
    assert code == 0
    rows = json.loads(out)
    assert rows and all(set(r) == HISTORY_KEYS for r in rows)
    assert {r["kind"] for r in rows} == {"decision", "action", "transition", "alert"}
    assert [r["ts"] for r in rows] == sorted(r["ts"] for r in rows)
    assert any(r["text"].startswith("state ACTIVE -> ") for r in rows)

    code, out, _ = run(capsys, "history", "--since", "3650d", "--csv")
    assert code == 0
    table = list(csv.reader(io.StringIO(out)))
    assert table[0] == ["time_utc", "account", "kind", "text"]
    assert [line[3] for line in table[1:]] == [r["text"] for r in rows]

    code, out, _ = run(capsys, "history", "--since", "3650d")
    assert code == 0
    assert f"guardbot history: {len(rows)} line(s)" in out and "Time (UTC)" in out
    for r in (rows[0], rows[-1]):
        assert r["time"] in out and r["text"][:40] in out

    code, out, _ = run(capsys, "history", "--since", "3650d", "--account", "guarded", "--json")
    assert code == 0 and json.loads(out) == rows
    code, out, err = run(capsys, "history", "--since", "3650d", "--account", "nobody")
    assert code == 2 and out == ""
    assert err == "guardbot: unknown account 'nobody'; known accounts: guarded\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["status"], "guardbot: no journal at guardbot.db: start `guardbot run` first (or set storage.path)"),
        (["history"], "guardbot: no journal at guardbot.db: start `guardbot run` first"),
        (["history", "--since", "soon"], "guardbot: --since 'soon': expected a duration like 30m"),
    ],
)
def test_journal_commands_fail_in_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith(message) and err.count("\n") == 1
