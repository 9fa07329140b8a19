"""Every command's --help says what each option is for and ends with an example that names it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from guardbot.cli import build_parser

from .cli import guardbot


def commands() -> dict[str, argparse.ArgumentParser]:
    out: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
                        walk(sub, f"{prefix}{name} ")
                    else:
                        out[f"{prefix}{name}"] = sub

    walk(build_parser(), "")
    return out


COMMANDS = commands()


def test_every_command_is_covered() -> None:
    assert set(COMMANDS) >= {"analyze", "size", "config check", "snapshot", "sim", "run", "status", "history"}
    assert set(COMMANDS) >= {"pause", "resume", "flatten", "demo"}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_has_help_and_the_command_an_example(name: str) -> None:
    parser = COMMANDS[name]
    bare = [a.dest for a in parser._actions if not a.help]
    assert bare == [], f"guardbot {name}: options without help: {bare}"
    assert parser.epilog is not None and parser.epilog.startswith(f"example:\n  guardbot {name} ")


def test_help_prints_the_example_as_typed(tmp_path: Path) -> None:
    ran = guardbot("flatten", "--help", cwd=tmp_path)
    assert ran.code == 0
    assert ran.out.rstrip().endswith("example:\n  guardbot flatten --account main")
    assert "--yes" in ran.out and "do not ask for confirmation" in ran.out
