"""Running `guardbot` the way a user types it: the installed entry point, in a subprocess.

`guardbot(...)` blocks (for commands that need nothing from the test's event loop);
`aguardbot(...)` awaits the process, so an emulator served by the test's own loop keeps answering.
Both start from a clean environment: no GUARDBOT_* variable of the developer's shell leaks in.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

GUARDBOT = str(Path(sys.executable).with_name("guardbot"))
TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.strip().splitlines()

    def one_line_error(self, *fragments: str) -> str:
        """Assert the run failed as a user error: exit 2, one stderr line, no traceback."""
        assert self.code == 2, (self.code, self.out, self.err)
        assert "Traceback" not in self.err, self.err
        assert len(self.err_lines) == 1, self.err
        for fragment in fragments:
            assert fragment in self.err, (fragment, self.err)
        return self.err_lines[0]

    def fails_with(self, *fragments: str) -> str:
        """Like `one_line_error` for commands that talk first (a question, "asking the daemon"):
        the error is the last stderr line, and the only one that starts with "guardbot:"."""
        assert self.code == 2, (self.code, self.out, self.err)
        assert "Traceback" not in self.err, self.err
        errors = [line for line in self.err_lines if line.startswith("guardbot")]
        assert errors == self.err_lines[-1:], self.err
        for fragment in fragments:
            assert fragment in errors[0], (fragment, self.err)
        return errors[0]


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUARDBOT_")}
    env["COLUMNS"] = "200"
    env.update(extra or {})
    return env


def guardbot(*args: str, cwd: Path, env: Mapping[str, str] | None = None, stdin: str | None = None) -> Ran:
    proc = subprocess.run(
        [GUARDBOT, *args],
        cwd=cwd,
        env=clean_env(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    return Ran(proc.returncode, proc.stdout, proc.stderr)


async def aguardbot(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = TIMEOUT_S,
) -> Ran:
    proc = await asyncio.create_subprocess_exec(
        GUARDBOT,
        *args,
        cwd=cwd,
        env=clean_env(env),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else b""), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"guardbot {' '.join(args)} did not finish within {timeout:.0f}s") from None
    return Ran(proc.returncode or 0, out.decode(), err.decode())
