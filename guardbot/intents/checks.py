"""Pre-trade checks of an intent on one account: pure, no I/O.

`plan_intent` turns an intent and a snapshot into a `Plan` (the sized order, its stop, its
take-profits split into quantities) or raises `Refused` with one line saying why nothing may be
sent. In order:

1. the account's trading state allows entries (not HALTED, REDUCING, blind or paused), and the
   source (a strategy) is not paused;
2. the symbol is known (a TradingView ticker such as `BINANCE:BTCUSDT.P` is accepted);
3. the risk asked for is within `[entries] max_risk_pct`;
4. the stop has not been crossed: a long's stop below the mark, a short's above it;
5. sizing (guardbot.risk.sizing): the quantity from the stop and the risk, cut by every cap
   (leverage, margin, tier, position, correlated cluster, sector), refused below the venue's
   minimums and when the stop sits beyond the post-trade liquidation price;
6. each take-profit on the profit side of the entry and of the mark, and its share of the new
   position at least the venue's minimum amount once rounded down.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from guardbot.config import Settings
from guardbot.domain import AccountSnapshot, Market, Side, base_asset
from guardbot.errors import UserError
from guardbot.guard.state import GuardState, entry_allowed
from guardbot.intents.model import Intent
from guardbot.operator.sizing import TradeRequest, resolve_symbol, size_on_snapshot
from guardbot.risk.account import measure_account
from guardbot.risk.correlation import Cluster
from guardbot.risk.precision import round_down
from guardbot.risk.sizing import SizingError, SizingResult


class Refused(Exception):
    """The intent must not be sent; the message is the one-line reason."""


@dataclass(frozen=True, slots=True)
class PlannedTakeProfit:
    price: float
    fraction: float
    quantity: float  # base units, rounded down to the lot step


@dataclass(frozen=True, slots=True)
class Plan:
    """An intent checked and sized on one snapshot: what would be sent."""

    intent: Intent
    symbol: str
    sizing: SizingResult
    mark: float | None
    market: Market
    take_profits: tuple[PlannedTakeProfit, ...] = ()

    @property
    def quantity(self) -> float:
        """Base units of the entry order (an opposite one-way position closed first included)."""
        return self.sizing.quantity

    @property
    def limit(self) -> float | None:
        return self.intent.entry

    def summary(self) -> str:
        """One line: `long 0.05 BTC/USDT:USDT at market, stop 58,000, tp 62,000 x0.5`."""
        r = self.sizing
        at = f"limit {self.limit:,.6g}" if self.limit is not None else "at market"
        tps = "".join(f", tp {tp.price:,.6g} x{tp.fraction:g}" for tp in self.take_profits)
        return f"{r.side.value} {r.quantity:g} {self.symbol} {at}, stop {r.stop:,.6g}{tps}"


def intent_symbol(snapshot: AccountSnapshot, text: str) -> str:
    """A ccxt symbol, a base asset ("BTC") or a TradingView ticker ("BINANCE:BTCUSDT.P", "BTCUSDT")."""
    try:
        return resolve_symbol(snapshot, text)
    except UserError:
        pass
    ticker = (text.rsplit(":", 1)[-1] if "/" not in text else text).upper()
    for suffix in (".P", ".PERP", "PERP"):
        ticker = ticker.removesuffix(suffix)
    known = list(dict.fromkeys([*snapshot.tiers, *snapshot.mark_prices, *snapshot.markets]))
    compact = {s.split(":")[0].replace("/", "").upper(): s for s in known}
    if ticker in compact:
        return compact[ticker]
    shown = ", ".join(sorted({base_asset(s) for s in known})) or "none"
    raise Refused(f"unknown symbol {text!r}: this account trades {shown}")


def plan_intent(
    intent: Intent,
    snapshot: AccountSnapshot,
    state: GuardState,
    settings: Settings,
    cluster_of: Callable[[str], Cluster | None],
    *,
    source_paused: str | None = None,
) -> Plan:
    """The intent sized and checked on `snapshot`, or `Refused` naming the first check it fails."""
    allowed, why = entry_allowed(state)
    if not allowed:
        raise Refused(why)
    if source_paused is not None:
        raise Refused(source_paused)
    symbol = intent_symbol(snapshot, intent.symbol)
    _check_risk(intent, snapshot, settings)
    mark = snapshot.mark(symbol)
    if mark is not None and (intent.stop - mark) * intent.side.sign >= 0:
        where = "below" if intent.side is Side.LONG else "above"
        raise Refused(
            f"stop {intent.stop:,.6g} has been crossed: a {intent.side.value}'s stop must be {where} "
            f"the mark, now {mark:,.6g}"
        )
    trade = TradeRequest(
        symbol=symbol,
        side=intent.side,
        stop=intent.stop,
        entry=intent.entry,
        risk_amount=intent.risk,
        risk_pct=intent.risk_pct,
    )
    try:
        sizing = size_on_snapshot(snapshot, settings, trade, cluster_of)
    except (SizingError, UserError) as err:
        raise Refused(str(err)) from None
    market = snapshot.markets.get(symbol) or Market(symbol, amount_step=0.0)
    return Plan(intent, symbol, sizing, mark, market, _take_profits(intent, sizing, market, mark))


def _check_risk(intent: Intent, snapshot: AccountSnapshot, settings: Settings) -> None:
    cap = settings.entries.max_risk_pct
    if intent.risk_pct is not None and intent.risk_pct > cap:
        raise Refused(f"risk {intent.risk_pct:g}% of equity is above the limit of {cap:g}% per trade")
    if intent.risk is not None:
        equity = measure_account(snapshot).equity
        if intent.risk > cap / 100 * equity:
            raise Refused(
                f"risk {intent.risk:,.2f} is {intent.risk / equity:.2%} of equity {equity:,.2f}, "
                f"above the limit of {cap:g}% per trade"
                if equity > 0
                else f"equity is {equity:,.2f}: no risk may be taken"
            )


def _take_profits(
    intent: Intent, sizing: SizingResult, market: Market, mark: float | None
) -> tuple[PlannedTakeProfit, ...]:
    out = []
    sign = intent.side.sign
    opens = sizing.opens  # the new position: what the take-profits split
    for i, tp in enumerate(intent.take_profits, 1):
        if (tp.price - sizing.entry) * sign <= 0:
            where = "above" if intent.side is Side.LONG else "below"
            raise Refused(
                f"take-profit {i} at {tp.price:,.6g} must be {where} the entry {sizing.entry:,.6g} of a "
                f"{intent.side.value}"
            )
        if mark is not None and (tp.price - mark) * sign <= 0:
            raise Refused(
                f"take-profit {i} at {tp.price:,.6g} would trigger at once: the mark {mark:,.6g} is "
                "already beyond it"
            )
        qty = round_down(opens * tp.fraction, market.amount_step)
        if qty <= 0 or qty < market.min_amount or not math.isfinite(qty):
            raise Refused(
                f"take-profit {i} ({tp.fraction:g} of {opens:g}) rounds down to {qty:g} {intent.symbol}, "
                f"below the venue's minimum amount {market.min_amount:g}: refusing rather than rounding up"
            )
        if qty * tp.price < market.reduce_min_notional:
            # the venue (Hyperliquid) would refuse it once the entry is in: refused here instead
            raise Refused(
                f"take-profit {i} ({qty:g} {intent.symbol} @ {tp.price:,.6g}) would be worth "
                f"{qty * tp.price:.2f}, below the venue's minimum order value "
                f"{market.reduce_min_notional:g} (take-profits included): use fewer, larger take-profits"
            )
        out.append(PlannedTakeProfit(tp.price, tp.fraction, qty))
    return tuple(out)


def drift(asked: Plan, now: Plan, tolerance_pct: float) -> str | None:
    """Why `now` (sized again at confirmation) may not be sent in place of `asked`, or None.

    The size may move within `tolerance_pct`; beyond it the person must see the new figures."""
    if asked.symbol != now.symbol or asked.intent.side is not now.intent.side:
        return "the trade is not the one that was asked"
    old, new = asked.quantity, now.quantity
    if old <= 0 or abs(new - old) / old * 100 > tolerance_pct:
        moved = f"(mark {asked.mark:,.6g} -> {now.mark:,.6g})" if asked.mark and now.mark else ""
        return (
            f"the size changed from {old:g} to {new:g} {moved}, more than the {tolerance_pct:g}% "
            "tolerance: nothing sent"
        ).replace("  ", " ")
    return None
