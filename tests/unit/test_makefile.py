"""`make demo` installs what guardbot needs to run, `make test` adds the dev tools; both create the
venv they need, and pip's progress is shown (a silent two-minute install looks hung)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def plan(target: str, tmp_path: Path) -> list[str]:
    """The commands `make TARGET` would run in a fresh checkout (`make -n`: nothing runs)."""
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    ran = subprocess.run(
        ["make", "--no-print-directory", "-n", target],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return ran.stdout.splitlines()


def installs(lines: list[str]) -> list[str]:
    return [line for line in lines if " pip install " in line]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_demo_creates_the_venv_and_installs_runtime_dependencies_only(tmp_path: Path) -> None:
    lines = plan("demo", tmp_path)
    assert any(line.endswith("-m venv .venv") for line in lines)
    [install] = installs(lines)
    assert install.endswith(" -e .") and "[dev]" not in install
    assert lines[-1] == ".venv/bin/guardbot demo"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_test_creates_the_venv_and_adds_the_dev_tools(tmp_path: Path) -> None:
    lines = plan("test", tmp_path)
    assert any(line.endswith("-m venv .venv") for line in lines)
    assert [line.split(" -e ")[1] for line in installs(lines)] == [".", "'.[dev]'"]
    assert lines[-1] == ".venv/bin/pytest -q"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_pip_is_never_silenced(tmp_path: Path) -> None:
    for target in ("demo", "test"):
        for install in installs(plan(target, tmp_path)):
            words = install.split()
            assert "--quiet" not in words and "-q" not in words, install


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_chaos_and_bench_create_the_venv_they_run_in(tmp_path: Path) -> None:
    # `make chaos` runs pytest: it needs the dev tools, not only a venv that may not exist yet
    chaos = plan("chaos", tmp_path)
    assert any(line.endswith("-m venv .venv") for line in chaos)
    assert [line.split(" -e ")[1] for line in installs(chaos)] == [".", "'.[dev]'"]
    assert chaos[-1].endswith(".venv/bin/pytest -q tests/chaos")
    bench = plan("bench", tmp_path)
    assert [line.split(" -e ")[1] for line in installs(bench)] == ["."]
    assert bench[-1] == ".venv/bin/python -m bench.run"
