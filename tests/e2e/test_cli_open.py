"""`guardbot open`: the command line's door to the one entry path, against the emulator over real
HTTP (its own ccxt client), journaled in the same file the daemon uses."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from pathlib import Path

import pytest

from guardbot.cli import main
from guardbot.guard.state import initial_state, set_paused
from guardbot.sim import SimAccount, SimServer
from guardbot.store import GuardStateRow, Journal, JournalReader
from guardbot.store.intents import IntentStatus


@pytest.fixture
def account(sim: SimServer) -> SimAccount:
    return sim.engine.create_account(10_000.0)


@pytest.fixture
def env(sim: SimServer, account: SimAccount, tmp_path: Path) -> dict[str, str]:
    cfg = tmp_path / "guardbot.toml"
    cfg.write_text(
        f'[[accounts]]\nname = "sim"\nexchange = "binanceusdm"\nbase_url = "{sim.base_url}"\n'
        'dry_run = false\napi_key_env = "SIM_KEY"\napi_secret_env = "SIM_SECRET"\n'
        f'[storage]\npath = "{tmp_path / "journal.sqlite"}"\n'
    )
    return {"SIM_KEY": account.api_key, "SIM_SECRET": account.secret, "GUARDBOT_CONFIG": str(cfg)}


async def _in_thread(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    stdin: str,
    *argv: str,
) -> tuple[int, str, str]:
    """main() in a thread (it runs its own event loop) while the emulator serves in this one."""
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_open_with_yes_sends_the_bracket(
    sim: SimServer, account: SimAccount, env: dict[str, str], tmp_path: Path
) -> None:
    """The exact command line a trader types, in its own process."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "guardbot.cli",
        *("open", "sim", "BTC", "long", "--stop", "93100", "--risk", "50", "--tp", "97000:0.5", "--yes"),
        env={**os.environ, **env},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert "entry buy 0.023 BTC/USDT:USDT" in out.decode() and "stop sell 0.023" in out.decode()
    assert account.positions[("BTCUSDT", "BOTH")].qty == pytest.approx(0.023)
    types = sorted(o.order_type for o in account.algo_orders.values() if o.is_open)
    assert types == ["STOP_MARKET", "TAKE_PROFIT_MARKET"]
    with JournalReader(tmp_path / "journal.sqlite") as r:
        [intent] = r.intents_for("sim")
        [bracket] = r.brackets_for("sim")
    assert (intent.source, intent.status) == ("manual", IntentStatus.PLACED)
    assert bracket.stop_client_id and len(bracket.take_profit_client_ids) == 1


async def test_open_asks_first_and_no_sends_nothing(
    sim: SimServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = await _in_thread(
        monkeypatch, capsys, env, "n\n", "open", "sim", "SOL", "short", "--stop", "190", "--risk-pct", "0.5"
    )
    assert code == 1
    assert "Size short SOL/USDT:USDT" in out and "send it? [y/N]" in out and "nothing sent" in out
    assert sim.mutating_requests() == []


async def test_open_is_refused_while_the_account_is_paused(
    sim: SimServer,
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    paused = set_paused(initial_state(), True)
    with Journal.open_sync(tmp_path / "journal.sqlite") as j:  # what the daemon saved after /pause
        j.save_guard_state_sync(
            GuardStateRow("sim", None, None, None, "ACTIVE", None, None, True, 1, paused.to_dict())
        )
    code, _, err = await _in_thread(
        monkeypatch, capsys, env, "", "open", "sim", "BTC", "long", "--stop", "93100", "--yes"
    )
    assert code == 2
    assert err.strip() == (
        "guardbot: refused, nothing sent: entries are paused by the user (/resume to allow them again)"
    )
    assert sim.mutating_requests() == []


class _MovesTheMarket(io.StringIO):
    """The trader thinks a while: the market moves before the answer comes."""

    def __init__(self, sim: SimServer, answer: str) -> None:
        super().__init__(answer)
        self.sim = sim

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        self.sim.engine.set_mark("BTCUSDT", 96_500.0)  # the CLI thread waits here; the loop is idle
        return super().readline()


async def test_a_size_that_moved_while_asking_sends_nothing_and_shows_the_new_figures(
    sim: SimServer,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(sys, "stdin", _MovesTheMarket(sim, "y\n"))
    code = await asyncio.to_thread(main, ["open", "sim", "BTC", "long", "--stop", "93100", "--risk", "50"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "the size changed from 0.023 to 0.013" in err and "run the command again" in err
    assert "Quantity" in out and "0.013" in out  # the new figures
    assert sim.mutating_requests() == []


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["open", "sim", "BTC", "long", "--stop", "93100", "--tp", "97000"], "expected PRICE:FRACTION"),
        (["open", "sim", "BTC", "up", "--stop", "93100"], "invalid choice: 'up'"),
        (["open", "nope", "BTC", "long", "--stop", "93100"], "unknown account 'nope'"),
        (["open", "sim", "BTC", "long", "--stop", "93100", "--tp", "90000:1"], "must be above its stop"),
    ],
)
async def test_open_mistakes_are_one_line(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    expected: str,
) -> None:
    try:
        code, _, err = await _in_thread(monkeypatch, capsys, env, "", *argv)
    except SystemExit as exc:  # argparse exits
        code, err = int(exc.code or 0), capsys.readouterr().err
    assert code == 2
    assert expected in err and len(err.strip().splitlines()) == 1, err


def test_strategies_lists_pauses_and_resumes_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "guardbot.toml"
    cfg.write_text(
        '[[accounts]]\nname = "sim"\nexchange = "binanceusdm"\n'
        f'[storage]\npath = "{tmp_path / "journal.sqlite"}"\n'
        '[[strategies]]\nname = "donchian_breakout"\naccounts = ["sim"]\n'
    )
    monkeypatch.setenv("GUARDBOT_CONFIG", str(cfg))
    assert main(["strategies"]) == 0
    assert "donchian_breakout (sim, bar): configured" in capsys.readouterr().out
    assert main(["strategies", "pause", "donchian_breakout"]) == 0
    assert main(["strategies", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"state": "paused"' in out and '"why": "paused by hand"' in out
    assert main(["strategies", "resume", "donchian_breakout"]) == 0
    assert "resumed" in capsys.readouterr().out
    assert main(["strategies", "resume", "nope"]) == 2
    assert (
        capsys.readouterr().err.strip() == "guardbot: unknown strategy 'nope'; configured: donchian_breakout"
    )
