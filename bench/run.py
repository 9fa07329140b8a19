"""Run every `bench/bench_*.py` module and write their results to bench/results/latest.json.

python -m bench.run            # all benchmarks
python -m bench.run correlation  # only modules whose name contains "correlation"
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "latest.json"


def modules(only: list[str]) -> list[str]:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    return [n for n in names if not only or any(o in n for o in only)]


def main(argv: list[str] | None = None) -> int:
    only = list(sys.argv[1:] if argv is None else argv)
    names = modules(only)
    if not names:
        print(
            f"bench: no benchmark matches {' '.join(only)!r}; have: {', '.join(modules([]))}", file=sys.stderr
        )
        return 2
    results: dict[str, Any] = {}
    for name in names:
        started = time.perf_counter()
        results[name.removeprefix("bench_")] = importlib.import_module(f"bench.{name}").run()
        print(f"{name}: done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    out = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": f"{platform.system()} {platform.machine()}",
        "results": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
