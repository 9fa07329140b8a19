"""`[metrics]`: off and on loopback by default, a bad port is one line naming it, and the key
reference (docs/configuration.md, config.example.toml) lists every key of the section."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from guardbot.config import ConfigError, MetricsConfig, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_metrics_are_off_and_on_loopback_by_default() -> None:
    m = Settings().metrics
    assert (m.enabled, m.host, m.port) == (False, "127.0.0.1", 9464)


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("70000", "metrics.port: must be at most 65535 (got 70000)"),
        ('"http"', 'metrics.port: must be a whole number (got "http")'),
    ],
)
def test_a_bad_metrics_port_is_one_line_naming_it(tmp_path: Path, value: str, line: str) -> None:
    path = tmp_path / "guardbot.toml"
    path.write_text(f"[metrics]\nenabled = true\nport = {value}\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path, {})
    assert err.value.problems == [f"{path}: {line}"]


def test_metrics_can_be_switched_on_from_the_environment(tmp_path: Path) -> None:
    # what the Docker image does: the file stays as the user wrote it
    env = {"GUARDBOT_METRICS__ENABLED": "true", "GUARDBOT_METRICS__HOST": "0.0.0.0"}
    path = tmp_path / "guardbot.toml"
    path.write_text("[metrics]\nport = 9500\n")
    m = load_settings(path, env).metrics
    assert (m.enabled, m.host, m.port) == (True, "0.0.0.0", 9500)


def test_every_metrics_key_is_documented_in_the_reference_and_the_example() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    section = doc[doc.index("### `[metrics]`") :]
    section = section[: section.index("\n### ")] if "\n### " in section else section
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE))
    assert documented == set(MetricsConfig.model_fields)
    example = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    table = example[example.index("\n[metrics]\n") :].split("\n[", 2)[1]
    assert set(re.findall(r"^#?\s*([a-z_]+) =", table, re.MULTILINE)) == set(MetricsConfig.model_fields)
