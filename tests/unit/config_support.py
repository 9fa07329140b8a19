"""What the configuration tests share: a config file written from text, and its problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardbot.config import ConfigError, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
SECRET = "s3cr3t-value-never-shown"

ACCOUNT = """
[[accounts]]
name = "main"
exchange = "binanceusdm"
api_key_env = "MAIN_KEY"
api_secret_env = "MAIN_SECRET"
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: str | Path | None, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={} if environ is None else environ)
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems
