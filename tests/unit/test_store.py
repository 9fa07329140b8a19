"""The SQLite journal on a real file: every write and read, migrations, crash safety, WAL readers,
and the async API driven from an event loop."""

from __future__ import annotations

import asyncio
import gc
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

import guardbot
from guardbot.store import (
    CURRENT_VERSION,
    ActionConflictError,
    ActionKind,
    ActionStatus,
    AlertLevel,
    Delivery,
    GuardStateRow,
    HistoryKind,
    Journal,
    JournalError,
    JournalReader,
    schema,
)

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
DAY = 86_400_000
BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"

FIGURES: dict[str, Any] = {
    "equity": 10_500.0,
    "wallet_balance": 10_000.0,
    "unrealized_pnl": 500.0,
    "maintenance_margin": 210.0,
    "initial_margin": 1_050.0,
    "margin_ratio": 0.02,
    "effective_leverage": 2.0,
    "gross_notional": 21_000.0,
    "net_notional": 9_000.0,
    "available_margin": 9_450.0,  # AccountFigures has more fields than the table: ignored
}


def position(symbol: str = BTC, side: str = "long", **over: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "symbol": symbol,
        "side": side,
        "contracts": 0.2,
        "entry_price": 50_000.0,
        "mark_price": 52_500.0,
        "notional": 10_500.0,
        "unrealized_pnl": 500.0,
        "liquidation_price": 1_000.0,
        "liquidation_distance_pct": 98.1,
        "exchange_liquidation_price": 1_010.0,
        "stop_price": None,
    }
    p.update(over)
    return p


def action_args(client_order_id: str = "gb-main-stop-btc-1", **over: Any) -> dict[str, Any]:
    kw: dict[str, Any] = {
        "rule": "missing_stop",
        "kind": "stop",
        "client_order_id": client_order_id,
        "dry_run": False,
        "symbol": BTC,
        "side": "sell",
        "quantity": 0.2,
        "trigger_price": 47_500.0,
    }
    kw.update(over)
    return kw


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


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path)


# --- opening, settings -----------------------------------------------------------------------


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


def test_snapshot_with_positions_round_trips(sj: Journal) -> None:
    pos = [position(), position(ETH, "short", contracts=3.0, liquidation_price=None, stop_price=2_100.0)]
    sid = sj.record_snapshot_sync("main", T0, FIGURES, pos, "ACTIVE")
    [snap] = sj.latest_snapshots_sync()
    assert snap.id == sid and snap.account == "main" and snap.ts == T0
    assert (snap.equity, snap.margin_ratio, snap.positions_count, snap.state) == (10_500.0, 0.02, 2, "ACTIVE")
    rows = sj.positions_of_sync(sid)
    assert [(r.symbol, r.side) for r in rows] == [(BTC, "long"), (ETH, "short")]
    assert rows[0].exchange_liquidation_price == 1_010.0 and rows[0].stop_price is None
    assert rows[1].liquidation_price is None and rows[1].stop_price == 2_100.0
    assert all(r.snapshot_id == sid and r.ts == T0 and r.account == "main" for r in rows)


def test_infinite_margin_ratio_is_stored_as_infinity(sj: Journal) -> None:
    # measure_account reports margin_ratio = inf when equity <= 0: the worst case must not be lost.
    figs = {**FIGURES, "equity": -5.0, "margin_ratio": float("inf"), "effective_leverage": float("inf")}
    sj.record_snapshot_sync("main", T0, figs, [], "HALTED")
    [snap] = sj.latest_snapshots_sync()
    assert snap.margin_ratio == float("inf") and snap.positions_count == 0


def test_latest_snapshots_gives_one_row_per_account(sj: Journal) -> None:
    for i in range(5):
        sj.record_snapshot_sync("main", T0 + i * 1000, {**FIGURES, "equity": 100.0 + i}, [], "ACTIVE")
    sj.record_snapshot_sync("sub1", T0 + 500, {**FIGURES, "equity": 7.0}, [position()], "REDUCING")
    latest = sj.latest_snapshots_sync()
    assert [(s.account, s.equity, s.state) for s in latest] == [
        ("main", 104.0, "ACTIVE"),
        ("sub1", 7.0, "REDUCING"),
    ]


