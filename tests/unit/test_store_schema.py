"""The journal file: opening it, its settings, and migrating it forward (a v5 file to v6 too)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database
from store_support import BTC, T0, raw

from guardbot.store import (
    CURRENT_VERSION,
    ActionStatus,
    Journal,
    JournalError,
    JournalReader,
    schema,
)


def test_open_creates_a_wal_journal_with_the_documented_settings(sj: Journal, path: Path) -> None:
    def pragmas(db: Database) -> tuple[Any, ...]:
        return tuple(
            db.execute(f"PRAGMA {p}").fetchone()[0]
            for p in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
        )

    assert sj._submit(pragmas).result() == ("wal", 1, 5000, 1)  # synchronous 1 = NORMAL
    with raw(path) as c:
        assert c.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == CURRENT_VERSION
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        indices = {
            r[0] for r in c.execute("SELECT sql FROM sqlite_master WHERE type='index' AND sql NOT NULL")
        }
    assert {
        "snapshots",
        "positions",
        "decisions",
        "actions",
        "alerts",
        "transitions",
        "guard_state",
        "events",
    } <= (tables)
    for wanted in (
        "snapshots(account, ts)",
        "actions(status)",
        "actions(account, ts)",
        "alerts(ts)",
        "decisions(account, ts)",
    ):
        assert any(wanted in sql for sql in indices), wanted


def test_reopening_keeps_rows_and_does_not_migrate_again(path: Path) -> None:
    with Journal.open_sync(path) as j:
        j.record_event_sync("main", T0, kind="start", text="daemon started")
    with Journal.open_sync(path) as j:
        assert [h.row.text for h in j.history_sync(0, kinds=["event"])] == ["daemon started"]  # type: ignore[union-attr]
    with raw(path) as c:
        assert c.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == CURRENT_VERSION


def test_bad_paths_and_foreign_files_get_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match=r"directory .*missing.* does not exist"):
        Journal.open_sync(tmp_path / "missing" / "j.sqlite")
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database, just some notes\n" * 100)
    with pytest.raises(JournalError, match=r"cannot open journal .*notes\.txt"):
        Journal.open_sync(junk)
    other = tmp_path / "other.sqlite"
    with raw(other) as c:
        c.execute("CREATE TABLE recipes (name TEXT)")
    with pytest.raises(JournalError, match="not a guardbot journal"):
        Journal.open_sync(other)
    with raw(other) as c:  # untouched
        assert {r[0] for r in c.execute("SELECT name FROM sqlite_master")} == {"recipes"}
    with pytest.raises(JournalError, match="not found"):
        JournalReader(tmp_path / "nope.sqlite")
    assert not (tmp_path / "nope.sqlite").exists()


def test_closed_journal_refuses_calls_and_close_is_idempotent(path: Path) -> None:
    j = Journal.open_sync(path)
    j.close_sync()
    j.close_sync()
    assert j.closed
    with pytest.raises(JournalError, match="closed"):
        j.record_event_sync("main", T0, kind="x", text="y")


# --- snapshots and positions -----------------------------------------------------------------


def _make_v1_journal(path: Path) -> None:
    db = schema.connect_writer(path, target=1)
    db.execute(
        "INSERT INTO actions (account, ts, rule, kind, symbol, side, quantity, client_order_id,"
        " dry_run, status, updated_ts)"
        " VALUES ('main', ?, 'missing_stop', 'stop', ?, 'sell', 0.2, 'gb-v1', 0, 'sent', ?)",
        [T0, BTC, T0],
    )
    db.execute(
        "INSERT INTO guard_state (account, high_water_mark, trading_state, paused, updated_ts)"
        " VALUES ('main', 12000.0, 'HALTED', 1, ?)",
        [T0],
    )
    db.close()


def test_migrating_from_v1_to_current_keeps_data(path: Path) -> None:
    _make_v1_journal(path)
    with raw(path) as c:
        assert c.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == 1
        assert c.execute("SELECT name FROM sqlite_master WHERE name = 'events'").fetchone() is None
    with Journal.open_sync(path) as j:
        [pending] = j.pending_actions_sync()
        assert (pending.client_order_id, pending.status) == ("gb-v1", ActionStatus.SENT)
        state = j.load_guard_state_sync("main")
        assert state is not None and state.paused and state.trading_state == "HALTED"
        j.record_event_sync("main", T0, kind="upgrade", text="events exist from v2 on")
    with raw(path) as c:
        assert [r[0] for r in c.execute("SELECT version FROM schema_version ORDER BY version")] == list(
            range(1, CURRENT_VERSION + 1)
        )


def test_a_failing_migration_leaves_the_journal_as_it_was(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _make_v1_journal(path)

    def broken(db: Database) -> None:
        db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY)")
        raise sqlite3.OperationalError("disk on fire")

    monkeypatch.setattr(schema, "MIGRATIONS", (schema.MIGRATIONS[0], broken))
    with pytest.raises(JournalError, match="disk on fire"):
        Journal.open_sync(path)
    monkeypatch.undo()
    with raw(path) as c:
        assert c.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == 1
        assert c.execute("SELECT name FROM sqlite_master WHERE name = 'events'").fetchone() is None
    with Journal.open_sync(path) as j:  # the real migration then applies cleanly
        assert j.pending_actions_sync()[0].client_order_id == "gb-v1"


def test_a_newer_journal_is_refused_with_a_clear_line(path: Path) -> None:
    Journal.open_sync(path).close_sync()
    with raw(path) as c:
        c.execute("INSERT INTO schema_version (version, applied_ts) VALUES (?, ?)", [CURRENT_VERSION + 7, T0])
    msg = f"schema version {CURRENT_VERSION + 7}, newer than this guardbot understands"
    with pytest.raises(JournalError, match=msg):
        Journal.open_sync(path)
    with pytest.raises(JournalError, match=msg):
        JournalReader(path)


def test_reader_asks_for_a_migration_on_an_older_journal(path: Path) -> None:
    _make_v1_journal(path)
    with pytest.raises(JournalError, match=r"older than this guardbot .* start the daemon once to migrate"):
        JournalReader(path)


# --- crash safety, concurrency --------------------------------------------------------------------


def _make_v5_journal(path: Path) -> list[int]:
    """Two minutes of 10 s cycles as schema 5 wrote them: a row and its positions every cycle."""
    db = schema.connect_writer(path, target=5)
    ids = []
    for i in range(12):
        cur = db.execute(
            "INSERT INTO snapshots (account, ts, equity, wallet_balance, unrealized_pnl,"
            " maintenance_margin, initial_margin, margin_ratio, effective_leverage, gross_notional,"
            " net_notional, state, positions_count)"
            " VALUES ('main', ?, ?, 10000, 0, 200, 1000, 0.02, 2, 20000, 20000, 'ACTIVE', 1)",
            [T0 + i * 10_000, 10_000.0 + i],
        )
        ids.append(int(cur.lastrowid or 0))
        db.execute(
            "INSERT INTO positions (snapshot_id, account, ts, symbol, side, contracts, entry_price,"
            " mark_price, notional, unrealized_pnl, liquidation_price, stop_price)"
            " VALUES (?, 'main', ?, ?, 'long', 0.2, 50000, ?, 10000, 0, 1000, 47000)",
            [ids[-1], T0 + i * 10_000, BTC, 50_000.0 + i],
        )
    db.execute(
        "INSERT INTO actions (account, ts, rule, kind, symbol, side, quantity, client_order_id,"
        " dry_run, status, updated_ts) VALUES ('main', ?, 'missing_stop', 'stop', ?, 'sell', 0.2, 'gb-v5', 0,"
        " 'confirmed', ?)",
        [T0, BTC, T0],
    )
    db.execute(
        "INSERT INTO operator_requests (account, ts, action, requested_by, status)"
        " VALUES ('main', ?, 'pause', 'cli', 'done')",
        [T0],
    )
    db.conn.commit()
    db.close()
    return ids


def test_a_v5_journal_upgrades_in_place_with_nothing_lost(path: Path) -> None:
    ids = _make_v5_journal(path)
    with Journal.open_sync(path) as j:  # the daemon's first start on the new version
        assert [t for t, _, _ in j.equity_series_sync("main", 0)] == [T0 + i * 10_000 for i in range(12)]
        assert j.cycles_journaled_sync("main") == 12
        [old] = j.positions_of_sync(ids[5])  # old rows still read from the `positions` table
        assert (old.symbol, old.mark_price, old.stop_price) == (BTC, 50_005.0, 47_000.0)
        assert j.action_by_client_id_sync("gb-v5") is not None
        new = j.record_snapshot_sync("main", T0 + 120_000, {**FIGURES_V5, "equity": 10_011.0}, [], "ACTIVE")
        assert new not in ids and j.positions_of_sync(new) == []
    with raw(path) as c:
        assert c.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == CURRENT_VERSION == 6
        assert c.execute("SELECT COUNT(*) FROM snapshot_positions").fetchone()[0] == 12  # old layout, as rows
        assert c.execute("SELECT COUNT(*) FROM operator_requests").fetchone()[0] == 1
    with JournalReader(path) as r:
        assert r.latest_snapshots()[0].ts == T0 + 120_000


FIGURES_V5: dict[str, Any] = {
    "equity": 10_000.0,
    "wallet_balance": 10_000.0,
    "unrealized_pnl": 0.0,
    "maintenance_margin": 200.0,
    "initial_margin": 1_000.0,
    "margin_ratio": 0.02,
    "effective_leverage": 2.0,
    "gross_notional": 20_000.0,
    "net_notional": 20_000.0,
}


def test_old_per_cycle_rows_are_thinned_with_their_positions_once_past_a_week(path: Path) -> None:
    ids = _make_v5_journal(path)
    with Journal.open_sync(path) as j:
        j.downsample_sync(T0 + 8 * 86_400_000)
    with raw(path) as c:
        left = {r[0] for r in c.execute("SELECT id FROM snapshots")}
        kept_positions = c.execute("SELECT COUNT(DISTINCT snapshot_id) FROM positions").fetchone()[0]
    assert left < set(ids) and ids[-1] in left  # thinned; the last row stays
    buckets = {(T0 + i * 10_000) // (15 * 60_000) for i in range(12)}
    assert kept_positions == len(buckets)  # one row per 15-minute bucket carries its positions
