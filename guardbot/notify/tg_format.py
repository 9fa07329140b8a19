"""Telegram message text: short, scannable HTML (parse_mode=HTML), every value escaped.

Pure functions from guard values to strings; no I/O. Each message leads with the account and what
happened, then the numbers, then what guardbot did; DRY-RUN is always spelled out.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping, Sequence

from guardbot.domain import AccountSnapshot, Order, base_asset
from guardbot.exchange.gateway import ActionResult
from guardbot.execution import describe_action
from guardbot.guard.state import GuardState
from guardbot.notify.base import Alert
from guardbot.operator.guards import AccountStatus
from guardbot.operator.health import Levels, health
from guardbot.redaction import redact
from guardbot.risk.account import AccountFigures
from guardbot.risk.exposure import ExposureReport
from guardbot.risk.sizing import SizingResult
from guardbot.risk.stress import StressReport

MAX_MESSAGE = 4000  # Telegram's limit is 4096 characters after entity parsing; keep a margin
LEVEL_MARK = {"info": "ℹ️", "warning": "⚠️", "critical": "🚨"}
DRY_RUN = "<b>DRY-RUN</b>"


def esc(value: object) -> str:
    return html.escape(str(value), quote=False)


short = base_asset


def money(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:,.2f}"


def signed_money(x: float) -> str:
    return f"{x:+,.2f}"


def price(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    if x == 0:
        return "0"
    digits = max(2, 5 - math.floor(math.log10(abs(x))))
    return f"{x:,.{min(digits, 8)}f}"


def pct(fraction: float | None, digits: int = 1) -> str:
    """0.123 -> '12.3%'."""
    if fraction is None or not math.isfinite(fraction):
        return "∞" if fraction is not None and fraction > 0 else "-"
    return f"{fraction * 100:.{digits}f}%"


def qty(x: float) -> str:
    return f"{x:.10g}"


def ago(now_ms: int, ts_ms: int) -> str:
    s = max(0, (now_ms - ts_ms) // 1000)
    if s < 120:
        return f"{s}s ago"
    if s < 7200:
        return f"{s // 60} min ago"
    return f"{s // 3600} h ago"


def iso(ts_ms: int) -> str:
    return dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC).strftime("%m-%d %H:%M")


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    """The message as sent: exchange URLs and signatures stripped (`redact`), then cut at a line
    boundary (our tags never span lines) so the HTML stays balanced. Every reply and alert passes here."""
    text = redact(text)
    if len(text) <= limit:
        return text
    out: list[str] = []
    size = 0
    for line in text.split("\n"):
        if size + len(line) + 1 > limit - 20:
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out) + "\n… (cut)"


# ---------------------------------------------------------------------------- alerts


def alert_html(alert: Alert, held: int = 0) -> str:
    """One alert: level mark, account, DRY-RUN, then the guard's text (actions on their own lines)."""
    head = f"{LEVEL_MARK[alert.level]} <b>{esc(alert.account)}</b> {alert.level.upper()}"
    if alert.dry_run:
        head += f" · {DRY_RUN}"
    body = esc(alert.text.strip())
    lines = [head, body]
    if held:
        lines.append(
            f"<i>(+{held} earlier update(s) for this held back by the flood limit; latest shown)</i>"
        )
    return clip("\n".join(lines))


# ---------------------------------------------------------------------------- status


HEALTH_MARK = {"ok": "🟢", "warn": "🟡", "danger": "🔴"}


def ratio_mark(margin_ratio: float, warn: float, reduce: float) -> str:
    """🟢 below the warn level, 🟡 up to the reduce level, 🔴 beyond (or equity <= 0)."""
    if not math.isfinite(margin_ratio) or margin_ratio >= reduce:
        return "🔴"
    return "🟡" if margin_ratio >= warn else "🟢"


def state_text(state: GuardState, now_ms: int) -> str:
    text = state.trading_state.value
    if state.locked:
        left = ""
        if state.locked_until_ms is not None and state.locked_until_ms > now_ms:
            left = f", cool-down {math.ceil((state.locked_until_ms - now_ms) / 60_000)} min left"
        text += f" ({esc(state.lock_reason)}{left})"
    if state.paused:
        text += " · entries paused"
    if state.blind:
        text += " · ⚫ BLIND (snapshots failing)"
    return text


