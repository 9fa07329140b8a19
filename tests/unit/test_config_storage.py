"""`[storage]`: the journal's sampling and downsampling keys, as a user writes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardbot.config import ConfigError, StorageConfig, load_settings
from guardbot.store.sampling import SamplingPolicy


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, environ={})


def test_the_defaults_are_the_documented_policy() -> None:
    assert StorageConfig().sampling() == SamplingPolicy()


def test_keys_become_the_journals_policy(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        "[storage]\nsnapshot_every_s = 120\nsnapshot_equity_move_pct = 1\n"
        "snapshot_margin_ratio_move_pct = 0.5\npositions_every_s = 600\n"
        "downsample_after_days = 3\ndownsample_bucket_minutes = 60\n",
    )
    assert settings.storage.sampling() == SamplingPolicy(  # type: ignore[attr-defined]
        every_ms=120_000,
        equity_move=0.01,
        margin_ratio_move=0.005,
        positions_every_ms=600_000,
        downsample_after_ms=3 * 86_400_000,
        bucket_ms=3_600_000,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("snapshot_every_s = 0", "storage.snapshot_every_s"),
        ("snapshot_equity_move_pct = -1", "storage.snapshot_equity_move_pct"),
        ("downsample_after_days = 0", "storage.downsample_after_days"),
        ("snapshot_every_s = 600\ndownsample_bucket_minutes = 5", "storage.downsample_bucket_minutes"),
    ],
)
def test_nonsense_is_one_line_naming_the_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "[storage]\n" + text + "\n")
    assert len(info.value.problems) == 1 and expected in info.value.problems[0]
