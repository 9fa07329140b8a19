"""`guardbot demo` in its short CI mode: the guarded account survives the crash, the unguarded one
is liquidated, and the journal and chart are written."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from venue_spec import GUARD_VENUES, SPECS

from guardbot.cli import main
from guardbot.demo import run_demo
from guardbot.demo_story import pace
from guardbot.store import JournalReader

from .cli import GUARDBOT, clean_env


@pytest.mark.parametrize("exchange", GUARD_VENUES)
async def test_guarded_account_survives_where_the_unguarded_is_liquidated(
    tmp_path: Path, exchange: str
) -> None:
    lines: list[str] = []
    result = await run_demo(tmp_path, fast=True, out=lines.append, exchange=exchange)

    assert result.unguarded.liquidated
    assert not result.guarded.liquidated
    assert result.guarded.final_equity > 0.5 * 10_000
    assert result.guarded.max_drawdown_pct < result.unguarded.max_drawdown_pct
    assert result.guarded.actions >= 3
    assert lines[0].startswith(f"{exchange} emulator at http://127.0.0.1:")
    # the guard's actions were printed as they happened, and so was what the exchange did by itself
    assert any("has no stop" in line for line in lines)
    assert any("HALTED" in line for line in lines)
    assert any("the book starts right at the 8x limit" in line for line in lines)  # the first trim, explained
    [liquidation] = [line for line in lines if "LIQUIDATED by the exchange" in line]
    assert liquidation.startswith("[+06:") and "unguarded" in liquidation
    assert liquidation.endswith(SPECS[exchange].quote)  # the wallet's currency (Hyperliquid: USDC)
    assert any("guarded: guardbot's stop fired" in line for line in lines)
    assert any("unguarded: the trader's stop fired: BTC long" in line for line in lines)
    [why] = [line for line in lines if "why " in line and "and not 20%" in line]
    assert "readings, 10 s apart" in why and "2nd reading in a row" in why
    stamps = [line[:8] for line in lines if line.startswith("[+")]
    assert stamps == sorted(stamps)  # one timeline, in the order things happened
    assert result.unguarded.liquidated_at_s is not None and 360 <= result.unguarded.liquidated_at_s < 420
    assert [label for _, label in result.guard_actions][-1] == "close all"

    assert result.chart is not None and result.chart.stat().st_size > 10_000
    with JournalReader(result.journal) as reader:
        actions = reader.actions_for("guarded", 0)
        assert {a.kind for a in actions} >= {"stop", "reduce"}
        assert all(a.status == "confirmed" for a in actions if a.kind in ("stop", "reduce"))
        assert not reader.pending_actions()
        [snap] = reader.latest_snapshots()
        assert snap.state == "HALTED"


def test_demo_command_prints_the_side_by_side_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--fast", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "guarded by guardbot" in out and "unguarded" in out
    assert (tmp_path / "guardbot-demo.db").exists() and (tmp_path / "guardbot-demo.png").exists()


async def test_the_live_line_moves_every_cycle(tmp_path: Path) -> None:
    status: list[str] = []
    await run_demo(tmp_path, fast=True, out=lambda _: None, status=status.append)
    assert len(status) == 120  # 20 simulated minutes, a cycle every 10 s
    assert status[0].startswith("[+00:10] BTC ") and "guarded " in status[0] and "unguarded " in status[0]
    assert status[-1].endswith("unguarded 0.00 USDT (liquidated)")


def test_the_full_demo_paces_the_crash_and_hurries_through_the_quiet_hour() -> None:
    cycles = [t * 10.0 for t in range(360)]
    assert max(pace(t) for t in cycles) <= 0.25  # never a long silence between two cycles
    assert 25 < sum(pace(t) for t in cycles) < 45  # about half a minute in all
    assert sum(pace(t) for t in cycles if 290 <= t <= 420) > 3  # the crash at a readable pace


def test_the_hint_at_the_end_works_as_printed(tmp_path: Path) -> None:
    """After `make demo` the venv is not activated: the hint must name the venv's guardbot."""
    (tmp_path / ".venv").symlink_to(Path(GUARDBOT).parents[1])  # the checkout's .venv, as make sees it
    env = clean_env({"PATH": "/usr/bin:/bin"})  # no guardbot on PATH
    ran = subprocess.run(
        [".venv/bin/guardbot", "demo", "--fast", "--out", "out dir"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    [hint] = [line for line in ran.stdout.splitlines() if line.startswith("what it did and why: ")]
    command = hint.removeprefix("what it did and why: ")
    assert (
        command == "GUARDBOT_STORAGE__PATH='out dir/guardbot-demo.db' .venv/bin/guardbot history --since 30d"
    )
    history = subprocess.run(
        ["sh", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert history.returncode == 0, history.stderr
    assert "guardbot history:" in history.stdout and "close" in history.stdout
