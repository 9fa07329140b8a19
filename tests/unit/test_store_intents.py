"""Journal schema v4: intents (one per account, source and key), brackets, strategy state; and a v3
journal migrates forward with its rows intact."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from guardbot.store import Journal, JournalReader
from guardbot.store.intents import BracketStatus, IntentStatus
from guardbot.store.schema import CURRENT_VERSION, migrate

T0 = 1_760_097_600_000


async def test_an_intent_key_is_journaled_once(tmp_path: Path) -> None:
    journal = await Journal.open(tmp_path / "j.sqlite")
    try:
        first = await journal.record_intent(
            "main",
            T0,
            source="webhook",
            key="sig-1",
            symbol="BTC",
            side="long",
            stop=93_100.0,
            take_profits=[{"price": 97_000.0, "fraction": 0.5}],
            risk_amount=10.0,
        )
        again = await journal.record_intent(
            "main", T0 + 1, source="webhook", key="sig-1", symbol="ETH", side="short", stop=1.0
        )
        other_account = await journal.record_intent(
            "alt", T0, source="webhook", key="sig-1", symbol="BTC", side="long", stop=1.0
        )
        [row] = await journal.intents_for("main")
    finally:
        await journal.close()
    assert first == (1, True) and again == (1, False) and other_account == (2, True)
    assert row.symbol == "BTC" and row.take_profits == [{"price": 97_000.0, "fraction": 0.5}]
    assert row.status is IntentStatus.RECEIVED and row.risk_amount == 10.0


async def test_intent_outcome_bracket_and_strategy_state_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = await Journal.open(path)
    try:
        iid, new = await journal.record_intent(
            "main",
            T0,
            source="manual",
            key="t",
            symbol="BTC/USDT:USDT",
            side="long",
            stop=93_100.0,
            reason="x",
        )
        assert new
        await journal.finish_intent(iid, "placed", outcome="long 0.023 BTC", ts=T0 + 5, quantity=0.023)
        bid = await journal.record_bracket(
            iid,
            "main",
            T0 + 5,
            symbol="BTC/USDT:USDT",
            side="long",
            entry_client_id="gb-a",
            stop_client_id="gb-b",
            take_profit_client_ids=["gb-c"],
            status="resting",
        )
        await journal.update_bracket(bid, "cancelled", T0 + 9)
        await journal.set_strategy_paused("donchian_breakout", True, "ValueError: boom", T0)
        with pytest.raises(ValueError, match="status must be one of received, refused"):
            await journal.finish_intent(iid, "sent", outcome="x", ts=T0)
        with pytest.raises(KeyError):
            await journal.update_bracket(99, "open", T0)
    finally:
        await journal.close()
    with JournalReader(path) as r:
        [intent] = r.intents_for("main")
        [bracket] = r.brackets_for("main")
        states = r.strategy_states()
    assert (
        intent.status is IntentStatus.PLACED
        and intent.quantity == 0.023
        and intent.outcome == "long 0.023 BTC"
    )
    assert bracket.status is BracketStatus.CANCELLED and bracket.take_profit_client_ids == ["gb-c"]
    assert states["donchian_breakout"].paused and states["donchian_breakout"].reason == "ValueError: boom"


def test_a_v3_journal_migrates_to_the_current_version_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = Database(path)
    migrate(db, path, target=3)
    db.execute(
        "INSERT INTO events (account, ts, kind, text, details) VALUES ('main', 1, 'start', 'hello', '{}')"
    )
    db.conn.commit()
    db.close()
    Journal.open_sync(path).close_sync()
    with sqlite3.connect(path) as c:
        assert c.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == CURRENT_VERSION == 6
        assert c.execute("SELECT text FROM events").fetchall() == [("hello",)]
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"intents", "brackets", "strategy_state"} <= tables
