"""Fixtures of the journal tests: a journal file, driven through the sync or the async API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from guardbot.store import Journal


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite"


@pytest.fixture
def sj(path: Path) -> Iterator[Journal]:
    """A journal driven through the *_sync API (as scripts and the CLI do)."""
    j = Journal.open_sync(path)
    yield j
    j.close_sync()


@pytest.fixture
async def aj(path: Path) -> AsyncIterator[Journal]:
    j = await Journal.open(path)
    yield j
    await j.close()
