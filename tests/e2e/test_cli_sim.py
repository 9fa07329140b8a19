"""`guardbot sim` prints lines to paste into another terminal to guard its account: pasted as printed,
they start a guard on it, at an interval matched to the emulator's speed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from venue_spec import VENUES

from .cli import GUARDBOT, aguardbot, clean_env

WAIT_S = 30.0


@contextlib.asynccontextmanager
async def started(*argv: str, cwd: Path, env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group: bash and the guardbot it starts
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), WAIT_S)
            except TimeoutError:
                os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()


async def read_until(stream: asyncio.StreamReader, fragment: str, lines: list[str]) -> None:
    async def go() -> None:
        while raw := await stream.readline():
            lines.append(raw.decode())
            if fragment in lines[-1]:
                return
        raise AssertionError(f"never saw {fragment!r}:\n{''.join(lines)}")

    await asyncio.wait_for(go(), WAIT_S)


@pytest.mark.parametrize("exchange", VENUES)
async def test_the_printed_guard_recipe_works_as_pasted(exchange: str, tmp_path: Path) -> None:
    env = clean_env({"PATH": f"{Path(GUARDBOT).parent}{os.pathsep}{os.environ.get('PATH', '')}"})
    argv = (GUARDBOT, "sim", "--port", "0", "--speed", "10", "--exchange", exchange)
    async with started(*argv, cwd=tmp_path, env=env) as sim:
        assert sim.stdout is not None
        printed: list[str] = []
        await read_until(sim.stdout, "connect with ccxt:", printed)
        start = next(i for i, line in enumerate(printed) if line.startswith("guard it with guardbot"))
        recipe = "".join(printed[start + 1 : -1])
        assert "interval_s = 1   # 10x" in recipe
        (tmp_path / "pasted.sh").write_text(recipe)

        async with started("bash", "pasted.sh", cwd=tmp_path, env=env) as guard:
            assert guard.stderr is not None
            log: list[str] = []
            await read_until(guard.stderr, "sim: equity 10,000.00", log)
    assert any(f"guarding sim on {exchange}" in line for line in log), log


@pytest.mark.parametrize("exchange", ["bybit", "hyperliquid"])
async def test_the_demo_tells_its_story_on_another_venue(exchange: str, tmp_path: Path) -> None:
    ran = await aguardbot("demo", "--fast", "--exchange", exchange, "--out", str(tmp_path), cwd=tmp_path)
    assert ran.code == 0, ran.err
    assert f"{exchange} emulator at http://127.0.0.1:" in ran.out
    assert (tmp_path / "guardbot-demo.db").exists()
