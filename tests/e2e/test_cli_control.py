"""`guardbot pause|resume|flatten` typed in a shell, with a `guardbot run` daemon running (they ask it
through the journal) and without one (they act themselves); one daemon per journal; `run --dry-run`.

Everything is the real thing: the installed `guardbot` entry point in subprocesses, the emulator on
127.0.0.1 served by this test's event loop, the journal file they share.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from guardbot.config import GuardConfig, RiskConfig
from guardbot.guard import GuardLimits
from guardbot.guard.state import initial_state, lock
from guardbot.sim import SimAccount, SimServer
from guardbot.store import Journal, JournalReader
from guardbot.store.rows import GuardStateRow

from .cli import GUARDBOT, aguardbot, clean_env

WAIT_S = 30.0


def write_config(tmp_path: Path, base_url: str, *, live: bool = True) -> Path:
    path = tmp_path / "guardbot.toml"
    path.write_text(
        f"""
[[accounts]]
name = "main"
exchange = "binanceusdm"
base_url = "{base_url}"
dry_run = {"false" if live else "true"}
api_key_env = "MAIN_KEY"
api_secret_env = "MAIN_SECRET"

[guard]
new_position_grace_s = 0

[storage]
path = "{tmp_path / "journal.sqlite"}"

[schedule]
# the pace of a real Binance account (its request weight allows ~2 s); the CLI's requests are
# served between two cycles
interval_s = 5
"""
    )
    return path


@pytest.fixture
def acct(sim: SimServer) -> SimAccount:
    a = sim.engine.create_account(10_000)
    sim.engine.open_position(a.api_key, "BTCUSDT", "long", 0.1, leverage=10)
    sim.engine.open_position(a.api_key, "ETHUSDT", "long", 2.0, leverage=10)
    return a


@pytest.fixture
def home(tmp_path: Path, sim: SimServer) -> Path:
    write_config(tmp_path, sim.base_url)
    return tmp_path


def keys(a: SimAccount) -> dict[str, str]:
    return {"MAIN_KEY": a.api_key, "MAIN_SECRET": a.secret}


def held(sim: SimServer, a: SimAccount) -> dict[str, float]:
    return {sym: p.qty for (sym, _), p in sim.engine.account(a.api_key).positions.items() if p.qty}


class Daemon:
    """`guardbot run` in a subprocess whose log is read all the time (a full pipe would stall it)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        while raw := await self.proc.stderr.readline():
            self.lines.append(raw.decode())

    async def until(self, fragment: str, after: int = 0) -> str:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            found = [line for line in self.lines[after:] if fragment in line]
            if found:
                return found[0]
            if self.reader.done():
                break
            await asyncio.sleep(0.05)
        raise AssertionError(f"no log line with {fragment!r}:\n{''.join(self.lines)}")


@contextlib.asynccontextmanager
async def daemon(home: Path, env: dict[str, str], *args: str) -> AsyncIterator[Daemon]:
    proc = await asyncio.create_subprocess_exec(
        GUARDBOT,
        "run",
        *args,
        cwd=home,
        env=clean_env(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    d = Daemon(proc)
    try:
        await d.until("main: equity")
        yield d
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), WAIT_S)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await d.reader


async def test_pause_flatten_resume_reach_the_running_daemon(
    sim: SimServer, acct: SimAccount, home: Path
) -> None:
    env = keys(acct)
    async with daemon(home, env) as d:
        ran = await aguardbot("pause", "--account", "main", cwd=home, env=env)
        assert ran.code == 0, ran.err
        assert "main: entries paused" in ran.out
        assert f"asking the running daemon (guardbot run, pid {d.proc.pid}," in ran.err

        ran = await aguardbot("flatten", "--account", "main", "--yes", cwd=home, env=env)
        assert ran.code == 0, ran.err
        assert "main: closed 2 position(s)" in ran.out and "reduce-only market sell" in ran.out
        assert held(sim, acct) == {}

        ran = await aguardbot("resume", "--account", "main", cwd=home, env=env)
        assert ran.code == 0, ran.err
        assert "pause lifted" in ran.out

        # a second daemon on the same journal is refused, naming the first
        second = await aguardbot("run", cwd=home, env=env)
        line = second.one_line_error(f"another guardbot is running on journal {home / 'journal.sqlite'}")
        assert f"guardbot run, pid {d.proc.pid}, started 20" in line
        await d.until("pause by guardbot CLI")

    with JournalReader(home / "journal.sqlite") as r:
        commands = [h.row.text for h in r.history(0, kinds=["event"]) if h.row.kind == "command"]
        told = [h.row for h in r.history(0, kinds=["alert"]) if h.row.key.startswith("command:")]
    # and the chat (here: the console) was told, journaled like every alert
    assert [(a.key, a.level, a.delivered) for a in told] == [
        ("command:pause", "info", "console"),
        ("command:flatten", "critical", "console"),
        ("command:resume", "info", "console"),
    ]
    assert told[0].text.startswith("from the command line: main: entries paused")
    assert [c.split(" by ")[0] for c in commands] == ["pause", "flatten", "resume"]
    assert all(" by guardbot CLI (user " in c for c in commands)


