"""The README's commands work as pasted, where they can run here (no keys, no network, no Docker):

- shell blocks marked `<!-- readme-test: run -->` run in bash and must succeed;
- transcripts (`$ command` followed by its output) run and must print what the README shows
  (`...` stands for text the README shortened);
- every variable a shell block exports or passes to Docker is one the example config names (or a
  GUARDBOT_* one), and the Docker example passes the Telegram token.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from .cli import GUARDBOT, clean_env

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"(?:<!-- readme-test: (?P<mark>\w+) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)```", re.DOTALL)


def blocks(lang: str | None = None, mark: str | None = None) -> list[str]:
    return [
        m["body"]
        for m in BLOCK.finditer(README)
        if (lang is None or m["lang"] == lang) and (mark is None or m["mark"] == mark)
    ]


def transcripts() -> list[list[tuple[str, str]]]:
    """Per plain block: (command, expected output) for each of its `$ ` lines, run in order."""
    out = []
    for body in blocks(lang=""):
        lines = body.splitlines()
        steps = []
        for i, line in enumerate(lines):
            if line.startswith("$ "):
                expected = []
                for following in lines[i + 1 :]:
                    if following.startswith("$ "):
                        break
                    expected.append(following)
                steps.append((line[2:], "\n".join(expected)))
        if steps:
            out.append(steps)
    return out


@pytest.fixture
def here(tmp_path: Path) -> Path:
    """A directory that looks like the checkout after `make demo`: .venv and guardbot/examples."""
    (tmp_path / ".venv").symlink_to(Path(GUARDBOT).parents[1])
    (tmp_path / "guardbot").symlink_to(ROOT / "guardbot")
    return tmp_path


def env() -> dict[str, str]:
    return clean_env({"PATH": f"{Path(GUARDBOT).parent}:/usr/bin:/bin"})


def test_the_readme_has_what_this_test_runs() -> None:
    assert len(blocks(lang="sh", mark="run")) >= 1 and len(transcripts()) >= 2


@pytest.mark.parametrize("body", blocks(lang="sh", mark="run"))
def test_marked_shell_blocks_run_as_pasted(here: Path, body: str) -> None:
    ran = subprocess.run(
        ["bash", "-e", "-c", body],
        cwd=here,
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, (body, ran.stdout, ran.stderr)
    assert "Traceback" not in ran.stderr


@pytest.mark.parametrize("steps", transcripts(), ids=lambda steps: steps[-1][0][:40])
def test_transcripts_print_what_the_readme_shows(here: Path, steps: list[tuple[str, str]]) -> None:
    for command, expected in steps:
        ran = subprocess.run(
            ["bash", "-c", command],
            cwd=here,
            env=env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        got = " ".join((ran.stdout + ran.stderr).split())
        pattern = ".*".join(re.escape(" ".join(part.split())) for part in expected.split("..."))
        assert re.fullmatch(pattern, got, re.DOTALL), (command, expected, got)


def test_every_variable_in_the_shell_examples_is_one_the_config_names() -> None:
    example = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    named = {v for v in re.findall(r'_env\s*=\s*"([A-Z0-9_]+)"', example)}
    named.add(tomllib.loads(example).get("telegram", {}).get("bot_token_env", "GUARDBOT_TELEGRAM_TOKEN"))
    used: set[str] = set()
    for body in blocks(lang="sh"):
        used |= set(re.findall(r"\b([A-Z][A-Z0-9_]*)=\.\.\.", body))  # export NAME=... NAME2=...
        used |= set(re.findall(r"-e\s+([A-Z][A-Z0-9_]*)\b(?!=)", body))
    assert used, "no exported variable found: the pattern is out of date"
    assert sorted(v for v in used if v not in named and not v.startswith("GUARDBOT_")) == []
    [docker] = [b for b in blocks(lang="sh") if "docker run" in b]
    assert "-e GUARDBOT_TELEGRAM_TOKEN" in docker
