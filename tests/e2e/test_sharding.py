"""More accounts than one process: two guardbot instances side by side, each with its own config,
journal and metrics port (docs/operations.md), in one process here as two Daemons would run in two.
Each endpoint reports only its own accounts, and `guardbot status --journal A --journal B` (the
installed command, in a subprocess) shows every account of both journals.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from guardbot.config import load_settings
from guardbot.daemon import Daemon
from guardbot.sim import SimServer
from guardbot.store import JournalReader

from .cli import aguardbot
from .conftest import RecordingNotifier
from .test_daemon import _bounded, _credentials, _snapshots, _until, _write_config
from .test_ops import _scrape, _value, _with_metrics


async def test_two_instances_two_journals_one_status(sim: SimServer, tmp_path: Path) -> None:
    accounts = {"alpha": sim.engine.create_account(10_000), "beta": sim.engine.create_account(7_000)}
    sim.engine.open_position(accounts["beta"].api_key, "ETHUSDT", "short", 1, leverage=5)
    daemons: dict[str, Daemon] = {}
    dirs = {name: tmp_path / name for name in accounts}
    for name, acct in accounts.items():
        dirs[name].mkdir()
        config = _with_metrics(_write_config(dirs[name], {name: (sim.base_url, False)}))
        daemons[name] = Daemon(
            load_settings(config, environ=_credentials(**{name: acct})), RecordingNotifier()
        )
    runs = [asyncio.create_task(d.run()) for d in daemons.values()]
    journals = {name: dirs[name] / "journal.sqlite" for name in accounts}
    try:
        for name in accounts:
            await _until(lambda name=name: _snapshots(journals[name], name) >= 2, f"{name}'s cycles")
        addresses = {name: d.ops.address for name, d in daemons.items()}
        assert None not in addresses.values()
        assert len({a[1] for a in addresses.values() if a}) == 2  # a port each
        for name, address in addresses.items():
            assert address is not None
            samples = await _scrape(address)
            scraped = {dict(labels)["account"] for n, labels in samples if n == "guardbot_equity"}
            assert scraped == {name}  # each instance exports its own accounts only
            assert _value(samples, "guardbot_equity", account=name) > 0
    finally:
        for d in daemons.values():
            d.stop_event.set()
        for run in runs:
            assert await _bounded(run, "a daemon's shutdown") == 0

    ran = await aguardbot(
        "status",
        "--json",
        "--journal",
        str(journals["alpha"]),
        "--journal",
        str(journals["beta"]),
        cwd=tmp_path,
    )
    assert ran.code == 0, ran.err
    rows = json.loads(ran.out)
    assert [(r["account"], r["journal"]) for r in rows] == [
        ("alpha", str(journals["alpha"])),
        ("beta", str(journals["beta"])),
    ]
    for row in rows:
        with JournalReader(journals[row["account"]]) as r:
            [latest] = r.latest_snapshots()
        assert row["equity"] == latest.equity and row["positions"] == latest.positions_count
    assert [r["positions"] for r in rows] == [0, 1]

    table = await aguardbot(
        "status", "--journal", str(journals["alpha"]), "--journal", str(journals["beta"]), cwd=tmp_path
    )
    assert table.code == 0, table.err
    for name in accounts:
        assert f"{journals[name]}: guardbot status: no daemon running" in " ".join(table.out.split())
        assert name in table.out

    missing = await aguardbot(
        "status",
        "--journal",
        str(journals["alpha"]),
        "--journal",
        str(tmp_path / "nope.sqlite"),
        cwd=tmp_path,
    )
    missing.one_line_error(f"no journal at {tmp_path / 'nope.sqlite'}")