@pytest.mark.parametrize(
    ("figures", "positions", "state", "message"),
    [
        ({k: v for k, v in FIGURES.items() if k != "equity"}, [], "ACTIVE", "missing equity"),
        ({**FIGURES, "equity": float("nan")}, [], "ACTIVE", "figures.equity must be a finite number"),
        ({**FIGURES, "equity": "10"}, [], "ACTIVE", "figures.equity must be a number"),
        (FIGURES, [position(side="buy")], "ACTIVE", r"positions\[0\].side must be one of long, short"),
        (FIGURES, [{"symbol": BTC}], "ACTIVE", r"positions\[0\] is missing side, contracts"),
        (FIGURES, [], "PANIC", "state must be one of ACTIVE, REDUCING, HALTED"),
    ],
)
def test_bad_snapshot_input_is_refused_before_writing(
    sj: Journal, figures: dict[str, Any], positions: list[dict[str, Any]], state: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        sj.record_snapshot_sync("main", T0, figures, positions, state)
    assert sj.latest_snapshots_sync() == []


def test_timestamps_must_be_epoch_ms_ints(sj: Journal) -> None:
    with pytest.raises(ValueError, match="ts must be epoch milliseconds"):
        sj.record_snapshot_sync("main", 1_700_000_000.5, FIGURES, [], "ACTIVE")  # type: ignore[arg-type]


def test_a_failed_write_rolls_back_whole_and_keeps_earlier_rows(sj: Journal, path: Path) -> None:
    first = sj.record_snapshot_sync("main", T0, FIGURES, [position()], "ACTIVE")
    # The same (symbol, side) twice in one snapshot violates the positions key mid-transaction.
    with pytest.raises(sqlite3.IntegrityError):
        sj.record_snapshot_sync("main", T0 + 1000, FIGURES, [position(), position()], "ACTIVE")
    second = sj.record_snapshot_sync("main", T0 + 2000, FIGURES, [position()], "ACTIVE")
    with raw(path) as c:
        assert [r[0] for r in c.execute("SELECT id FROM snapshots ORDER BY id")] == [first, second]
        assert c.execute("SELECT COUNT(*) FROM positions").fetchone()[0] == 2  # no orphan from the failed one


def test_prune_removes_old_snapshots_and_their_positions_but_keeps_each_latest(
    sj: Journal, path: Path
) -> None:
    now = T0 + 30 * DAY
    for d in (0, 10, 25, 29):
        sj.record_snapshot_sync("main", T0 + d * DAY, FIGURES, [position()], "ACTIVE")
    sj.record_snapshot_sync("idle", T0, FIGURES, [position()], "ACTIVE")  # only ever one, 30 days old
    removed = sj.prune_snapshots_sync(7, now_ms=now)
    assert removed == 2  # main's day 0 and day 10
    with raw(path) as c:
        kept = c.execute("SELECT account, ts FROM snapshots ORDER BY account, ts").fetchall()
        assert kept == [("idle", T0), ("main", T0 + 25 * DAY), ("main", T0 + 29 * DAY)]
        assert c.execute("SELECT COUNT(*) FROM positions").fetchone()[0] == 3
    assert sj.prune_snapshots_sync(7, now_ms=now) == 0
    with pytest.raises(ValueError, match="older_than_days must be > 0"):
        sj.prune_snapshots_sync(0, now_ms=now)


def test_equity_series_is_ordered_and_bounded(sj: Journal) -> None:
    for i in (3, 1, 2, 0):  # written out of order
        sj.record_snapshot_sync("main", T0 + i * 1000, {**FIGURES, "equity": 100.0 + i}, [], "ACTIVE")
    sj.record_snapshot_sync("sub1", T0 + 1500, FIGURES, [], "ACTIVE")
    assert sj.equity_series_sync("main", T0 + 1000) == [
        (T0 + 1000, 101.0, 0.02),
        (T0 + 2000, 102.0, 0.02),
        (T0 + 3000, 103.0, 0.02),
    ]
    assert sj.equity_series_sync("main", T0, until_ms=T0 + 1000) == [
        (T0, 100.0, 0.02),
        (T0 + 1000, 101.0, 0.02),
    ]


# --- decisions, actions -------------------------------------------------------------------------


def test_decision_details_are_json_that_sqlite_can_query(sj: Journal, path: Path) -> None:
    did = sj.record_decision_sync(
        "main",
        T0,
        rule="margin_ratio",
        kind="reduce",
        symbol=BTC,
        reason="margin ratio 82% above 80% limit",
        details={"margin_ratio": 0.82, "limit": 0.8, "worst": float("inf"), "symbols": [BTC]},
    )
    [item] = sj.history_sync(0, kinds=["decision"])
    assert item.row.id == did
    assert item.row.details == {"margin_ratio": 0.82, "limit": 0.8, "worst": "inf", "symbols": [BTC]}  # type: ignore[union-attr]
    with raw(path) as c:  # users' scripts use SQLite's JSON functions on these columns
        assert (
            c.execute("SELECT json_extract(details, '$.margin_ratio') FROM decisions").fetchone()[0] == 0.82
        )


def test_pending_action_is_idempotent_on_client_order_id(sj: Journal, path: Path) -> None:
    did = sj.record_decision_sync("main", T0, rule="missing_stop", kind="place_stop", reason="no stop on BTC")
    first = sj.add_pending_action_sync("main", T0, decision_id=did, **action_args())
    again = sj.add_pending_action_sync("main", T0 + 5000, **action_args(quantity=0.19))  # a retry, resized
    assert again == first
    with raw(path) as c:
        assert c.execute("SELECT COUNT(*) FROM actions").fetchone()[0] == 1
    [row] = sj.pending_actions_sync()
    assert (row.id, row.decision_id, row.status, row.kind, row.dry_run) == (
        first,
        did,
        ActionStatus.PENDING,
        ActionKind.STOP,
        False,
    )
    assert (row.quantity, row.trigger_price, row.side, row.updated_ts) == (0.2, 47_500.0, "sell", T0)
    with pytest.raises(ActionConflictError, match="already used by action"):
        sj.add_pending_action_sync("main", T0, **action_args(symbol=ETH))  # an id collision is a bug
    with pytest.raises(ValueError, match="side must be the order side"):
        sj.add_pending_action_sync("main", T0, **action_args("gb-2", side="long"))
    with pytest.raises(ValueError, match="kind must be one of stop, reduce"):
        sj.add_pending_action_sync("main", T0, **action_args("gb-3", kind="hedge"))


def test_action_lifecycle_pending_sent_confirmed(sj: Journal) -> None:
    sj.add_pending_action_sync("main", T0, **action_args("gb-1"))
    sent = sj.update_action_sync("gb-1", "sent", ts=T0 + 10)
    assert sent.status is ActionStatus.SENT and sent.updated_ts == T0 + 10 and sent.exchange_order_id is None
    sj.update_action_sync("gb-1", "sent", exchange_order_id="987654", ts=T0 + 20)
    done = sj.update_action_sync("gb-1", ActionStatus.CONFIRMED, reply={"algoStatus": "NEW"}, ts=T0 + 30)
    assert (done.status, done.exchange_order_id, done.reply) == (
        ActionStatus.CONFIRMED,
        "987654",
        '{"algoStatus":"NEW"}',
    )
    assert done.ts == T0  # creation time is kept
    assert sj.pending_actions_sync() == []
    with pytest.raises(ValueError, match="already confirmed; cannot go back to pending"):
        sj.update_action_sync("gb-1", "pending")
    # A timed-out order found later on the exchange may still move between final states.
    assert sj.update_action_sync("gb-1", "failed").status is ActionStatus.FAILED
    with pytest.raises(KeyError, match="no action with client_order_id 'gb-404'"):
        sj.update_action_sync("gb-404", "sent")


def test_long_replies_are_truncated(sj: Journal) -> None:
    sj.add_pending_action_sync("main", T0, **action_args("gb-1"))
    row = sj.update_action_sync("gb-1", "rejected", reply="x" * 10_000)
    assert row.reply is not None and len(row.reply) == 2000 and row.reply.endswith("…")


def test_dry_run_actions_are_never_reconciled_or_sent(sj: Journal) -> None:
    sj.add_pending_action_sync("main", T0, **action_args("gb-dry", dry_run=True))
    [row] = sj.actions_for_sync("main", 0)
    assert row.status is ActionStatus.DRY_RUN and row.dry_run
    assert sj.pending_actions_sync() == []
    with pytest.raises(ValueError, match="is dry-run; it cannot become sent"):
        sj.update_action_sync("gb-dry", "sent")
    sj.add_pending_action_sync("main", T0, **action_args("gb-live"))
    with pytest.raises(ValueError, match="is live; it cannot become dry_run"):
        sj.update_action_sync("gb-live", "dry_run")


def test_pending_actions_filters_by_account_and_open_status(sj: Journal) -> None:
    sj.add_pending_action_sync("main", T0 + 2, **action_args("a-pending"))
    sj.add_pending_action_sync("main", T0 + 1, **action_args("a-sent"))
    sj.add_pending_action_sync("main", T0, **action_args("a-done"))
    sj.add_pending_action_sync("sub1", T0, **action_args("b-pending"))
    sj.update_action_sync("a-sent", "sent")
    sj.update_action_sync("a-done", "confirmed")
    assert [a.client_order_id for a in sj.pending_actions_sync("main")] == ["a-sent", "a-pending"]
    assert [a.client_order_id for a in sj.pending_actions_sync()] == ["b-pending", "a-sent", "a-pending"]
    assert sj.action_by_client_id_sync("a-done") is not None
    assert sj.action_by_client_id_sync("zzz") is None
    assert [a.client_order_id for a in sj.actions_for_sync("main", T0 + 1)] == ["a-sent", "a-pending"]


# --- alerts, transitions, guard state, events --------------------------------------------------


def test_alert_delivery_counts_attempts_and_dedup_lookup(sj: Journal) -> None:
    aid = sj.record_alert_sync("main", T0, level="critical", key="main:margin", text="margin ratio 85%")
    sj.update_alert_delivery_sync(aid, "failed")
    sj.update_alert_delivery_sync(aid, Delivery.SENT)
    later = sj.record_alert_sync(
        "main", T0 + 60_000, level="warning", key="main:margin", text="margin ratio 70%"
    )
    last = sj.last_alert_sync("main:margin")
    assert last is not None and last.id == later and last.level is AlertLevel.WARNING
    [first, _] = [h.row for h in sj.history_sync(0, kinds=["alert"])]
    assert (first.delivered, first.attempts) == (Delivery.SENT, 2)  # type: ignore[union-attr]
    sj.update_alert_delivery_sync(aid, "console", attempts=0)
    assert sj.last_alert_sync("other") is None
    with pytest.raises(KeyError, match="no alert with id 999"):
        sj.update_alert_delivery_sync(999, "sent")
    with pytest.raises(ValueError, match="level must be one of info, warning, critical"):
        sj.record_alert_sync(None, T0, level="panic", key="k", text="t")


def test_transitions_record_state_changes(sj: Journal) -> None:
    sj.record_transition_sync("main", T0, from_state=None, to_state="ACTIVE", reason="first start")
    sj.record_transition_sync(
        "main", T0 + 1, from_state="ACTIVE", to_state="HALTED", reason="daily loss 5.2%"
    )
    rows = [h.row for h in sj.history_sync(0, kinds=["transition"])]
    assert [(r.from_state, r.to_state) for r in rows] == [(None, "ACTIVE"), ("ACTIVE", "HALTED")]  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="to_state must be one of"):
        sj.record_transition_sync("main", T0, from_state="ACTIVE", to_state="FROZEN", reason="?")


