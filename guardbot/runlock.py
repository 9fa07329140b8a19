"""One daemon per journal: an OS file lock on `<journal>.lock`, next to the journal.

`guardbot run` holds it for as long as it runs; a second `guardbot run` on the same journal is
refused with one line naming the first (pid, start time). The lock is `fcntl.flock`, so the OS
releases it when the holder exits for any reason (a crash or `kill -9` included); a stale lock
file left behind holds nothing. The CLI's pause/resume/flatten use the same lock to tell whether
a daemon is running (then they ask it) or not (then they act themselves, holding the lock).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from guardbot.errors import UserError


@dataclass(frozen=True, slots=True)
class Holder:
    pid: int | None
    started: str  # ISO time, UTC
    command: str

    def describe(self) -> str:
        pid = f"pid {self.pid}" if self.pid else "pid unknown"
        return f"{self.command}, {pid}, started {self.started}"


class AlreadyRunning(UserError):
    """Another process holds the journal's lock."""

    def __init__(self, journal: Path, holder: Holder | None) -> None:
        self.holder = holder
        who = holder.describe() if holder else "a process that did not say who it is"
        super().__init__(
            f"another guardbot is running on journal {journal} ({who}); "
            "stop it first, or give this one its own storage.path"
        )


def lock_path(journal: str | Path) -> Path:
    return Path(f"{journal}.lock")


class JournalLock:
    """`with JournalLock(path, "guardbot run"):` or `acquire()` / `release()`."""

    def __init__(self, journal: str | Path, command: str) -> None:
        self.journal = Path(journal)
        self.path = lock_path(journal)
        self.command = command
        self._fd: int | None = None

    def acquire(self) -> None:
        if not self.journal.parent.is_dir():
            raise UserError(
                f"cannot open journal {self.journal}: directory {self.journal.parent} does not exist"
            )
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise UserError(f"cannot create the lock file {self.path}: {err.strerror or err}") from None
        for attempt in range(3):  # `running_daemon` holds a shared lock for a few microseconds
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if attempt == 2:
                    os.close(fd)
                    raise AlreadyRunning(self.journal, read_holder(self.path)) from None
                time.sleep(0.05)
        started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        record = {"pid": os.getpid(), "started": started, "command": self.command}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)  # the file stays (removing it would race a new holder)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> JournalLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def read_holder(path: Path) -> Holder | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "null")
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pid = data.get("pid")
    return Holder(
        pid if isinstance(pid, int) else None, str(data.get("started", "?")), str(data.get("command", "?"))
    )


def running_daemon(journal: str | Path) -> Holder | None:
    """Who holds the journal's lock now (None: nobody). Takes and drops the lock to find out."""
    path = lock_path(journal)
    if not path.exists():
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return read_holder(path) or Holder(None, "?", "guardbot")
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