def status_html(views: Sequence[AccountStatus], levels: Levels, now_ms: int) -> str:
    """Each account: one dot for the worst of its state, margin ratio and drawdown (operator.health),
    the last good figures (also when the latest cycle failed, which gets its own line)."""
    lines = ["<b>guardbot status</b>"]
    for v in views:
        dry = f" · {DRY_RUN}" if v.dry_run else " · LIVE"
        seen = v.seen
        if seen is None:
            why = f": {esc(v.error)}" if v.error else ""
            lines.append(f"⚫ <b>{esc(v.name)}</b> {state_text(v.state, now_ms)}{dry}")
            lines.append(f"   no snapshot yet{why}")
            continue
        dd = v.drawdown_pct
        mark = HEALTH_MARK[health(v.state.trading_state.value, seen.margin_ratio, dd, levels)]
        lines.append(f"{mark} <b>{esc(v.name)}</b> {state_text(v.state, now_ms)}{dry}")
        lines.append(
            f"   equity {money(seen.equity)} {esc(v.ccy)} · margin ratio {pct(seen.margin_ratio)}"
            f" · drawdown {pct((dd or 0.0) / 100)} · lev {_lev(seen.effective_leverage)}"
        )
        lines.append(f"   {seen.positions} position(s) · {ago(now_ms, seen.ts)}")
        if v.error:
            lines.append(f"   ⚠️ last cycle failed: {esc(v.error)}; the figures above are the last good ones")
    return clip("\n".join(lines))


def _lev(x: float) -> str:
    return "∞" if not math.isfinite(x) else f"{x:.2f}x"


# ---------------------------------------------------------------------------- positions


def positions_html(
    account: str,
    snapshot: AccountSnapshot,
    figures: AccountFigures,
    stops: Mapping[tuple[str, str], float | None],
    now_ms: int,
    dry_run: bool,
) -> str:
    """Each position: side, size, entry → mark, PnL, cross liquidation and distance, stop."""
    dry = f" · {DRY_RUN}" if dry_run else ""
    when = ago(now_ms, snapshot.timestamp_ms) if snapshot.timestamp_ms else "time unknown"
    head = f"<b>{esc(account)}</b> positions · {when}{dry}"
    if not figures.positions:
        return f"{head}\nno open positions"
    lines = [head]
    for p in figures.positions:
        pos = p.position
        side = pos.side.value
        stop = stops.get((p.symbol, side))
        mark = "🟢" if p.unrealized_pnl >= 0 else "🔴"
        lines.append(
            f"{mark} <b>{side.upper()} {esc(short(p.symbol))}</b> {qty(pos.contracts)}"
            f" @ {price(pos.entry_price)} → {price(pos.mark_price)} · PnL {signed_money(p.unrealized_pnl)}"
        )
        dist = "" if p.liquidation_distance_pct is None else f" ({p.liquidation_distance_pct:.1f}% away)"
        liq = f"liq {price(p.liquidation_price)}{dist}" if p.liquidation_price else "no liquidation price"
        guard = f"stop {price(stop)}" if stop is not None else "<b>UNPROTECTED</b> ⚠️"
        lines.append(f"   {liq} · {guard}")
    lines.append(
        f"equity {money(figures.equity)} · margin ratio {pct(figures.margin_ratio)}"
        f" · lev {_lev(figures.effective_leverage)}"
    )
    return clip("\n".join(lines))


# ---------------------------------------------------------------------------- risk


