"""Argument types of the `guardbot` command and checks of the paths it writes to.

Each type raises `argparse.ArgumentTypeError` (argparse turns it into one line and exit 2); each
path check raises `UserError` before any work starts (no exchange call, no emulator), so a typo in
`--out` costs nothing.
"""

from __future__ import annotations

import argparse
import errno
import os
import tempfile
from pathlib import Path

from guardbot.errors import UserError
from guardbot.operator.inputs import InputError, Risk, parse_number, parse_pct, parse_risk


def price(text: str) -> float:
    try:
        return parse_number(text, "")
    except InputError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def amount(text: str) -> float:
    if text.strip().endswith("%"):
        raise argparse.ArgumentTypeError(f"expected a plain number, not a percentage (got {text!r})")
    try:
        return parse_number(text, "")
    except InputError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def risk(text: str) -> Risk:
    """`--risk 150` (settle currency) or `--risk 1%` (of equity)."""
    try:
        return parse_risk(text, "")
    except InputError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def percent(text: str) -> float:
    """`--risk-pct 1` or `--risk-pct 1%`."""
    try:
        return parse_pct(text, "")
    except InputError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a TCP port number, like 8765 (got {text!r})") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"a TCP port is from 1 to 65535, or 0 for any free port (got {value})"
        )
    return value


def _can_write_in(directory: Path) -> str | None:
    """Why nothing can be written in `directory` (None: it can)."""
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".guardbot-check-"):
            pass
    except OSError as err:
        if err.errno == errno.ENOENT:  # /proc and other virtual file systems answer this
            return "it does not accept new files"
        return err.strerror or type(err).__name__
    return None


def output_dir(path: str, flag: str) -> Path:
    """A directory to write into: created if missing; refused when it is a file or not writable."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UserError(f"{flag} {path}: is a file, expected a directory to write into")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"{flag} {path}: cannot create the directory: {err.strerror or err}") from None
    why = _can_write_in(out)
    if why is not None:
        raise UserError(f"{flag} {path}: cannot write there: {why}")
    return out


def output_file(path: str, flag: str) -> Path:
    """A file to (over)write: its directory must exist and be writable; it must not be a directory."""
    out = Path(path)
    if out.is_dir():
        raise UserError(f"{flag} {path}: is a directory, expected a file name")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"{flag} {path}: directory {parent} does not exist")
    why = _can_write_in(parent)
    if why is None and out.exists() and not os.access(out, os.W_OK):
        why = "the file is read-only"
    if why is not None:
        raise UserError(f"{flag} {path}: cannot write there: {why}")
    return out
