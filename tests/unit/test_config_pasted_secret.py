"""A key pasted where a variable's NAME belongs is refused, and never echoed back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from guardbot.config import ConfigError, load_settings
from guardbot.config.fields import looks_like_a_secret

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"  # shaped like a Binance key


def _config(tmp_path: Path, key_env: str) -> Path:
    path = tmp_path / "g.toml"
    path.write_text(
        f"""[[accounts]]
name = "main"
exchange = "binanceusdm"
api_key_env = "{key_env}"
api_secret_env = "MAIN_SECRET"
"""
    )
    return path


@pytest.mark.parametrize("value", [KEY, "ABCD1234EFGH5678IJKL", "xT9fQ2mLw8Rk4Zp7"])
def test_secret_shaped_values_are_not_variable_names(value: str) -> None:
    assert looks_like_a_secret(value)


@pytest.mark.parametrize(
    "value", ["BINANCE_MAIN_KEY", "MAIN_SECRET", "KEY", "GUARDBOT_TELEGRAM_TOKEN", "BYBITKEY2"]
)
def test_ordinary_names_are_fine(value: str) -> None:
    assert not looks_like_a_secret(value)


def test_a_pasted_key_is_refused_without_echoing_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(_config(tmp_path, KEY), environ={"MAIN_SECRET": "s"})
    text = str(err.value)
    assert "api_key_env: must be the NAME of an environment variable" in text and KEY not in text


@pytest.mark.parametrize("command", [["config", "check"], ["run"]])
def test_the_cli_never_prints_it(tmp_path: Path, command: list[str]) -> None:
    config = _config(tmp_path, KEY)
    done = subprocess.run(
        [sys.executable, "-m", "guardbot.cli", *command, "--config", str(config)],
        capture_output=True,
        text=True,
        env={"MAIN_SECRET": "s", "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert done.returncode == 2
    assert KEY not in done.stdout + done.stderr
    assert "not the secret itself" in done.stderr