def risk_html(
    account: str,
    figures: AccountFigures,
    exposure: ExposureReport,
    stress: StressReport,
    groups: Sequence[tuple[str, ...]],
    signed: Mapping[str, float],
    ccy: str,
) -> str:
    eq = figures.equity
    lines = [f"<b>{esc(account)}</b> risk (last snapshot)"]
    lines.append(
        f"gross {money(exposure.gross_notional)} · net {signed_money(exposure.net_notional)} {esc(ccy)}"
        f" · lev {_lev(figures.effective_leverage)} · margin ratio {pct(figures.margin_ratio)}"
    )
    beta_pct = f" ({exposure.beta_weighted_net_pct:.0f}% of equity)" if exposure.beta_weighted_net_pct else ""
    lines.append(f"beta-weighted net {signed_money(stress.beta_weighted_net)}{beta_pct}")
    if groups:
        for g in groups:
            net = sum(signed.get(s, 0.0) for s in g)
            share = f" ({net / eq * 100:+.0f}% of equity)" if eq > 0 else ""
            lines.append(f"cluster {esc('+'.join(short(s) for s in g))}: net {signed_money(net)}{share}")
    else:
        lines.append("no correlated cluster among held symbols")
    for s in exposure.sectors:
        if s.held:
            share = f" ({s.gross_pct_of_equity:.0f}% of equity)" if s.gross_pct_of_equity is not None else ""
            lines.append(f"sector {esc(s.sector)}: gross {money(s.gross_notional)}{share}")
    name = esc(short(stress.benchmark))
    for move, verb in ((stress.liquidating_move_down, "-"), (stress.liquidating_move_up, "+")):
        if move is None:
            continue
        if move == 0.0:
            lines.append("🔴 <b>at or past liquidation now</b>")
            break
        mark = "🔴" if abs(move) < 0.10 else "🟡" if abs(move) < 0.25 else "🟢"
        lines.append(
            f"{mark} <b>liquidates if {name} {verb}{abs(move) * 100:.1f}%</b> (alts follow their beta)"
        )
    if stress.liquidating_move_down is None and stress.liquidating_move_up is None:
        lines.append(f"🟢 no liquidation for {name} moves from -99% to +1000%")
    for r in stress.rows:
        liq = " · LIQUIDATED" if r.liquidated else ""
        lines.append(
            f"   {name} {(r.benchmark_move or 0) * 100:+.0f}%: equity {money(r.equity)}"
            f" ({signed_money(r.equity_change)}), margin ratio {pct(r.margin_ratio)}{liq}"
        )
    return clip("\n".join(lines))


# ---------------------------------------------------------------------------- sizing and actions


def sizing_html(account: str, r: SizingResult, ccy: str, *, verb: str = "size") -> str:
    side = r.side.value.upper()
    lines = [
        f"<b>{esc(account)}</b> {verb}: <b>{side} {qty(r.quantity)} {esc(short(r.symbol))}</b>",
        f"entry {price(r.entry)} · stop {price(r.stop)} · notional {money(r.notional)} {esc(ccy)}",
        f"loss at stop {money(r.risk_at_stop)} of budget {money(r.risk_budget)} (fees and slippage in)",
        f"leverage {r.leverage:g}x · initial margin {money(r.initial_margin)}",
        f"binding: <b>{esc(r.binding_constraint)}</b>",
        f"after: margin ratio {pct(r.projected.margin_ratio)} · lev {_lev(r.projected.effective_leverage)}"
        + (
            f" · liq {price(r.projected.liquidation_price)}"
            if r.projected.liquidation_price is not None
            else ""
        ),
    ]
    lines += [f"⚠️ {esc(w)}" for w in r.warnings]
    return clip("\n".join(lines))


def order_text(o: Order) -> str:
    """A resting order as a trader reads it: "buy 0.1 BTC limit 90,000"."""
    what = f"{o.side} {qty(o.amount or 0.0)} {short(o.symbol)}"
    if o.price is not None:
        what += f" limit {price(o.price)}"
    if o.trigger_price is not None:
        what += f" on trigger {price(o.trigger_price)}"
    return what


def action_line(r: ActionResult) -> str:
    ok = "✅" if r.status in ("sent", "confirmed") else "🧪" if r.status == "dry_run" else "❌"
    return f"{ok} {esc(describe_action(r))}"


def history_html(account: str | None, lines: Sequence[tuple[int, str | None, str]]) -> str:
    who = esc(account) if account else "all accounts"
    if not lines:
        return f"<b>history</b> ({who}): nothing journaled yet"
    out = [f"<b>history</b> ({who}), last {len(lines)}"]
    for ts, acct, text in lines:
        prefix = "" if account or acct is None else f"{esc(acct)} "
        out.append(f"<code>{iso(ts)}</code> {prefix}{esc(text[:300])}")
    return clip("\n".join(out))
