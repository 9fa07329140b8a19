"""Tables and CSV of what the journal says: `guardbot status` and `guardbot history`."""

from __future__ import annotations

import csv
import io
from typing import Any

from rich.markup import escape
from rich.table import Table

from guardbot.render import pct

HEALTH_STYLE = {"ok": "green", "warn": "yellow", "danger": "bold red"}
STATE_STYLE = {"ACTIVE": "green", "REDUCING": "bold yellow", "HALTED": "bold red"}


def age(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def status_table(rows: list[dict[str, Any]], daemon: str | None, stale_after_s: float) -> Table:
    """`guardbot status`: one row per account, from `operator.journal.status_rows`. The account's
    colour is its health (worst of state, margin ratio, drawdown); HALTED and REDUCING stand out;
    a snapshot older than `stale_after_s` is flagged, since nothing is watching the account then."""
    title = "guardbot status: " + (
        f"daemon running ({daemon})" if daemon else "[bold red]no daemon running[/]"
    )
    t = Table(title=title)
    for col in (
        "Account",
        "Mode",
        "Last snapshot",
        "Equity",
        "Margin ratio",
        "Leverage",
        "Drawdown",
        "Positions",
        "State",
    ):
        t.add_column(
            col,
            justify="right"
            if col in ("Equity", "Margin ratio", "Leverage", "Drawdown", "Positions")
            else "left",
        )
    for r in rows:
        mr = r["margin_ratio"]
        state = f"[{STATE_STYLE.get(r['state'], 'default')}]{r['state']}[/]"
        reason = str(r["lock_reason"] or "").split(" (")[0]  # "drawdown 34.2% ≥ flatten 20%"
        state += f" ({reason})" if reason else ""
        state += " [yellow]paused[/]" if r["paused"] else ""
        mode = {True: "dry-run", False: "[bold]LIVE[/]", None: "-"}[r["dry_run"]]
        when = f"{r['time']} ({age(r['age_s'])})"
        if r["age_s"] > stale_after_s:
            when = f"[yellow]{when} stale[/]"
        t.add_row(
            f"[{HEALTH_STYLE[r['health']]}]● {r['account']}[/]",
            mode,
            when,
            f"{r['equity']:,.2f}",
            "∞" if mr is None else f"{mr:.2%}",
            "-" if r["effective_leverage"] is None else f"{r['effective_leverage']:.2f}x",
            pct(r["drawdown_pct"]),
            str(r["positions"]),
            state,
        )
    ignored = [f"{r['account']}: {', '.join(r['ignored'])}" for r in rows if r.get("ignored")]
    if ignored:
        t.caption = "ignored (measured, never acted on) — " + "; ".join(ignored)
    return t


KIND_STYLE = {
    "decision": "cyan",
    "action": "magenta",
    "transition": "bold",
    "alert": "yellow",
    "event": "dim",
}


def history_table(rows: list[dict[str, Any]]) -> Table:
    """`guardbot history`: one row per journal line, oldest first."""
    t = Table(title=f"guardbot history: {len(rows)} line(s), oldest first", show_lines=False)
    t.add_column("Time (UTC)", no_wrap=True)
    t.add_column("Account", no_wrap=True)
    t.add_column("Kind", no_wrap=True)
    t.add_column("What", overflow="fold")
    for r in rows:
        kind = r["kind"]
        t.add_row(
            r["time"], r["account"] or "-", f"[{KIND_STYLE.get(kind, 'default')}]{kind}[/]", escape(r["text"])
        )
    return t


def history_csv(rows: list[dict[str, Any]]) -> str:
    """`guardbot history --csv`: the columns of docs/cli.md."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["time_utc", "account", "kind", "text"])
    for r in rows:
        w.writerow([r["time"], r["account"] or "", r["kind"], r["text"]])
    return buf.getvalue()
