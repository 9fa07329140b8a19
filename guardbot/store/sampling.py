"""Which snapshots the journal keeps: pure decisions, no I/O, no clock.

A guard cycle runs every few seconds, but a row per cycle is mostly the same picture again (71 MB a
month for one position, 1.4 GB for fifty). So the journal keeps a row when something meaningful
changed, and once a minute otherwise (`should_keep`); it stores the positions of a kept row only
when the book changed or every few minutes (`keeps_positions`); and past a week it thins each
15-minute bucket to the rows whose figures matter: worst margin ratio, lowest and highest equity,
the bucket's last row, and one row that still carries the positions (`survivors`).

Everything here is a function of its arguments, so the rules are unit- and property-tested apart
from SQLite (tests/unit/test_store_sampling.py).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SamplingPolicy:
    """The thresholds ([storage] in the config; docs/journal.md explains them)."""

    every_ms: int = 60_000  # a row at least this often, whatever happens
    equity_move: float = 0.0025  # fraction of equity (0.25%) that makes a row on its own
    margin_ratio_move: float = 0.0025  # margin ratio move (a fraction: 0.0025 = 0.25 points)
    positions_every_ms: int = 300_000  # positions on a kept row at least this often
    downsample_after_ms: int = 7 * 86_400_000  # rows older than this are thinned...
    bucket_ms: int = 15 * 60_000  # ... to the few that matter in each bucket of this length

    def __post_init__(self) -> None:
        for name in ("every_ms", "positions_every_ms", "downsample_after_ms", "bucket_ms"):
            if getattr(self, name) <= 0:
                raise ValueError(f"sampling: {name} must be > 0, got {getattr(self, name)!r}")
        for name in ("equity_move", "margin_ratio_move"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"sampling: {name} must be >= 0, got {value!r}")


DEFAULT_POLICY = SamplingPolicy()


@dataclass(frozen=True, slots=True)
class Sample:
    """What the keep decision looks at in a row (or in the cycle about to be written)."""

    ts: int
    equity: float
    margin_ratio: float
    state: str
    book: str | None  # fingerprint of positions and orders (`book_fingerprint`); None on old rows


def book_fingerprint(positions: Iterable[Mapping[str, Any]], orders: Iterable[Sequence[Any]] = ()) -> str:
    """A short digest of what only changes when someone acts: which positions, their sizes, their
    stops, and the open orders. Marks and PnL are left out: they move every cycle."""
    legs = sorted(
        (str(p["symbol"]), str(p["side"]), repr(float(p["contracts"])), repr(p.get("stop_price")))
        for p in positions
    )
    resting = sorted(tuple(repr(x) for x in o) for o in orders)
    blob = json.dumps([legs, resting], separators=(",", ":"))
    return hashlib.blake2b(blob.encode(), digest_size=8).hexdigest()


def _moved(old: float, new: float, limit: float, *, relative: bool) -> bool:
    if not (math.isfinite(old) and math.isfinite(new)):
        return old != new  # inf <-> finite is the account crossing zero equity: always news
    scale = abs(old) if relative else 1.0
    return abs(new - old) > limit * scale


def should_keep(anchor: Sample | None, new: Sample, policy: SamplingPolicy = DEFAULT_POLICY) -> bool:
    """Whether the cycle `new` becomes a kept row, given the account's last kept row `anchor`.

    A cycle that is not kept still shows as the account's latest row until the next cycle replaces
    it, so `guardbot status` is never older than one cycle.
    """
    if anchor is None or new.ts < anchor.ts:  # first row, or a clock that went back: keep, never guess
        return True
    return (
        new.ts - anchor.ts >= policy.every_ms
        or new.state != anchor.state
        or new.book != anchor.book
        or _moved(anchor.equity, new.equity, policy.equity_move, relative=True)
        or _moved(anchor.margin_ratio, new.margin_ratio, policy.margin_ratio_move, relative=False)
    )


def keeps_positions(
    last_keyframe: Sample | None, row: Sample, policy: SamplingPolicy = DEFAULT_POLICY
) -> bool:
    """Whether a kept row keeps its positions once a newer row exists (the latest row always has them).

    `last_keyframe` is the account's last earlier row that kept its positions. Positions are kept
    when the book changed since then, or `positions_every_ms` passed: every change of the book is
    in the journal, and the marks of the positions at least every few minutes.
    """
    if last_keyframe is None or row.ts < last_keyframe.ts:
        return True
    return row.book != last_keyframe.book or row.ts - last_keyframe.ts >= policy.positions_every_ms


@dataclass(frozen=True, slots=True)
class BucketRow:
    """One row of a downsampling bucket, oldest first."""

    id: int
    ts: int
    equity: float
    margin_ratio: float
    cycles: int
    has_positions: bool


@dataclass(frozen=True, slots=True)
class Survivors:
    keep: tuple[int, ...]  # ids, oldest first
    positions_on: int | None  # the one survivor that keeps its positions (None: no row had any)
    cycles: Mapping[int, int]  # survivor id -> cycles it stands for once the others are gone


def _worst_ratio_key(r: BucketRow) -> float:
    return r.margin_ratio if not math.isnan(r.margin_ratio) else -math.inf


def survivors(rows: Sequence[BucketRow]) -> Survivors:
    """The rows of one bucket that downsampling keeps.

    Kept: the worst (highest) margin ratio, the lowest and the highest equity (so a drawdown or a
    peak read from the journal is the one that happened), the bucket's last row (the state it ended
    in), and the last row that has positions (so positions stay visible every bucket). Ties go to the
    earliest row, so running it again on its own output changes nothing. A removed row's cycles are
    added to the next survivor, so the journal still counts every cycle.
    """
    if not rows:
        return Survivors((), None, {})
    ordered = sorted(rows, key=lambda r: (r.ts, r.id))
    pick = {
        max(ordered, key=_worst_ratio_key).id,
        min(ordered, key=lambda r: r.equity).id,
        max(ordered, key=lambda r: r.equity).id,
        ordered[-1].id,
    }
    with_positions = [r for r in ordered if r.has_positions]
    positions_on = with_positions[-1].id if with_positions else None
    if positions_on is not None:
        pick.add(positions_on)
    cycles: dict[int, int] = {}
    carried = 0
    for r in ordered:
        carried += r.cycles
        if r.id in pick:
            cycles[r.id] = carried
            carried = 0
    return Survivors(tuple(r.id for r in ordered if r.id in pick), positions_on, cycles)


def bucket_start(ts: int, bucket_ms: int) -> int:
    return ts - ts % bucket_ms