async def test_a_crashed_daemon_releases_the_journal_and_the_cli_then_acts_itself(
    sim: SimServer, acct: SimAccount, home: Path
) -> None:
    env = keys(acct)
    async with daemon(home, env) as d:
        d.proc.kill()  # SIGKILL: no clean-up at all
        await d.proc.wait()
    ran = await aguardbot("pause", "--account", "main", cwd=home, env=env)
    assert ran.code == 0, ran.err
    assert "no daemon runs on" in ran.err and "main: entries paused" in ran.out
    with JournalReader(home / "journal.sqlite") as r:
        saved = r.load_guard_state("main")
    assert saved is not None and saved.paused


def save_state(home: Path, locked_minutes_ago: float) -> None:
    """The journal's guard state: HALTED by a drawdown lock taken `locked_minutes_ago`."""
    limits = GuardLimits.from_config(GuardConfig(), RiskConfig())
    at = int(time.time() * 1000 - locked_minutes_ago * 60_000)
    st = lock(initial_state(), at, limits, "drawdown 12% ≥ halt 10%")
    with Journal.open_sync(home / "journal.sqlite") as j:
        j.save_guard_state_sync(
            GuardStateRow(
                account="main",
                high_water_mark=st.high_water_mark,
                day_start_equity=st.day_start_equity,
                day_start_ts=st.day_start_ms,
                trading_state=st.trading_state.value,
                lock_reason=st.lock_reason,
                locked_until_ts=st.locked_until_ms,
                paused=st.paused,
                updated_ts=at,
                extra=st.to_dict(),
            )
        )


async def test_resume_without_a_daemon_refuses_first_in_a_cool_down_then_unlocks(
    sim: SimServer, acct: SimAccount, home: Path
) -> None:
    env = keys(acct)
    save_state(home, locked_minutes_ago=5)  # the default cool-down is 60 min
    ran = await aguardbot("resume", "--account", "main", cwd=home, env=env)
    ran.one_line_error("main: resume refused: cool-down has 55 min left")
    assert sim.mutating_requests() == []

    save_state(home, locked_minutes_ago=90)
    ran = await aguardbot("resume", "--account", "main", cwd=home, env=env)
    assert ran.code == 0, ran.err
    assert "main: resumed after lock: drawdown 12% ≥ halt 10%" in ran.out
    with JournalReader(home / "journal.sqlite") as r:
        saved = r.load_guard_state("main")
        [transition] = [h.row for h in r.history(0, kinds=["transition"])]
    assert saved is not None and saved.trading_state == "ACTIVE"
    assert (transition.from_state, transition.to_state) == ("HALTED", "ACTIVE")


async def test_resume_with_a_daemon_refuses_first_from_its_saved_state(
    sim: SimServer, acct: SimAccount, home: Path
) -> None:
    env = keys(acct)
    save_state(home, locked_minutes_ago=5)  # the daemon starts from it, and saves it every cycle
    async with daemon(home, env):
        ran = await aguardbot("resume", "--account", "main", cwd=home, env=env)
        ran.one_line_error("main: resume refused: cool-down has 55 min left")
    assert "asking the running daemon" not in ran.err


async def test_flatten_asks_first_and_an_unknown_account_lists_the_known_ones(
    sim: SimServer, acct: SimAccount, home: Path
) -> None:
    env = keys(acct)
    ran = await aguardbot("flatten", "--account", "main", cwd=home, env=env, stdin="n\n")
    assert ran.code == 1 and "close EVERY position" in ran.err and "not confirmed: nothing done" in ran.err
    ran = await aguardbot("flatten", "--account", "main", cwd=home, env=env, stdin="")
    ran.fails_with("no answer on stdin: nothing done (add --yes")
    assert len(held(sim, acct)) == 2 and sim.mutating_requests() == []

    ran = await aguardbot("flatten", "--account", "main", cwd=home, env=env, stdin="y\n")
    assert ran.code == 0, ran.err
    assert "main: closed 2 position(s)" in ran.out and held(sim, acct) == {}

    for command in ("pause", "flatten"):
        ran = await aguardbot(command, "--account", "nosuch", cwd=home, env=env)
        ran.one_line_error("unknown account 'nosuch'; known accounts: main")


async def test_run_dry_run_sends_nothing_whatever_the_config_says(
    sim: SimServer, acct: SimAccount, home: Path
) -> None:
    env = keys(acct)  # the config says dry_run = false, and the positions have no stop
    config = home / "guardbot.toml"
    config.write_text(
        config.read_text().replace("dry_run = false", 'dry_run = false\nignore_symbols = ["ETH"]')
    )
    async with daemon(home, env, "--dry-run") as d:
        await d.until("DRY-RUN")
        status = await aguardbot("status", "--json", cwd=home, env=env)
        table = await aguardbot("status", cwd=home, env={**env, "COLUMNS": "200"})
        await asyncio.sleep(0.5)  # a few more cycles
    # the start line says, per account, that nothing is sent and what each rule would do
    [start] = [line for line in d.lines if "guarding main on binanceusdm (live, DRY-RUN" in line]
    assert "sends nothing" in start
    assert "stops and cuts: margin_ratio, liquidation; stops only: stop; alerts only: drawdown" in start
    assert sim.mutating_requests() == []
    [row] = json.loads(status.out)
    assert row["dry_run"] is True and row["account"] == "main"
    # an ignored symbol is said at start and shown by status, so nobody wonders why it has no stop
    assert start.rstrip().endswith("; ignoring ETH") and row["ignored"] == ["ETH"]
    assert "ignored (measured, never acted on) — main: ETH" in table.out