def test_guard_state_round_trips_and_survives_restart(path: Path) -> None:
    state = GuardStateRow(
        account="main",
        high_water_mark=12_000.0,
        day_start_equity=11_000.0,
        day_start_ts=T0,
        trading_state="HALTED",
        lock_reason="daily loss limit",
        locked_until_ts=T0 + DAY,
        paused=True,
        updated_ts=T0 + 5,
        extra={"episode": 3},
    )
    with Journal.open_sync(path) as j:
        assert j.load_guard_state_sync("main") is None
        j.save_guard_state_sync(GuardStateRow(account="main"))
        fresh = j.load_guard_state_sync("main")
        assert fresh is not None and fresh.updated_ts > T0 and fresh.trading_state == "ACTIVE"
        j.save_guard_state_sync(state)
    with Journal.open_sync(path) as j:
        assert j.load_guard_state_sync("main") == state
        with pytest.raises(ValueError, match="trading_state must be one of"):
            j.save_guard_state_sync(GuardStateRow(account="main", trading_state="PAUSED"))
        assert j.load_guard_state_sync("main") == state
    with JournalReader(path) as r:
        assert r.load_guard_state("main") == state


def test_events_are_recorded_and_shown_in_history_on_request(sj: Journal) -> None:
    sj.record_event_sync("main", T0, kind="blind", text="no snapshot for 120 s", details={"errors": 4})
    sj.record_event_sync(None, T0 + 1, kind="unauthorized_chat", text="chat 42 sent /pause")
    assert sj.history_sync(0) == []  # not in the default kinds
    rows = [h.row for h in sj.history_sync(0, kinds=["event"])]
    assert [(r.account, r.kind, r.details) for r in rows] == [  # type: ignore[union-attr]
        ("main", "blind", {"errors": 4}),
        (None, "unauthorized_chat", {}),
    ]


# --- history -------------------------------------------------------------------------------------


def _fill_history(j: Journal) -> None:
    # Same-millisecond rows on purpose: order is decision, transition, action, alert.
    j.record_alert_sync("main", T0, level="critical", key="k1", text="margin ratio 90%")
    j.add_pending_action_sync("main", T0, **action_args("gb-1", kind="reduce"))
    j.record_transition_sync("main", T0, from_state="ACTIVE", to_state="REDUCING", reason="margin 90%")
    j.record_decision_sync("main", T0, rule="margin_ratio", kind="reduce", reason="margin 90%")
    j.record_decision_sync("sub1", T0 + 1000, rule="missing_stop", kind="place_stop", reason="no stop")
    j.record_alert_sync("sub1", T0 + 2000, level="info", key="k2", text="stop placed")
    j.record_decision_sync("main", T0 - 1000, rule="drawdown", kind="halt", reason="old")
    j.record_event_sync("main", T0, kind="blind", text="x")


def test_history_merges_by_time_with_a_stable_tie_order(sj: Journal) -> None:
    _fill_history(sj)
    got = [(h.ts, h.kind.value, h.account) for h in sj.history_sync(T0)]
    assert got == [
        (T0, "decision", "main"),
        (T0, "transition", "main"),
        (T0, "action", "main"),
        (T0, "alert", "main"),
        (T0 + 1000, "decision", "sub1"),
        (T0 + 2000, "alert", "sub1"),
    ]


