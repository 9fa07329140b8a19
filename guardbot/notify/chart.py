"""Equity and margin-ratio chart as PNG bytes (matplotlib, Agg backend, no pyplot: thread-safe)."""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Sequence


def equity_chart_png(series: Sequence[tuple[int, float, float]], title: str) -> bytes:
    """Two panels sharing the time axis: equity, and margin ratio in % (100% = liquidation).

    `series` is (ts ms, equity, margin ratio) oldest first, as `Journal.equity_series` returns it.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    times = [dt.datetime.fromtimestamp(t / 1000, dt.UTC) for t, _, _ in series]
    equity = [e for _, e, _ in series]
    # an infinite ratio (equity <= 0) is drawn at the top of the scale, not left out
    ratio = [min(m, 1.5) * 100 if math.isfinite(m) else 150.0 for _, _, m in series]

    fig = Figure(figsize=(8, 5), dpi=100)
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    top.plot(times, equity, color="tab:blue", linewidth=1.5)
    top.set_ylabel("equity")
    top.set_title(title)
    top.grid(alpha=0.3)
    bottom.plot(times, ratio, color="tab:red", linewidth=1.2)
    bottom.axhline(100, color="black", linewidth=0.8, linestyle="--")
    bottom.set_ylabel("margin ratio %")
    bottom.set_ylim(0, max(100.0, max(ratio) * 1.1))
    bottom.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
