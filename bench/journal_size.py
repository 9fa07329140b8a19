"""Journal size per account: bytes per cycle and the projected 30-day file, before and after v6.

Method (the figures are measured on real SQLite files, then extrapolated):

- A book of N positions (1, 10, 50) follows a seeded random walk at a 10 s cycle: 4% daily
  volatility per symbol, 0.7 correlated through a common factor, one volatile hour a day (5x), and
  the trader resizing one position every two hours (a change of the book).
- **before**: what schema 5 (current main) writes, replayed with its exact statements: one
  `snapshots` row and one `positions` row per position, every cycle, kept 30 days.
- **after**: the same cycles through `Journal.record_snapshot` (the injected clock is the cycle's
  `ts`), with the default `[storage]` policy.
- `DAYS` simulated days are written; bytes are the pages in use (`page_count - freelist_count`),
  so freed pages that SQLite reuses are not counted. before: 30 x bytes/day. after: 7 days at the
  recent rate plus 23 days at the downsampled rate, the latter measured by thinning the same rows
  as if they were older than a week (the daemon's hourly job, run with a clock 8 days later).
"""

from __future__ import annotations

import math
import random
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from guardbot.store import Journal
from guardbot.store.sampling import SamplingPolicy
from guardbot.store.schema import connect_writer

CYCLE_MS = 10_000
DAY_MS = 86_400_000
DAYS = 2
T0 = 1_700_000_000_000
MMR = 0.005  # maintenance rate: mm = 0.5% of gross notional


class Book:
    """N positions on a seeded random walk: the cycle's figures and position rows at each step."""

    def __init__(self, n: int, seed: int = 7, equity: float = 100_000.0) -> None:
        self.rng = random.Random(seed)
        self.n = n
        self.wallet = equity
        self.marks = [100.0 * (1 + k) for k in range(n)]
        per = 3 * equity / n  # 3x gross leverage spread evenly
        self.sides = ["long" if k % 10 < 7 else "short" for k in range(n)]
        self.contracts = [round(per / m, 3) for m in self.marks]
        self.entries = list(self.marks)
        self.stops = [m * (0.9 if s == "long" else 1.1) for m, s in zip(self.marks, self.sides, strict=True)]
        self.sigma = 0.04 / math.sqrt(DAY_MS / CYCLE_MS)

    def step(self, i: int) -> tuple[dict[str, float], list[dict[str, Any]]]:
        hour = (i * CYCLE_MS // 3_600_000) % 24
        vol = self.sigma * (5.0 if hour == 14 else 1.0)
        common = self.rng.gauss(0, 1)
        for k in range(self.n):
            shock = 0.7 * common + math.sqrt(1 - 0.49) * self.rng.gauss(0, 1)
            self.marks[k] *= math.exp(vol * shock)
        if i % (2 * 3_600_000 // CYCLE_MS) == 0 and i:  # the trader resizes one position
            k = self.rng.randrange(self.n)
            self.contracts[k] = round(self.contracts[k] * self.rng.uniform(0.8, 1.2), 3)
        rows, upnl, gross, net = [], 0.0, 0.0, 0.0
        for k in range(self.n):
            sign = 1 if self.sides[k] == "long" else -1
            notional = self.contracts[k] * self.marks[k]
            pnl = sign * (self.marks[k] - self.entries[k]) * self.contracts[k]
            upnl, gross, net = upnl + pnl, gross + notional, net + sign * notional
            liq = self.marks[k] * (0.6 if sign > 0 else 1.4)
            rows.append(
                {
                    "symbol": f"S{k:02d}/USDT:USDT",
                    "side": self.sides[k],
                    "contracts": self.contracts[k],
                    "entry_price": self.entries[k],
                    "mark_price": self.marks[k],
                    "notional": notional,
                    "unrealized_pnl": pnl,
                    "liquidation_price": liq,
                    "liquidation_distance_pct": abs(self.marks[k] - liq) / self.marks[k] * 100,
                    "exchange_liquidation_price": liq * 1.001,
                    "stop_price": self.stops[k],
                }
            )
        equity = self.wallet + upnl
        figures = {
            "equity": equity,
            "wallet_balance": self.wallet,
            "unrealized_pnl": upnl,
            "maintenance_margin": gross * MMR,
            "initial_margin": gross / 10,
            "margin_ratio": gross * MMR / equity,
            "effective_leverage": gross / equity,
            "gross_notional": gross,
            "net_notional": net,
        }
        return figures, rows


def bytes_in_use(path: Path) -> int:
    with sqlite3.connect(path) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages, free, size = (
            c.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "freelist_count", "page_size")
        )
    return int((pages - free) * size)


def write_before(path: Path, n: int, cycles: int) -> None:
    """Schema 5's writes, statement for statement (main's record_snapshot)."""
    db: Database = connect_writer(path, target=5)
    book = Book(n)
    for i in range(cycles):
        figures, rows = book.step(i)
        ts = T0 + i * CYCLE_MS
        with db.atomic():
            snap = {"account": "main", "ts": ts, **figures, "state": "ACTIVE", "positions_count": len(rows)}
            cur = db.execute(
                f"INSERT INTO snapshots ({', '.join(snap)}) VALUES ({', '.join('?' * len(snap))})",
                list(snap.values()),
            )
            sid = cur.lastrowid
            prows = [{"snapshot_id": sid, "account": "main", "ts": ts, **r} for r in rows]
            db.conn.executemany(
                f"INSERT INTO positions ({', '.join(prows[0])}) VALUES ({', '.join('?' * len(prows[0]))})",
                [list(r.values()) for r in prows],
            )
    db.close()


def write_after(path: Path, n: int, cycles: int, policy: SamplingPolicy) -> int:
    """The same cycles through the v6 journal; returns the snapshot rows it kept."""
    book = Book(n)
    with Journal.open_sync(path, policy) as journal:
        for i in range(cycles):
            figures, rows = book.step(i)
            journal.record_snapshot_sync("main", T0 + i * CYCLE_MS, figures, rows, "ACTIVE")
    with sqlite3.connect(path) as c:
        return int(c.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0])


def measure(n: int, days: int = DAYS) -> dict[str, Any]:
    cycles = days * DAY_MS // CYCLE_MS
    policy = SamplingPolicy()
    with tempfile.TemporaryDirectory(prefix="guardbot-bench-size-") as tmp:
        before, after = Path(tmp) / "before.sqlite", Path(tmp) / "after.sqlite"
        write_before(before, n, cycles)
        before_per_day = bytes_in_use(before) / days
        rows = write_after(after, n, cycles, policy)
        recent_per_day = bytes_in_use(after) / days
        with Journal.open_sync(after, policy) as journal:
            journal.downsample_sync(T0 + (days + 8) * DAY_MS)  # as seen 8 days later: all past a week
        with sqlite3.connect(after) as c:
            thinned = int(c.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0])
        old_per_day = bytes_in_use(after) / days
    recent_days = policy.downsample_after_ms / DAY_MS
    after_30 = recent_days * recent_per_day + (30 - recent_days) * old_per_day
    return {
        "positions": n,
        "cycles_simulated": cycles,
        "before_bytes_per_cycle": round(before_per_day * days / cycles, 1),
        "before_30d_mb": round(30 * before_per_day / 1e6, 2),
        "after_rows_per_day": round(rows / days),
        "after_bytes_per_cycle": round(recent_per_day * days / cycles, 1),
        "after_thinned_rows_per_day": round(thinned / days),
        "after_thinned_bytes_per_day": round(old_per_day),
        "after_30d_mb": round(after_30 / 1e6, 2),
    }