def test_history_filters_by_account_kind_window_and_limit(sj: Journal) -> None:
    _fill_history(sj)
    assert [h.kind for h in sj.history_sync(0, account="sub1")] == [HistoryKind.DECISION, HistoryKind.ALERT]
    assert [h.ts for h in sj.history_sync(0, kinds=["decision"])] == [T0 - 1000, T0, T0 + 1000]
    assert [h.kind.value for h in sj.history_sync(0, kinds="alert")] == ["alert", "alert"]
    assert [h.ts for h in sj.history_sync(T0, until_ms=T0 + 1000, kinds=["decision"])] == [T0, T0 + 1000]
    last_two = sj.history_sync(0, limit=2)  # the most recent two, still oldest first
    assert [(h.ts, h.kind.value) for h in last_two] == [(T0 + 1000, "decision"), (T0 + 2000, "alert")]
    assert sj.history_sync(0, limit=0) == []
    all_kinds = sj.history_sync(0, kinds=list(HistoryKind))
    assert len(all_kinds) == 8 and [h.ts for h in all_kinds] == sorted(h.ts for h in all_kinds)
    with pytest.raises(ValueError, match="history kind must be one of decision"):
        sj.history_sync(0, kinds=["trades"])


# --- migrations ---------------------------------------------------------------------------------


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


def test_pending_action_survives_the_process_being_killed(path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal
        from guardbot.store import Journal
        j = Journal.open_sync({str(path)!r})
        j.record_snapshot_sync("main", {T0}, {FIGURES!r}, [], "ACTIVE")
        j.add_pending_action_sync("main", {T0}, rule="missing_stop", kind="stop",
                                  client_order_id="gb-crash", dry_run=False, symbol={BTC!r},
                                  side="sell", quantity=0.2, trigger_price=47500.0)
        os.kill(os.getpid(), signal.SIGKILL)  # no close, no atexit, no flush
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(guardbot.__file__).parents[1])}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    assert Path(f"{path}-wal").exists()  # the data is in the WAL, not yet checkpointed
    with Journal.open_sync(path) as j:
        [pending] = j.pending_actions_sync()
        assert (pending.client_order_id, pending.status, pending.quantity) == (
            "gb-crash",
            ActionStatus.PENDING,
            0.2,
        )
        assert len(j.latest_snapshots_sync()) == 1
    with raw(path) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert c.execute("PRAGMA foreign_key_check").fetchall() == []


