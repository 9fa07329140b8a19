"""Journal schema: connection settings, forward migrations, version checks.

The schema is a contract users' scripts rely on (docs/journal.md). It only moves forward: each
entry of `MIGRATIONS` takes the database from version i to i+1, all pending ones run in a single
transaction, and a journal newer than this code is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

BUSY_TIMEOUT_MS = 5000


class JournalError(Exception):
    """A journal that cannot be used as asked; the message is one line meant for the user."""


def _v1_core_tables(db: Database) -> None:
    db.execute(
        """CREATE TABLE snapshots (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            ts INTEGER NOT NULL,
            equity REAL NOT NULL,
            wallet_balance REAL NOT NULL,
            unrealized_pnl REAL NOT NULL,
            maintenance_margin REAL NOT NULL,
            initial_margin REAL NOT NULL,
            margin_ratio REAL NOT NULL,
            effective_leverage REAL NOT NULL,
            gross_notional REAL NOT NULL,
            net_notional REAL NOT NULL,
            state TEXT NOT NULL,
            positions_count INTEGER NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE positions (
            snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
            account TEXT NOT NULL,
            ts INTEGER NOT NULL,
            symbol TEXT NOT NULL,
            side TEXT NOT NULL,
            contracts REAL NOT NULL,
            entry_price REAL NOT NULL,
            mark_price REAL NOT NULL,
            notional REAL NOT NULL,
            unrealized_pnl REAL NOT NULL,
            liquidation_price REAL,
            liquidation_distance_pct REAL,
            exchange_liquidation_price REAL,
            stop_price REAL,
            PRIMARY KEY (snapshot_id, symbol, side)
        )"""
    )
    db.execute(
        """CREATE TABLE decisions (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            ts INTEGER NOT NULL,
            rule TEXT NOT NULL,
            kind TEXT NOT NULL,
            symbol TEXT,
            reason TEXT NOT NULL,
            details TEXT NOT NULL DEFAULT '{}'
        )"""
    )
    db.execute(
        """CREATE TABLE actions (
            id INTEGER PRIMARY KEY,
            decision_id INTEGER REFERENCES decisions(id),
            account TEXT NOT NULL,
            ts INTEGER NOT NULL,
            rule TEXT NOT NULL,
            kind TEXT NOT NULL,
            symbol TEXT,
            side TEXT,
            quantity REAL,
            price REAL,
            trigger_price REAL,
            client_order_id TEXT NOT NULL UNIQUE,
            dry_run INTEGER NOT NULL,
            status TEXT NOT NULL,
            exchange_order_id TEXT,
            reply TEXT,
            updated_ts INTEGER NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            account TEXT,
            ts INTEGER NOT NULL,
            level TEXT NOT NULL,
            key TEXT NOT NULL,
            text TEXT NOT NULL,
            delivered TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0
        )"""
    )
    db.execute(
        """CREATE TABLE transitions (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            ts INTEGER NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL,
            reason TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE guard_state (
            account TEXT PRIMARY KEY,
            high_water_mark REAL,
            day_start_equity REAL,
            day_start_ts INTEGER,
            trading_state TEXT NOT NULL,
            lock_reason TEXT,
            locked_until_ts INTEGER,
            paused INTEGER NOT NULL DEFAULT 0,
            updated_ts INTEGER NOT NULL,
            extra TEXT
        )"""
    )


def _v2_events_and_indices(db: Database) -> None:
    db.execute(
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            account TEXT,
            ts INTEGER NOT NULL,
            kind TEXT NOT NULL,
            text TEXT NOT NULL,
            details TEXT NOT NULL DEFAULT '{}'
        )"""
    )
    for sql in (
        "CREATE INDEX idx_snapshots_account_ts ON snapshots(account, ts)",
        "CREATE INDEX idx_actions_status ON actions(status)",
        "CREATE INDEX idx_actions_account_ts ON actions(account, ts)",
        "CREATE INDEX idx_alerts_ts ON alerts(ts)",
        "CREATE INDEX idx_alerts_key_ts ON alerts(key, ts)",
        "CREATE INDEX idx_decisions_account_ts ON decisions(account, ts)",
        "CREATE INDEX idx_transitions_account_ts ON transitions(account, ts)",
        "CREATE INDEX idx_events_ts ON events(ts)",
    ):
        db.execute(sql)


def _v3_order_state(db: Database) -> None:
    # What the exchange says of the order itself (resting, filled, cancelled...), apart from
    # whether our request went through (`status`).
    db.execute("ALTER TABLE actions ADD COLUMN order_state TEXT")


def _v4_intents_brackets_strategies(db: Database) -> None:
    # Trade intents (manual, webhook, strategies), the brackets they became, and each strategy's
    # pause (guardbot/store/intents.py reads and writes them).
    db.execute(
        """CREATE TABLE intents (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            ts INTEGER NOT NULL,
            source TEXT NOT NULL,
            intent_key TEXT NOT NULL,
            symbol TEXT NOT NULL,
            side TEXT NOT NULL,
            stop REAL NOT NULL,
            entry REAL,
            take_profits TEXT NOT NULL DEFAULT '[]',
            risk_amount REAL,
            risk_pct REAL,
            reason TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL,
            outcome TEXT,
            quantity REAL,
            details TEXT NOT NULL DEFAULT '{}',
            updated_ts INTEGER NOT NULL,
            UNIQUE (account, source, intent_key)
        )"""
    )
    db.execute(
        """CREATE TABLE brackets (
            id INTEGER PRIMARY KEY,
            intent_id INTEGER NOT NULL REFERENCES intents(id),
            account TEXT NOT NULL,
            ts INTEGER NOT NULL,
            symbol TEXT NOT NULL,
            side TEXT NOT NULL,
            entry_client_id TEXT NOT NULL,
            stop_client_id TEXT,
            take_profit_client_ids TEXT NOT NULL DEFAULT '[]',
            status TEXT NOT NULL,
            updated_ts INTEGER NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE strategy_state (
            strategy TEXT PRIMARY KEY,
            paused INTEGER NOT NULL DEFAULT 0,
            reason TEXT,
            updated_ts INTEGER NOT NULL
        )"""
    )
    db.execute("CREATE INDEX idx_intents_account_ts ON intents(account, ts)")
    db.execute("CREATE INDEX idx_brackets_account_status ON brackets(account, status)")


def _v5_operator_requests(db: Database) -> None:
    # `guardbot pause|resume|flatten` asking a running daemon (guardbot/store/requests.py).
    db.execute(
        """CREATE TABLE operator_requests (
            id INTEGER PRIMARY KEY,
            account TEXT NOT NULL,
            ts INTEGER NOT NULL,
            action TEXT NOT NULL,
            requested_by TEXT NOT NULL,
            status TEXT NOT NULL,
            result TEXT,
            done_ts INTEGER,
            details TEXT NOT NULL DEFAULT '{}'
        )"""
    )
    db.execute("CREATE INDEX idx_operator_requests_status ON operator_requests(status)")


# Field order of one position in `snapshots.positions_json` (v6): an array per position, in this order.
POSITION_FIELDS = (
    "symbol",
    "side",
    "contracts",
    "entry_price",
    "mark_price",
    "notional",
    "unrealized_pnl",
    "liquidation_price",
    "liquidation_distance_pct",
    "exchange_liquidation_price",
    "stop_price",
)


def _v6_bounded_snapshots(db: Database) -> None:
    # A row per meaningful change or per minute instead of per cycle, positions as one JSON array per
    # row, and downsampling past a week (guardbot/store/sampling.py). ADD COLUMN never rewrites the
    # table, so a large journal upgrades in an instant; its per-cycle rows and their `positions` rows
    # stay as they are (still read) until the daemon's downsampling and retention reach them.
    db.execute("ALTER TABLE snapshots ADD COLUMN kept INTEGER NOT NULL DEFAULT 1")
    db.execute("ALTER TABLE snapshots ADD COLUMN cycles INTEGER NOT NULL DEFAULT 1")
    db.execute("ALTER TABLE snapshots ADD COLUMN book TEXT")
    db.execute("ALTER TABLE snapshots ADD COLUMN positions_json TEXT")
    db.execute(
        """CREATE TABLE downsample_progress (
            account TEXT PRIMARY KEY,
            done_until_ts INTEGER NOT NULL,
            updated_ts INTEGER NOT NULL
        )"""
    )
    # Every stored position, old layout and new, as rows: what scripts reading `positions` need now.
    fields = ", ".join(f"json_extract(j.value, '$[{i}]') AS {name}" for i, name in enumerate(POSITION_FIELDS))
    db.execute(
        f"""CREATE VIEW snapshot_positions AS
            SELECT s.id AS snapshot_id, s.account, s.ts, {fields}
            FROM snapshots s, json_each(s.positions_json) j
            WHERE s.positions_json IS NOT NULL
            UNION ALL
            SELECT snapshot_id, account, ts, {", ".join(POSITION_FIELDS)} FROM positions"""
    )


# Index i holds the step from version i to i+1. Append only; never edit a released step.
MIGRATIONS: tuple[Callable[[Database], None], ...] = (
    _v1_core_tables,
    _v2_events_and_indices,
    _v3_order_state,
    _v4_intents_brackets_strategies,
    _v5_operator_requests,
    _v6_bounded_snapshots,
)
CURRENT_VERSION = len(MIGRATIONS)


@contextmanager
def _immediate(db: Database) -> Iterator[None]:
    """A write transaction taken up front, so two openers cannot both migrate the same file."""
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    else:
        db.conn.execute("COMMIT")


def _user_tables(db: Database) -> list[str]:
    rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return [str(r[0]) for r in rows.fetchall()]


def schema_version(db: Database) -> int:
    """The journal's version; 0 for an empty file."""
    if "schema_version" not in _user_tables(db):
        return 0
    row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _check_version(path: Path, version: int, tables: list[str]) -> None:
    if version > CURRENT_VERSION:
        raise JournalError(
            f"journal {path} has schema version {version}, newer than this guardbot understands "
            f"({CURRENT_VERSION}); upgrade guardbot or use another journal file"
        )
    if version == 0 and tables:
        raise JournalError(
            f"{path} is an SQLite file but not a guardbot journal (no schema_version table); "
            "refusing to write into it"
        )


def migrate(db: Database, path: Path, target: int = CURRENT_VERSION) -> int:
    """Bring the journal forward to `target` in one transaction; return the version it is at."""
    with _immediate(db):
        version = schema_version(db)
        tables = _user_tables(db)
        _check_version(path, version, tables)
        if version >= target:
            return version
        if version == 0:
            db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_ts INTEGER NOT NULL)")
        now = int(time.time() * 1000)
        for step in range(version, target):
            MIGRATIONS[step](db)
            db.execute("INSERT INTO schema_version (version, applied_ts) VALUES (?, ?)", [step + 1, now])
    return target


