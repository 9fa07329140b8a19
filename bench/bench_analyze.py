"""`guardbot analyze` on a 200-position snapshot with 1,000 closes per symbol, in process, against a
floor measured in the same run: reading the same file with `json.loads` plus `numpy.corrcoef` of the
same closes' log returns. `analyze_vs_floor_ratio` is analyze (--json) / floor: the two are timed
alternately and the median of the per-pair ratios is reported.

The stages of analyze are timed one by one too, so a slow one is named rather than guessed."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench import time_ms, time_pair_ms
from bench.books import BENCHMARK, account, closes
from guardbot.cli import main as cli_main
from guardbot.config import load_settings
from guardbot.render import account_json, dumps
from guardbot.risk.account import measure_account
from guardbot.risk.correlation import correlation_report
from guardbot.risk.exposure import exposure_report
from guardbot.risk.stress import stress_report
from guardbot.snapshot_file import load_snapshot, write_snapshot

POSITIONS = 200
CLOSES = 1_000
REPEAT = 15


def _write_book(folder: Path) -> tuple[Path, Path]:
    data = closes(POSITIONS, CLOSES)
    marks = [c[-1] for c in data.values()]
    snap, _ = account(POSITIONS, marks=marks)
    path = folder / "book.json"
    write_snapshot(dataclasses.replace(snap, closes=data, closes_timeframe="1h"), path)
    config = folder / "guardbot.toml"
    config.write_text("", encoding="utf-8")
    return path, config


def _floor(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    prices = np.array(list(data["closes"].values()), dtype=np.float64)
    np.corrcoef(np.diff(np.log(prices), axis=1))


def _analyze(path: Path, config: Path, as_json: bool = True) -> None:
    argv = ["analyze", str(path), "--config", str(config), *(["--json"] if as_json else [])]
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli_main(argv)
    if code != 0:
        raise RuntimeError(f"guardbot analyze exited {code}")


def _stages(path: Path, config: Path) -> dict[str, Any]:
    """The steps `commands.analyze` runs, each timed on its own (medians, ms)."""
    settings = load_settings(config)
    snap = load_snapshot(path)
    figures = measure_account(snap)
    risk = settings.risk
    corr = correlation_report(
        snap.closes, risk.benchmark, risk.cluster_threshold, "1h", lookback=risk.correlation_lookback
    )
    exposure = exposure_report(snap, corr, risk.sectors, equity=figures.equity)
    stress = stress_report(snap, BENCHMARK, dict(exposure.betas))

    def to_json() -> str:
        out: dict[str, Any] = account_json(figures)
        out["exposure"] = exposure.to_dict()
        out["correlation"] = corr.to_dict()
        out["stress"] = stress.to_dict()
        return dumps(out)

    stages = {
        "load_settings": lambda: load_settings(config),
        "load_snapshot": lambda: load_snapshot(path),
        "measure_account": lambda: measure_account(snap),
        "correlation_report": lambda: correlation_report(
            snap.closes, risk.benchmark, risk.cluster_threshold, "1h", lookback=risk.correlation_lookback
        ),
        "exposure_report": lambda: exposure_report(snap, corr, risk.sectors, equity=figures.equity),
        "stress_report": lambda: stress_report(snap, BENCHMARK, dict(exposure.betas)),
        "json_output": to_json,
    }
    return {name: time_ms(fn, repeat=REPEAT, budget_s=15)["median_ms"] for name, fn in stages.items()}


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="guardbot-bench-") as tmp:
        path, config = _write_book(Path(tmp))
        floor, analyze, ratio = time_pair_ms(lambda: _floor(path), lambda: _analyze(path, config), REPEAT)
        _, table, table_ratio = time_pair_ms(
            lambda: _floor(path), lambda: _analyze(path, config, as_json=False), REPEAT
        )
        stages = _stages(path, config)
        size = path.stat().st_size
    return {
        "positions": POSITIONS,
        "closes_per_symbol": CLOSES,
        "file_bytes": size,
        "floor_json_load_plus_corrcoef": floor,
        "analyze_json": analyze,
        "analyze_table": table,
        # medians of per-pair ratios (floor and analyze timed alternately, see time_pair_ms)
        "analyze_vs_floor_ratio": ratio,
        "analyze_table_vs_floor_ratio": table_ratio,
        "stages_median_ms": stages,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
