"""Operator requests: how `guardbot pause|resume|flatten` reaches a running daemon.

The CLI inserts a `pending` row; the daemon claims it (`pending` -> `working`, in one UPDATE, so
exactly one party acts on it), applies it under the account guard's lock and writes the outcome
(`done`, `refused` or `failed`) with a one-line `result`. A CLI that stops waiting marks the row
`expired` the same way, and an expired or claimed row is never acted on again: a request cannot
run twice, nor long after the person who typed it gave up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlite_utils import Database

from guardbot.store import codec


class RequestAction(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    FLATTEN = "flatten"


class RequestStatus(StrEnum):
    PENDING = "pending"  # inserted, no daemon has picked it up yet
    WORKING = "working"  # claimed by the daemon, being applied
    DONE = "done"
    REFUSED = "refused"  # nothing done, and `result` says why (e.g. a cool-down)
    FAILED = "failed"  # it went wrong while being applied (the account could not be read...)
    EXPIRED = "expired"  # never applied: the requester stopped waiting, or it was too old

    @property
    def final(self) -> bool:
        return self not in (RequestStatus.PENDING, RequestStatus.WORKING)


@dataclass(frozen=True, slots=True)
class OperatorRequestRow:
    id: int
    account: str
    ts: int
    action: RequestAction
    requested_by: str
    status: RequestStatus
    result: str | None
    done_ts: int | None
    details: dict[str, Any]


_COLUMNS = "id, account, ts, action, requested_by, status, result, done_ts, details"


def _row(d: Mapping[str, Any]) -> OperatorRequestRow:
    return OperatorRequestRow(
        id=int(d["id"]),
        account=str(d["account"]),
        ts=int(d["ts"]),
        action=RequestAction(d["action"]),
        requested_by=str(d["requested_by"]),
        status=RequestStatus(d["status"]),
        result=None if d["result"] is None else str(d["result"]),
        done_ts=None if d["done_ts"] is None else int(d["done_ts"]),
        details=codec.from_json(d["details"]),
    )


def add_operator_request(db: Database, account: str, ts: int, *, action: str, requested_by: str) -> int:
    row = {
        "account": codec.text("account", account),
        "ts": codec.ts("ts", ts),
        "action": codec.choice(RequestAction, "action", action).value,
        "requested_by": codec.text("requested_by", requested_by),
        "status": RequestStatus.PENDING.value,
    }
    with db.atomic():
        cur = db.execute(
            "INSERT INTO operator_requests (account, ts, action, requested_by, status) "
            "VALUES (?, ?, ?, ?, ?)",
            list(row.values()),
        )
        return int(cur.lastrowid or 0)


def operator_request(db: Database, request_id: int) -> OperatorRequestRow | None:
    rows = list(db.query(f"SELECT {_COLUMNS} FROM operator_requests WHERE id = ?", [request_id]))
    return _row(rows[0]) if rows else None


def pending_operator_requests(db: Database) -> list[OperatorRequestRow]:
    sql = f"SELECT {_COLUMNS} FROM operator_requests WHERE status = 'pending' ORDER BY id"
    return [_row(d) for d in db.query(sql)]


def move_operator_request(
    db: Database,
    request_id: int,
    *,
    to: str,
    only_from: str,
    result: str | None = None,
    done_ts: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> bool:
    """Set the status to `to` if it is still `only_from`; True if this call changed it."""
    new = codec.choice(RequestStatus, "status", to).value
    old = codec.choice(RequestStatus, "only_from", only_from).value
    with db.atomic():
        cur = db.execute(
            "UPDATE operator_requests SET status = ?, result = COALESCE(?, result), "
            "done_ts = COALESCE(?, done_ts), details = COALESCE(?, details) WHERE id = ? AND status = ?",
            [
                new,
                None if result is None else codec.prose("result", result),
                done_ts,
                None if details is None else codec.to_json("details", details),
                request_id,
                old,
            ],
        )
        return cur.rowcount == 1
