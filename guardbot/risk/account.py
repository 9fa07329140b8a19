"""Account figures: equity, margins, margin ratio, leverage, and per-position liquidation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from guardbot.domain import AccountSnapshot, MarginMode, Position
from guardbot.risk.book import Book, Marked, tiers_by_symbol
from guardbot.risk.liquidation import Direction, Pool, distance_pct, solve_liquidation_price
from guardbot.risk.liquidation_batch import pieces_of, pools_of, solve
from guardbot.risk.margin import MarginModel, model_for, tier_for
from guardbot.risk.tier_arrays import FloatArray


@dataclass(frozen=True, slots=True)
class PositionFigures:
    position: Position
    notional: float
    unrealized_pnl: float
    initial_margin: float
    maintenance_margin: float
    maintenance_rate: float
    liquidation_price: float | None
    liquidation_distance_pct: float | None
    # Exchange truth vs our estimate: relative gap of liquidation prices, when the venue gave one.
    exchange_liquidation_gap_pct: float | None = None

    @property
    def symbol(self) -> str:
        return self.position.symbol


@dataclass(frozen=True, slots=True)
class AccountFigures:
    wallet_balance: float
    unrealized_pnl: float
    equity: float
    initial_margin: float
    maintenance_margin: float
    margin_ratio: float  # cross maintenance / cross equity; 1.0 = liquidation; inf if equity <= 0
    available_margin: float
    gross_notional: float
    net_notional: float
    effective_leverage: float
    positions: tuple[PositionFigures, ...]

    def position(self, symbol: str, side: str | None = None) -> PositionFigures:
        for pf in self.positions:
            if pf.symbol == symbol and (side is None or pf.position.side == side):
                return pf
        raise KeyError(symbol)


def liquidation_price(
    snapshot: AccountSnapshot,
    position: Position,
    model: MarginModel | None = None,
    direction: Direction = "nearest",
) -> float | None:
    """Liquidation price of `position` in its pool (cross: the whole account; isolated: its own).

    In cross margin both legs of a hedged symbol share it (`direction` picks the side of the mark
    to look on; by default the nearest)."""
    model = model or model_for(snapshot.exchange)
    tiers_of = tiers_by_symbol(snapshot)
    fees = snapshot.fees
    if position.margin_mode is MarginMode.ISOLATED:
        pool = Pool(position.isolated_margin, 0.0)
        return solve_liquidation_price([position], pool, model, tiers_of, fees, direction)
    # In cross mode both legs of a hedged symbol share one liquidation price: they move together;
    # every other cross position stays at its mark. One pass, sums in position order.
    legs: list[Position] = []
    isolated = upnl = maintenance = 0.0
    for p in snapshot.positions:
        if p.margin_mode is MarginMode.ISOLATED:
            isolated += p.isolated_margin
        elif p.symbol == position.symbol:
            legs.append(p)
        else:
            upnl += p.unrealized_pnl
            maintenance += model.maintenance_margin(p, tiers_of[p.symbol], fees)
    pool = Pool(fixed_equity=snapshot.wallet_balance - isolated + upnl, fixed_maintenance=maintenance)
    return solve_liquidation_price(legs, pool, model, tiers_of, fees, direction)


def loss_side_liquidation_price(
    snapshot: AccountSnapshot, position: Position, model: MarginModel | None = None
) -> float | None:
    """The liquidation price on the side where this leg loses (below the mark for a long, above
    for a short): the one its stop must come before. For a one-way position it is its liquidation
    price; for the hedging leg of a net-short symbol there may be none (the fall that hurts the
    long helps the account)."""
    return liquidation_price(snapshot, position, model, "below" if position.side.sign > 0 else "above")


def margin_ratio_of(maintenance: float, equity: float) -> float:
    if equity <= 0:
        return math.inf
    return maintenance / equity


# Up to this many pools (cross symbols + isolated positions), solving them one by one in Python
# beats building arrays: the guard planner and the emulator measure small books many times.
SCALAR_MAX_POOLS = 8


def _pool_count(snapshot: AccountSnapshot) -> int:
    symbols = {p.symbol for p in snapshot.positions if p.margin_mode is MarginMode.CROSS}
    return len(symbols) + sum(1 for p in snapshot.positions if p.margin_mode is MarginMode.ISOLATED)


def measure_account(snapshot: AccountSnapshot, model: MarginModel | None = None) -> AccountFigures:
    """Equity, margins, margin ratio and every position's liquidation price (see `AccountFigures`)."""
    return measure_many(snapshot, (snapshot,), model)[0]


def measure_many(
    snapshot: AccountSnapshot,
    versions: Sequence[AccountSnapshot],
    model: MarginModel | None = None,
    book: Book | None = None,
) -> list[AccountFigures]:
    """`measure_account` of each version of one book (the same positions at other marks, as
    `with_marks` makes them): a small book one version at a time, a big one in one batch."""
    model = model or model_for(snapshot.exchange)
    if _pool_count(snapshot) <= SCALAR_MAX_POOLS:
        return [_measure_scalar(v, model) for v in versions]
    return measure_versions(snapshot, versions, model, book)


