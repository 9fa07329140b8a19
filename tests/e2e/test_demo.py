"""`guardbot demo` in its short CI mode: the guarded account survives the crash, the unguarded one
is liquidated, and the journal and chart are written."""

from __future__ import annotations

from pathlib import Path

import pytest
from venue_spec import GUARD_VENUES

from guardbot.cli import main
from guardbot.demo import run_demo
from guardbot.store import JournalReader


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
    # the guard's actions were printed as they happened
    assert any("has no stop" in line for line in lines)
    assert any("HALTED" in line for line in lines)

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
