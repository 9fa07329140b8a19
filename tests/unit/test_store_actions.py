"""Decisions, actions, alerts, transitions, guard state, events and the merged history."""

from __future__ import annotations

from pathlib import Path

import pytest
from store_support import BTC, DAY, ETH, T0, action_args, raw

from guardbot.store import (
    ActionConflictError,
    ActionKind,
    ActionStatus,
    AlertLevel,
    Delivery,
    GuardStateRow,
    HistoryKind,
    Journal,
    JournalReader,
)


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