def measure_versions(
    snapshot: AccountSnapshot,
    versions: Sequence[AccountSnapshot],
    model: MarginModel | None = None,
    book: Book | None = None,
) -> list[AccountFigures]:
    """`measure_account` of several versions of one book that differ only in their marks (shocked
    copies made with `with_marks`), every liquidation price of every version solved in one batch.
    `book` is `Book.of(snapshot, model)` when the caller already has it."""
    if not versions:
        return []
    model = model or model_for(snapshot.exchange)
    book = book or Book.of(snapshot, model)
    marks = np.array([[p.mark_price for p in v.positions] for v in versions], dtype=np.float64)
    marked = book.at(marks.reshape(len(versions), len(snapshot.positions)))
    pools = pools_of(book)
    liquidation = solve(book, pools, pieces_of(book, pools), marked)
    return [_figures(book, v, marked, liquidation, row) for row, v in enumerate(versions)]


def _figures(
    book: Book, version: AccountSnapshot, marked: Marked, liquidation: FloatArray, row: int
) -> AccountFigures:
    rows: list[PositionFigures] = []
    cols = zip(
        version.positions,
        marked.notional[row].tolist(),
        marked.upnl[row].tolist(),
        marked.initial[row].tolist(),
        marked.maintenance[row].tolist(),
        marked.rate[row].tolist(),
        liquidation[row].tolist(),
        strict=True,
    )
    for p, notional, upnl, im, mm, rate, liq_or_nan in cols:
        liq = None if math.isnan(liq_or_nan) else liq_or_nan
        rows.append(_position_figures(p, notional, upnl, im, mm, rate, liq))
    return _account_figures(version.wallet_balance, book.cross_wallet, rows)


def _position_figures(
    p: Position, notional: float, upnl: float, im: float, mm: float, rate: float, liq: float | None
) -> PositionFigures:
    gap = None
    if liq is not None and p.exchange_liquidation_price:
        gap = abs(liq - p.exchange_liquidation_price) / p.exchange_liquidation_price * 100.0
    return PositionFigures(
        position=p,
        notional=notional,
        unrealized_pnl=upnl,
        initial_margin=im,
        maintenance_margin=mm,
        maintenance_rate=rate,
        liquidation_price=liq,
        liquidation_distance_pct=distance_pct(p.mark_price, liq),
        exchange_liquidation_gap_pct=gap,
    )


def _account_figures(wallet: float, cross_wallet: float, rows: list[PositionFigures]) -> AccountFigures:
    """Totals, summed left to right in position order (the same bits whichever path measured)."""
    cross = [r for r in rows if r.position.margin_mode is MarginMode.CROSS]
    cross_equity = cross_wallet + sum(r.unrealized_pnl for r in cross)
    cross_mm = sum(r.maintenance_margin for r in cross)
    cross_im = sum(r.initial_margin for r in cross)
    upnl = sum(r.unrealized_pnl for r in rows)
    equity = wallet + upnl
    gross = sum(r.notional for r in rows)
    net = sum(r.position.side.sign * r.notional for r in rows)
    return AccountFigures(
        wallet_balance=wallet,
        unrealized_pnl=upnl,
        equity=equity,
        initial_margin=sum(r.initial_margin for r in rows),
        maintenance_margin=sum(r.maintenance_margin for r in rows),
        margin_ratio=margin_ratio_of(cross_mm, cross_equity),
        available_margin=max(0.0, cross_equity - cross_im),
        gross_notional=gross,
        net_notional=net,
        effective_leverage=gross / equity if equity > 0 else math.inf,
        positions=tuple(rows),
    )


def _measure_scalar(snapshot: AccountSnapshot, model: MarginModel) -> AccountFigures:
    """The same figures one position at a time (small books: no array set-up to pay for)."""
    tiers_of = tiers_by_symbol(snapshot)
    fees = snapshot.fees
    isolated = sum(p.isolated_margin for p in snapshot.positions if p.margin_mode is MarginMode.ISOLATED)
    rows: list[PositionFigures] = []
    liq_cache: dict[str, float | None] = {}
    for p in snapshot.positions:
        tiers = tiers_of[p.symbol]
        if p.margin_mode is MarginMode.CROSS:
            if p.symbol not in liq_cache:
                liq_cache[p.symbol] = liquidation_price(snapshot, p, model)
            liq = liq_cache[p.symbol]
            im = model.initial_margin(p, tiers, fees)
        else:
            liq = liquidation_price(snapshot, p, model)
            im = p.isolated_margin
        mm = model.maintenance_margin(p, tiers, fees)
        rate = tier_for(tiers, p.notional, p.symbol).maintenance_margin_rate
        rows.append(_position_figures(p, p.notional, p.unrealized_pnl, im, mm, rate, liq))
    return _account_figures(snapshot.wallet_balance, snapshot.wallet_balance - isolated, rows)
