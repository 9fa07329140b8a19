"""Snapshot rows: writing one per cycle (sampled), pruning, and downsampling history past a week.

What is kept, and why, is decided by the pure functions of guardbot/store/sampling.py; this module
only reads the rows those decisions need and applies them, each call in one transaction.

Every account's latest row is the latest cycle: a cycle that is not worth keeping overwrites the
previous such row (`kept = 0`) instead of adding one, so `guardbot status` and `/status` are never
older than a cycle while the history holds a row per minute or per meaningful change.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlite_utils import Database

from guardbot.domain import Side, TradingState
from guardbot.store import codec, queries
from guardbot.store.sampling import (
    DEFAULT_POLICY,
    BucketRow,
    Sample,
    SamplingPolicy,
    book_fingerprint,
    bucket_start,
    keeps_positions,
    should_keep,
    survivors,
)
from guardbot.store.schema import POSITION_FIELDS

# Keys of the `figures` mapping record_snapshot reads (AccountFigures' field names). Others are ignored,
# so `dataclasses.asdict(figures)` can be passed as is.
FIGURE_KEYS = (
    "equity",
    "wallet_balance",
    "unrealized_pnl",
    "maintenance_margin",
    "initial_margin",
    "margin_ratio",
    "effective_leverage",
    "gross_notional",
    "net_notional",
)
_INFINITE_OK = frozenset({"margin_ratio", "effective_leverage"})  # inf when equity <= 0
POSITION_REQUIRED = POSITION_FIELDS[:7]
POSITION_OPTIONAL = POSITION_FIELDS[7:]
_SAMPLE = "id, ts, equity, margin_ratio, state, book, kept, cycles, positions_json IS NOT NULL"


@contextmanager
def write_transaction(db: Database) -> Iterator[None]:
    """A transaction that takes the write lock up front (BEGIN IMMEDIATE), or a savepoint inside one.

    These writes read first (the account's latest row) and write after: in a plain deferred
    transaction, upgrading that read to a write while the CLI holds the lock fails at once with
    "database is locked" instead of waiting for busy_timeout.
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    db.conn.execute("COMMIT")


def _position(i: int, p: Mapping[str, Any]) -> list[Any]:
    where = f"positions[{i}]"
    if not isinstance(p, Mapping):
        raise ValueError(f"journal: {where} must be a mapping, got {type(p).__name__}")
    missing = [k for k in POSITION_REQUIRED if k not in p]
    if missing:
        raise ValueError(f"journal: {where} is missing {', '.join(missing)}")
    row: list[Any] = [
        codec.text(f"{where}.symbol", p["symbol"]),
        codec.choice(Side, f"{where}.side", p["side"]).value,
    ]
    row += [_short(codec.number(f"{where}.{k}", p[k])) for k in POSITION_REQUIRED[2:]]
    row += [_short(codec.opt_number(f"{where}.{k}", p.get(k))) for k in POSITION_OPTIONAL]
    return row


def _short(x: float | None) -> float | None:
    # 10 significant digits (an error below 1e-10 of the value, far under any exchange's tick) instead
    # of float repr's 17: a computed PnL or liquidation price shrinks from ~18 characters to ~11, and
    # the positions JSON, most of a row's bytes, by about a third.
    return None if x is None else float(f"{x:.10g}")


def _orders(orders: Sequence[Sequence[Any]] | None) -> list[tuple[Any, ...]]:
    if orders is None:
        return []
    if isinstance(orders, str | bytes) or not all(isinstance(o, Sequence) for o in orders):
        raise ValueError("journal: orders must be a list of tuples (what identifies each open order)")
    return [tuple(o) for o in orders]


def _sample(r: Sequence[Any]) -> Sample:
    return Sample(ts=int(r[1]), equity=float(r[2]), margin_ratio=float(r[3]), state=str(r[4]), book=r[5])


def _latest(db: Database, account: str, *, kept_only: bool = False) -> Any:
    where = "account = ? AND kept = 1" if kept_only else "account = ?"
    sql = f"SELECT {_SAMPLE} FROM snapshots WHERE {where} ORDER BY ts DESC, id DESC LIMIT 1"
    return db.execute(sql, [account]).fetchone()


def _last_keyframe(db: Database, account: str, before: Any, policy: SamplingPolicy) -> Sample | None:
    # Bounded scan: a keyframe older than positions_every_ms would not stop a new one anyway.
    sql = (
        f"SELECT {_SAMPLE} FROM snapshots WHERE account = ? AND ts >= ? AND (ts < ? OR (ts = ? AND id < ?))"
        " AND positions_json IS NOT NULL ORDER BY ts DESC, id DESC LIMIT 1"
    )
    lo = int(before[1]) - policy.positions_every_ms
    r = db.execute(sql, [account, lo, before[1], before[1], before[0]]).fetchone()
    return None if r is None else _sample(r)


def record_snapshot(
    db: Database,
    account: str,
    ts: int,
    figures: Mapping[str, Any],
    positions: Sequence[Mapping[str, Any]],
    state: str,
    *,
    orders: Sequence[Sequence[Any]] | None = None,
    policy: SamplingPolicy = DEFAULT_POLICY,
) -> int:
    """Journal one cycle of one account; returns the id of the row that now holds it.

    The row is kept when `should_keep` says so (a change of positions, orders or state, equity or
    margin ratio moving past the policy's thresholds, or a minute passed); otherwise it replaces the
    account's previous not-kept row. `orders` identify the open orders (tuples, e.g. client id, side,
    amount, price, trigger): a change in them is a change of the book.
    """
    account = codec.text("account", account)
    ts = codec.ts("ts", ts)
    if not isinstance(figures, Mapping):
        raise ValueError(f"journal: figures must be a mapping, got {type(figures).__name__}")
    missing = [k for k in FIGURE_KEYS if k not in figures]
    if missing:
        raise ValueError(f"journal: snapshot figures are missing {', '.join(missing)}")
    row: dict[str, Any] = {"account": account, "ts": ts}
    for k in FIGURE_KEYS:
        row[k] = codec.number(f"figures.{k}", figures[k], allow_inf=k in _INFINITE_OK)
    row["state"] = codec.choice(TradingState, "state", state).value
    row["positions_count"] = len(positions)
    legs = [_position(i, p) for i, p in enumerate(positions)]
    keys = [(leg[0], leg[1]) for leg in legs]
    if len(set(keys)) != len(keys):  # one leg per (symbol, side): the old table's key, kept as a rule
        raise ValueError(f"journal: positions repeat a (symbol, side): {sorted(keys)}")
    named = (dict(zip(POSITION_FIELDS, leg, strict=True)) for leg in legs)
    row["book"] = book_fingerprint(named, _orders(orders))
    row["positions_json"] = json.dumps(legs, separators=(",", ":"), allow_nan=False)
    new = Sample(ts, row["equity"], row["margin_ratio"], row["state"], row["book"])
    with write_transaction(db):
        latest = _latest(db, account)
        anchor = None if latest is None else (latest if latest[6] else _latest(db, account, kept_only=True))
        row["kept"] = int(should_keep(None if anchor is None else _sample(anchor), new, policy))
        if latest is not None and not latest[6]:
            # the previous cycle was not kept: this one takes its place, and counts it
            row["cycles"] = int(latest[7]) + 1
            sets = ", ".join(f"{k} = ?" for k in row)
            db.execute(f"UPDATE snapshots SET {sets} WHERE id = ?", [*row.values(), latest[0]])
            return int(latest[0])
        # the latest row stops being the latest: it keeps its positions only if they are a keyframe
        # (unless it is already past the downsampling age: then thinning chose it to keep them)
        if (
            latest is not None
            and latest[8]
            and ts - int(latest[1]) < policy.downsample_after_ms
            and not keeps_positions(_last_keyframe(db, account, latest, policy), _sample(latest), policy)
        ):
            db.execute("UPDATE snapshots SET positions_json = NULL WHERE id = ?", [latest[0]])
        row["cycles"] = 1
        sql = f"INSERT INTO snapshots ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
        cur = db.execute(sql, list(row.values()))
        return int(cur.lastrowid or 0)


def _delete_snapshots(db: Database, where: str, params: Sequence[Any]) -> int:
    db.execute(f"DELETE FROM positions WHERE snapshot_id IN (SELECT id FROM snapshots WHERE {where})", params)
    return int(db.execute(f"DELETE FROM snapshots WHERE {where}", params).rowcount)


def prune_snapshots(db: Database, older_than_days: float, now_ms: int | None = None) -> int:
    """Delete snapshots (and their positions) older than the cutoff; returns how many snapshots went.

    Each account's most recent snapshot is always kept, so `guardbot status` still has a last picture
    of an account that has been idle for longer than the retention.
    """
    days = codec.number("older_than_days", older_than_days)
    if days <= 0:
        raise ValueError(f"journal: older_than_days must be > 0, got {older_than_days!r}")
    now = codec.now_ms() if now_ms is None else codec.ts("now_ms", now_ms)
    cutoff = now - int(days * 86_400_000)
    with write_transaction(db):
        keep = [s.id for s in queries.latest_snapshots(db)]
        marks = ",".join("?" * len(keep)) or "NULL"
        return _delete_snapshots(db, f"ts < ? AND id NOT IN ({marks})", [cutoff, *keep])


def _accounts(db: Database) -> list[str]:
    return [s.account for s in queries.latest_snapshots(db)]


def _thin_bucket(db: Database, account: str, start: int, bucket_ms: int) -> None:
    sql = (
        "SELECT id, ts, equity, margin_ratio, cycles,"
        " positions_json IS NOT NULL OR EXISTS (SELECT 1 FROM positions p WHERE p.snapshot_id = snapshots.id)"
        " FROM snapshots WHERE account = ? AND ts >= ? AND ts < ?"
    )
    rows = [
        BucketRow(int(i), int(t), float(e), float(m), int(c), bool(h))
        for i, t, e, m, c, h in db.execute(sql, [account, start, start + bucket_ms]).fetchall()
    ]
    chosen = survivors(rows)
    gone = [r.id for r in rows if r.id not in chosen.cycles]
    dropped = [i for i in chosen.keep if i != chosen.positions_on]
    for batch in range(0, len(gone), 500):
        ids = gone[batch : batch + 500]
        _delete_snapshots(db, f"id IN ({','.join('?' * len(ids))})", ids)
    for i in dropped:
        db.execute("DELETE FROM positions WHERE snapshot_id = ?", [i])
    db.conn.executemany(
        "UPDATE snapshots SET kept = 1, cycles = ?, positions_json = CASE WHEN id = ? THEN positions_json END"
        " WHERE id = ?",
        [(chosen.cycles[i], chosen.positions_on, i) for i in chosen.keep],
    )


def downsample_snapshots(
    db: Database, now_ms: int, policy: SamplingPolicy = DEFAULT_POLICY, max_buckets: int = 48
) -> int:
    """Thin at most `max_buckets` buckets older than `policy.downsample_after_ms`; returns how many
    it thinned (0 once every account is caught up).

    Incremental: `downsample_progress` remembers, per account, up to where history is thinned, so
    each call is small (one transaction) and the daemon's cycles interleave with a long catch-up,
    e.g. after upgrading a journal that holds a month of per-cycle rows.
    """
    now = codec.ts("now_ms", now_ms)
    horizon = bucket_start(now - policy.downsample_after_ms, policy.bucket_ms)
    done = 0
    with write_transaction(db):
        for account in _accounts(db):
            sql = "SELECT done_until_ts FROM downsample_progress WHERE account = ?"
            got = db.execute(sql, [account]).fetchone()
            cursor = 0 if got is None else int(got[0])
            while done < max_buckets and cursor < horizon:
                nxt = db.execute(
                    "SELECT MIN(ts) FROM snapshots WHERE account = ? AND ts >= ? AND ts < ?",
                    [account, cursor, horizon],
                ).fetchone()[0]
                if nxt is None:
                    cursor = horizon
                    break
                start = bucket_start(int(nxt), policy.bucket_ms)
                _thin_bucket(db, account, start, policy.bucket_ms)
                cursor = start + policy.bucket_ms
                done += 1
            db.execute(
                "INSERT INTO downsample_progress (account, done_until_ts, updated_ts) VALUES (?, ?, ?)"
                " ON CONFLICT(account) DO UPDATE SET done_until_ts = excluded.done_until_ts,"
                " updated_ts = excluded.updated_ts",
                [account, cursor, now],
            )
            if done >= max_buckets:
                break
    return done
