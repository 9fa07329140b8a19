"""The demo's chart: both accounts' equity and margin ratio where things happen, the guard's
actions marked on the guarded line, and the unguarded account's liquidation where it happened."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from guardbot.demo import AccountResult

GUARDED, UNGUARDED = "tab:green", "tab:red"
AFTER_LAST_EVENT_S = 240.0  # keep four minutes after the last event in view


def window(events: Sequence[float], end_s: float) -> tuple[float, float]:
    """Simulated seconds to show: from the start to a few minutes after the last event."""
    last = max(events, default=end_s)
    return 0.0, min(end_s, last + AFTER_LAST_EVENT_S)


def demo_chart(
    g: AccountResult,
    u: AccountResult,
    actions: Sequence[tuple[float, str]],
    path: Path,
    settle: str = "USDT",
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = g.history[0][0]
    end_s = (g.history[-1][0] - t0) / 1000
    events = [t for t, _ in actions] + [t for t in (g.liquidated_at_s, u.liquidated_at_s) if t is not None]
    lo, hi = window(events, end_s)

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True, height_ratios=[3, 2])
    for res, colour, style, width in ((u, UNGUARDED, "--", 2.2), (g, GUARDED, "-", 1.6)):
        # the unguarded line is drawn first, wider and dashed: until the crash both are the same
        # book, and the guarded line on top must not hide it
        minutes = [(t - t0) / 60_000 for t, _, _ in res.history if lo <= (t - t0) / 1000 <= hi]
        rows = [r for r in res.history if lo <= (r[0] - t0) / 1000 <= hi]
        label = "guarded by guardbot" if res is g else "unguarded"
        ax1.plot(
            minutes, [e for _, e, _ in rows], color=colour, linestyle=style, linewidth=width, label=label
        )
        ax2.plot(
            minutes, [min(mr, 1.2) * 100 for _, _, mr in rows], color=colour, linestyle=style, linewidth=width
        )

    def equity_at(res: AccountResult, t_s: float) -> float:
        target = t0 + t_s * 1000
        return min(res.history, key=lambda r: abs(r[0] - target))[1]

    for i, (t_s, what) in enumerate(a for a in actions if lo <= a[0] <= hi):
        y = equity_at(g, t_s)
        ax1.plot([t_s / 60], [y], marker="v", color="black", markersize=7, zorder=5)
        ax1.annotate(  # alternate above and below the line, so neighbours do not overlap
            f"guardbot: {what}", (t_s / 60, y), textcoords="offset points",
            xytext=(6, 10 if i % 2 == 0 else -18), fontsize=8,
        )  # fmt: skip
    if u.liquidated_at_s is not None:
        t = u.liquidated_at_s / 60
        ax1.plot([t], [equity_at(u, u.liquidated_at_s)], marker="X", color=UNGUARDED, markersize=12, zorder=6)
        ax1.annotate(
            "unguarded: liquidated", (t, equity_at(u, u.liquidated_at_s)), textcoords="offset points",
            xytext=(10, 12), fontsize=9, color=UNGUARDED,
        )  # fmt: skip
        ax2.axvline(t, color=UNGUARDED, linestyle=":", linewidth=1)
    ax1.set_ylabel(f"equity ({settle})")
    ax1.set_title("guardbot demo: the same book through a crash, guarded and not")
    ax1.legend(loc="lower left")
    ax1.grid(alpha=0.3)
    ax2.axhline(100, color="black", linestyle="--", linewidth=1)
    ax2.text(lo / 60, 103, "liquidation (margin ratio 100%)", fontsize=8)
    ax2.set_ylim(0, 125)
    ax2.set_ylabel("margin ratio (%)")
    ax2.set_xlabel("simulated minutes")
    ax2.set_xlim(lo / 60, hi / 60)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