def _wrap_open_error(path: Path, err: sqlite3.Error) -> JournalError:
    return JournalError(f"cannot open journal {path}: {err}")


def connect_writer(path: Path, target: int = CURRENT_VERSION) -> Database:
    """Open (creating if needed) the journal for writing and migrate it. Bound to the calling thread."""
    if not path.parent.is_dir():
        raise JournalError(f"cannot open journal {path}: directory {path.parent} does not exist")
    if path.is_dir():
        raise JournalError(f"cannot open journal {path}: it is a directory, expected a file path")
    db = Database(path, execute_plugins=False)
    try:
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        db.enable_wal()
        # NORMAL in WAL: a commit survives a process crash; only an OS crash/power loss can drop the
        # last transactions (never corrupts). That is the right trade for a row every few seconds.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        migrate(db, path, target)
    except JournalError:
        db.close()
        raise
    except sqlite3.Error as err:
        db.close()
        raise _wrap_open_error(path, err) from err
    return db


def connect_reader(path: Path) -> Database:
    """A read-only connection for the CLI; never creates or migrates the file."""
    if not path.is_file():
        raise JournalError(f"journal {path} not found (has the daemon run with this journal path?)")
    conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        db = Database(conn, execute_plugins=False)
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        version = schema_version(db)
        _check_version(path, version, _user_tables(db))
        if version < CURRENT_VERSION:
            raise JournalError(
                f"journal {path} has schema version {version}, older than this guardbot ({CURRENT_VERSION}); "
                "start the daemon once to migrate it"
            )
    except JournalError:
        conn.close()
        raise
    except sqlite3.Error as err:
        conn.close()
        raise _wrap_open_error(path, err) from err
    return db