def test_pending_action_survives_a_journal_dropped_without_close(path: Path) -> None:
    j = Journal.open_sync(path)
    j.add_pending_action_sync("main", T0, **action_args("gb-drop"))
    del j
    gc.collect()
    with Journal.open_sync(path) as again:
        assert [a.client_order_id for a in again.pending_actions_sync()] == ["gb-drop"]


def test_reader_sees_committed_rows_while_a_write_transaction_is_open(sj: Journal, path: Path) -> None:
    sj.record_snapshot_sync("main", T0, FIGURES, [], "ACTIVE")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # holds the write lock, uncommitted
    other.execute(
        "INSERT INTO snapshots (account, ts, equity, wallet_balance, unrealized_pnl, maintenance_margin,"
        " initial_margin, margin_ratio, effective_leverage, gross_notional, net_notional, state,"
        " positions_count) VALUES ('ghost', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'ACTIVE', 0)"
    )
    try:
        with JournalReader(path) as r:  # WAL: not blocked, and no dirty read
            assert [s.account for s in r.latest_snapshots()] == ["main"]
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_reader_connection_is_read_only(sj: Journal, path: Path) -> None:
    with JournalReader(path) as r, pytest.raises(sqlite3.OperationalError, match="readonly"):
        r._database().execute("DELETE FROM snapshots")


async def test_async_writes_keep_the_event_loop_responsive(aj: Journal, path: Path) -> None:
    # Another connection holds the write lock, so the journal's write cannot finish until the loop
    # itself releases it: this only completes if the loop keeps running while a write is in flight
    # (a write that blocked the loop would instead fail after busy_timeout with "database is locked").
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    write = asyncio.ensure_future(aj.record_snapshot("main", T0, FIGURES, [position()], "ACTIVE"))
    for _ in range(200):
        await asyncio.sleep(0)
        assert not write.done()
    other.execute("ROLLBACK")
    other.close()
    sid = await write
    assert [s.id for s in await aj.latest_snapshots()] == [sid]


async def test_concurrent_async_writes_are_queued_in_call_order(aj: Journal) -> None:
    big = [position(f"S{i}/USDT:USDT") for i in range(1000)]
    ids = await asyncio.gather(
        *(aj.record_snapshot("main", T0 + i, FIGURES, big, "ACTIVE") for i in range(5))
    )
    assert list(ids) == sorted(ids)
    assert len(await aj.positions_of(ids[-1])) == 1000


async def test_reader_reads_while_the_async_writer_works(aj: Journal, path: Path) -> None:
    await aj.record_snapshot("main", T0, FIGURES, [], "ACTIVE")
    reader = JournalReader(path)
    try:
        seen: list[int] = []
        pending = [
            asyncio.ensure_future(aj.record_snapshot("main", T0 + i, FIGURES, [position()], "ACTIVE"))
            for i in range(1, 200)
        ]
        while not all(t.done() for t in pending):
            seen.append(len(reader.equity_series("main", 0)))
            await asyncio.sleep(0)
        await asyncio.gather(*pending)
        seen.append(len(reader.equity_series("main", 0)))
    finally:
        reader.close()
    assert seen == sorted(seen) and seen[-1] == 200  # never goes backwards, ends complete


async def test_async_api_round_trip_and_close_flushes_queued_writes(path: Path) -> None:
    j = await Journal.open(path)
    did = await j.record_decision("main", T0, rule="r", kind="k", reason="why")
    await j.add_pending_action("main", T0, decision_id=did, **action_args("gb-a"))
    await j.update_action("gb-a", "sent", exchange_order_id="1")
    assert [a.status for a in await j.pending_actions()] == [ActionStatus.SENT]
    await j.save_guard_state(GuardStateRow(account="main", high_water_mark=1.0, updated_ts=T0))
    assert (await j.load_guard_state("main")) == GuardStateRow(
        account="main", high_water_mark=1.0, updated_ts=T0
    )
    queued = [
        asyncio.ensure_future(j.record_event("main", T0 + i, kind="tick", text=str(i))) for i in range(50)
    ]
    await asyncio.sleep(0)  # each task submits its write to the writer queue
    await j.close()
    await asyncio.gather(*queued)
    with pytest.raises(JournalError, match="closed"):
        await j.record_event("main", T0, kind="late", text="after close")
    with JournalReader(path) as r:
        assert len(r.history(0, kinds=["event"])) == 50
        assert [h.kind for h in r.history(0)] == [HistoryKind.DECISION, HistoryKind.ACTION]
