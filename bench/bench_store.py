"""Journal write throughput (10k cycles of 5 positions through the single writer), and the journal's
size per account: bytes per cycle and the projected 30-day file at 1, 10 and 50 positions, before
(schema 5, a row per cycle) and after (schema 6, sampled and downsampled) -- method in journal_size.py.

Each `record_snapshot` is one transaction on a real WAL file in a temporary directory. First pass:
each call awaited before the next from an event loop, the way one account's cycle does it (includes
the loop <-> writer-thread hop). Second pass: 64 calls in flight at once.
`run()` returns the figures; run this file directly to print them as JSON.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import journal_size
from guardbot.store import Journal, JournalReader

SNAPSHOTS = 10_000
POSITIONS_PER_SNAPSHOT = 5
ACCOUNTS = ("main", "sub1", "sub2", "sub3")  # 4: _write indexes with i % 4
GATHERED = 64  # calls queued at once in the second pass: the writer thread never waits on the loop
T0 = 1_700_000_000_000

FIGURES = {
    "equity": 10_000.0,
    "wallet_balance": 9_500.0,
    "unrealized_pnl": 500.0,
    "maintenance_margin": 250.0,
    "initial_margin": 1_000.0,
    "margin_ratio": 0.025,
    "effective_leverage": 3.0,
    "gross_notional": 30_000.0,
    "net_notional": 10_000.0,
}


def _positions(i: int) -> list[dict[str, Any]]:
    return [
        {
            "symbol": f"S{k}/USDT:USDT",
            "side": "long" if k % 2 == 0 else "short",
            "contracts": 1.0 + k,
            "entry_price": 100.0 + k,
            "mark_price": 100.0 + k + (i % 7),
            "notional": 6_000.0,
            "unrealized_pnl": 10.0,
            "liquidation_price": 50.0,
            "liquidation_distance_pct": 50.0,
            "exchange_liquidation_price": 51.0,
            "stop_price": None,
        }
        for k in range(POSITIONS_PER_SNAPSHOT)
    ]


async def _write(path: Path, concurrent: int) -> dict[str, float]:
    """`concurrent` calls in flight at once (1 = each awaited before the next, the latency-bound case)."""
    journal = await Journal.open(path)
    payloads = [_positions(i) for i in range(SNAPSHOTS)]
    start = time.perf_counter()
    for first in range(0, SNAPSHOTS, concurrent):
        batch = range(first, min(first + concurrent, SNAPSHOTS))
        await asyncio.gather(
            *(
                journal.record_snapshot(ACCOUNTS[i % 4], T0 + i * 1000, FIGURES, payloads[i], "ACTIVE")
                for i in batch
            )
        )
    write_s = time.perf_counter() - start
    start = time.perf_counter()
    await journal.close()
    close_s = time.perf_counter() - start
    return {"write_s": write_s, "close_s": close_s}


def _read(path: Path) -> dict[str, float]:
    with JournalReader(path) as reader:
        start = time.perf_counter()
        latest = reader.latest_snapshots()
        latest_s = time.perf_counter() - start
        start = time.perf_counter()
        reader.equity_series("main", 0)
        series_s = time.perf_counter() - start
        counted = reader.cycles_journaled("main")
    assert len(latest) == len(ACCOUNTS) and counted == SNAPSHOTS // len(ACCOUNTS)
    return {"latest_snapshots_ms": latest_s * 1000, "equity_series_ms": series_s * 1000}


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="guardbot-bench-") as tmp:
        path = Path(tmp) / "journal.sqlite"
        w = asyncio.run(_write(path, concurrent=1))
        r = _read(path)
        size = path.stat().st_size
        g = asyncio.run(_write(Path(tmp) / "gathered.sqlite", concurrent=GATHERED))
    position_rows = SNAPSHOTS * POSITIONS_PER_SNAPSHOT
    total = SNAPSHOTS + position_rows
    return {
        "name": "store",
        "snapshot_rows": SNAPSHOTS,
        "position_rows": position_rows,
        "transactions": SNAPSHOTS,
        "write_seconds": round(w["write_s"], 4),
        "rows_per_s": round(total / w["write_s"]),
        "snapshots_per_s": round(SNAPSHOTS / w["write_s"]),
        "mean_record_snapshot_us": round(w["write_s"] / SNAPSHOTS * 1e6, 1),
        "gathered_write_seconds": round(g["write_s"], 4),
        "gathered_rows_per_s": round(total / g["write_s"]),
        "close_seconds": round(w["close_s"], 4),
        "file_bytes": size,
        "latest_snapshots_ms": round(r["latest_snapshots_ms"], 3),
        "equity_series_ms": round(r["equity_series_ms"], 3),
        "journal_size": {
            "method": "journal_size.py: a seeded 10 s price walk written into real SQLite files, "
            f"{journal_size.DAYS} simulated days per book, pages in use extrapolated to 30 days",
            "books": [journal_size.measure(n) for n in (1, 10, 50)],
        },
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
