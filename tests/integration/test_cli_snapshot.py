"""The user's path from an exchange to the analysis: `guardbot snapshot` against the emulator over
real HTTP, then `guardbot analyze` and `guardbot size` on the file it wrote."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from guardbot.risk.account import measure_account
from guardbot.sim import SimAccount, SimServer
from guardbot.snapshot_file import load_snapshot


async def _guardbot(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "guardbot.cli",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_snapshot_then_analyze_and_size(
    sim: SimServer, sim_account: SimAccount, tmp_path: Path
) -> None:
    eng = sim.engine
    eng.open_position(sim_account.api_key, "BTCUSDT", "long", 0.1, leverage=10)
    eng.open_position(sim_account.api_key, "SOLUSDT", "short", 20, leverage=5)
    cfg = tmp_path / "guardbot.toml"
    cfg.write_text(
        f'[[accounts]]\nname = "sim"\nexchange = "binanceusdm"\nbase_url = "{sim.base_url}"\n'
        'api_key_env = "SIM_KEY"\napi_secret_env = "SIM_SECRET"\n'
    )
    env = {
        **os.environ,
        "SIM_KEY": sim_account.api_key,
        "SIM_SECRET": sim_account.secret,
        "GUARDBOT_CONFIG": str(cfg),
    }
    out_file = tmp_path / "snap.json"

    code, _, err = await _guardbot(
        "snapshot", "--account", "sim", "--out", str(out_file), env=env, cwd=tmp_path
    )
    assert code == 0, err
    assert "2 position(s)" in err

    # the file is a valid schema-1 snapshot whose figures equal the exchange's own books
    snap = load_snapshot(out_file)
    ours = measure_account(snap)
    books = eng.account_figures(sim_account.api_key)
    assert abs(ours.equity - books.equity) <= 1e-9 * books.equity
    assert abs(ours.maintenance_margin - books.maintenance_margin) <= 1e-9 * books.maintenance_margin

    code, out, err = await _guardbot("analyze", str(out_file), "--json", env=env, cwd=tmp_path)
    assert code == 0, err
    assert {p["symbol"] for p in json.loads(out)["positions"]} == {"BTC/USDT:USDT", "SOL/USDT:USDT"}

    code, out, err = await _guardbot(
        "size",
        str(out_file),
        "--symbol",
        "ETH",
        "--side",
        "long",
        "--stop",
        str(round(eng.marks["ETHUSDT"] * 0.97, 2)),
        "--risk",
        "50",
        "--json",
        env=env,
        cwd=tmp_path,
    )
    assert code == 0, err
    assert json.loads(out)["risk_at_stop"] <= 50


async def test_snapshot_of_unknown_account_and_missing_secret_are_one_line(
    sim: SimServer, tmp_path: Path
) -> None:
    cfg = tmp_path / "guardbot.toml"
    cfg.write_text(
        f'[[accounts]]\nname = "sim"\nexchange = "binanceusdm"\nbase_url = "{sim.base_url}"\n'
        'api_key_env = "SIM_KEY_MISSING"\napi_secret_env = "SIM_SECRET_MISSING"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIM_")}
    env["GUARDBOT_CONFIG"] = str(cfg)
    code, _, err = await _guardbot("snapshot", "--account", "nope", env=env, cwd=tmp_path)
    assert code == 2 and "nope" in err and len(err.strip().splitlines()) == 1
    code, _, err = await _guardbot("snapshot", "--account", "sim", env=env, cwd=tmp_path)
    assert code == 2 and "SIM_KEY_MISSING" in err and "Traceback" not in err
