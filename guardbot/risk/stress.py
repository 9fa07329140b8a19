"""Stress tests: move marks, see what the exchange would liquidate, and solve for the benchmark move
that liquidates the account.

A benchmark shock of x moves the benchmark by x and every other symbol by beta x (a symbol without
a beta follows the benchmark with beta 1.0). A mark never falls below `MIN_PRICE_FACTOR` of itself:
a beta-2 alt cannot fall 120 % when BTC falls 60 %.

What liquidates (Binance-style account model, as in `guardbot.risk.account`):
- the cross pool, all of its positions at once, when its margin ratio (maintenance / cross equity)
  reaches 1;
- an isolated position on its own, when its margin plus unrealized PnL no longer covers its
  maintenance margin (its own liquidation price is crossed).

`liquidating_move` finds the smallest benchmark move, in one direction, at which the cross pool's
margin ratio reaches 1. Cross equity minus maintenance is piecewise linear in the move (pieces cut
at tier boundaries and at the price floor), so it is probed on both sides of every cut, in order
from zero outwards, and the first piece that crosses is bisected to ~1e-13 in the move: the first
crossing, never a later one, even for books whose risk is not monotonic in the move.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from guardbot.domain import AccountSnapshot, MarginMode, base_asset
from guardbot.risk.account import AccountFigures, measure_many
from guardbot.risk.book import Book
from guardbot.risk.margin import MarginModel, model_for
from guardbot.risk.stress_gap import MIN_PRICE_FACTOR, MOVE_RANGE, CrossGap
from guardbot.risk.stress_gap import liquidating_move as solve_move

DEFAULT_SHOCKS = (-0.05, -0.10, -0.20, -0.30)


def _factor(beta: float, move: float) -> float:
    return max(1.0 + beta * move, MIN_PRICE_FACTOR)


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


short_name = base_asset


@dataclass(frozen=True, slots=True)
class LiquidatedPosition:
    symbol: str
    side: str
    margin_mode: str
    reason: str  # "cross pool margin ratio >= 1" | "isolated margin exhausted"

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "side": self.side,
            "margin_mode": self.margin_mode,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class StressResult:
    benchmark_move: float | None  # None for an explicit per-symbol shock
    moves: Mapping[str, float]  # fraction applied to each moved symbol
    marks: Mapping[str, float]  # the shocked marks
    equity: float
    equity_change: float
    margin_ratio: float  # cross pool; inf when cross equity <= 0
    liquidated: bool  # the cross pool is liquidated
    liquidated_positions: tuple[LiquidatedPosition, ...]
    figures: AccountFigures = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "benchmark_move": self.benchmark_move,
            "moves": dict(self.moves),
            "marks": dict(self.marks),
            "equity": self.equity,
            "equity_change": self.equity_change,
            "margin_ratio": _finite(self.margin_ratio),  # null: equity <= 0
            "liquidated": self.liquidated,
            "liquidated_positions": [p.to_dict() for p in self.liquidated_positions],
        }


@dataclass(frozen=True, slots=True)
class StressReport:
    benchmark: str
    betas: Mapping[str, float]  # per held symbol, as used
    beta_weighted_net: float
    rows: tuple[StressResult, ...]
    liquidating_move_down: float | None  # None: no liquidation down to -99 %
    liquidating_move_up: float | None  # None: no liquidation up to +1000 %
    notes: tuple[str, ...]

    def summary(self) -> tuple[str, ...]:
        """One human sentence per direction, e.g. 'the account liquidates if BTC falls 11.3 % ...'."""
        name = short_name(self.benchmark)
        out = []
        for move, verb, limit in (
            (self.liquidating_move_down, "falls", MOVE_RANGE[0]),
            (self.liquidating_move_up, "rises", MOVE_RANGE[1]),
        ):
            if move is None:
                out.append(f"no account liquidation if {name} {verb} up to {abs(limit) * 100:.0f} %")
            elif move == 0.0:
                out.append("the account is at or past liquidation now")
            else:
                out.append(
                    f"the account liquidates if {name} {verb} {abs(move) * 100:.1f} % "
                    "with alts following their beta"
                )
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "betas": dict(self.betas),
            "beta_weighted_net": self.beta_weighted_net,
            "rows": [r.to_dict() for r in self.rows],
            "liquidating_move_down": self.liquidating_move_down,
            "liquidating_move_up": self.liquidating_move_up,
            "move_range": list(MOVE_RANGE),
            "summary": list(self.summary()),
            "notes": list(self.notes),
        }


def _check_move(symbol: str, move: float) -> None:
    if not math.isfinite(move) or move <= -1.0:
        raise ValueError(f"move for {symbol}: expected a fraction above -1 (-0.1 = -10 %), got {move!r}")


def _equity(snapshot: AccountSnapshot) -> float:
    return snapshot.wallet_balance + sum(p.unrealized_pnl for p in snapshot.positions)


def _apply(
    snapshot: AccountSnapshot,
    cases: Sequence[tuple[Mapping[str, float], float | None]],
    model: MarginModel,
    book: Book | None = None,
) -> list[StressResult]:
    """One result per (moves, benchmark move): every shocked book is measured in one batch, so its
    liquidation prices are solved for all positions and all shocks together."""
    current: dict[str, float] = dict(snapshot.mark_prices)
    for p in reversed(snapshot.positions):  # a held symbol's mark is its first position's
        current[p.symbol] = p.mark_price
    shocked_marks = [
        {s: current[s] * (1.0 + move) for s, move in moves.items() if s in current} for moves, _ in cases
    ]
    shocked = [snapshot.with_marks(marks) for marks in shocked_marks]
    all_figures = measure_many(snapshot, shocked, model, book)
    equity = _equity(snapshot)
    return [
        _result(moves, benchmark_move, marks, figures, equity)
        for (moves, benchmark_move), marks, figures in zip(cases, shocked_marks, all_figures, strict=True)
    ]


def _result(
    moves: Mapping[str, float],
    benchmark_move: float | None,
    marks: dict[str, float],
    figures: AccountFigures,
    equity_before: float,
) -> StressResult:
    has_cross = any(pf.position.margin_mode is MarginMode.CROSS for pf in figures.positions)
    cross_liquidated = has_cross and figures.margin_ratio >= 1.0
    gone: list[LiquidatedPosition] = []
    for pf in figures.positions:
        p = pf.position
        if p.margin_mode is MarginMode.CROSS:
            if cross_liquidated:
                gone.append(
                    LiquidatedPosition(
                        p.symbol, p.side.value, p.margin_mode.value, "cross pool margin ratio >= 1"
                    )
                )
        # initial_margin of an isolated position is its allocated margin (see measure_account)
        elif pf.initial_margin + pf.unrealized_pnl <= pf.maintenance_margin:
            gone.append(
                LiquidatedPosition(p.symbol, p.side.value, p.margin_mode.value, "isolated margin exhausted")
            )
    return StressResult(
        benchmark_move=benchmark_move,
        moves=dict(moves),
        marks=marks,
        equity=figures.equity,
        equity_change=figures.equity - equity_before,
        margin_ratio=figures.margin_ratio,
        liquidated=cross_liquidated,
        liquidated_positions=tuple(gone),
        figures=figures,
    )


def shock(
    snapshot: AccountSnapshot, moves: Mapping[str, float], model: MarginModel | None = None
) -> StressResult:
    """Move each symbol's mark by its fraction (-0.1 = -10 %); unlisted symbols keep their mark."""
    for symbol, move in moves.items():
        _check_move(symbol, move)
    return _apply(snapshot, [(moves, None)], model or model_for(snapshot.exchange))[0]


def _moves_for(
    snapshot: AccountSnapshot, benchmark: str, move: float, betas: Mapping[str, float]
) -> dict[str, float]:
    moves = {s: _factor(betas.get(s, 1.0), move) - 1.0 for s in snapshot.symbols() if s != benchmark}
    moves[benchmark] = _factor(1.0, move) - 1.0
    return moves


def benchmark_shock(
    snapshot: AccountSnapshot,
    benchmark: str,
    move: float,
    betas: Mapping[str, float],
    model: MarginModel | None = None,
) -> StressResult:
    """Move the benchmark by `move` and every held symbol by beta x move (beta 1.0 when unknown)."""
    _check_move(benchmark, move)
    cases = [(_moves_for(snapshot, benchmark, move, betas), move)]
    return _apply(snapshot, cases, model or model_for(snapshot.exchange))[0]


def liquidating_move(
    snapshot: AccountSnapshot,
    benchmark: str,
    betas: Mapping[str, float],
    direction: int,
    model: MarginModel | None = None,
) -> float | None:
    """Smallest benchmark move in `direction` (-1 down, +1 up) that liquidates the cross pool.

    Returns a fraction (-0.113 = BTC down 11.3 %), 0.0 if the pool is already at or past
    liquidation, None if no move within MOVE_RANGE liquidates it (or there is no cross position).
    """
    if direction not in (-1, 1):
        raise ValueError(f"direction {direction!r}: expected -1 (down) or +1 (up)")
    return solve_move(CrossGap(snapshot, benchmark, betas, model or model_for(snapshot.exchange)), direction)


def stress_report(
    snapshot: AccountSnapshot,
    benchmark: str,
    betas: Mapping[str, float],
    shocks: Iterable[float] = DEFAULT_SHOCKS,
    model: MarginModel | None = None,
) -> StressReport:
    """A table of benchmark shocks plus the liquidating benchmark move in both directions."""
    model = model or model_for(snapshot.exchange)
    held = snapshot.symbols()
    used = {s: (1.0 if s == benchmark else betas.get(s, 1.0)) for s in held}
    notes: list[str] = []
    missing = [s for s in held if s != benchmark and s not in betas]
    if missing:
        notes.append(f"no beta, following the benchmark with beta 1.0: {', '.join(missing)}")
    if not any(p.margin_mode is MarginMode.CROSS for p in snapshot.positions):
        notes.append("no cross position: the liquidating moves apply to the cross pool only")
    beta_net = math.fsum(p.signed_notional * used[p.symbol] for p in snapshot.positions)
    moves = list(shocks)
    for x in moves:
        _check_move(benchmark, x)
    book = Book.of(snapshot, model)  # one set of arrays for the rows and both searches
    cases = [(_moves_for(snapshot, benchmark, x, betas), x) for x in moves]
    rows = tuple(_apply(snapshot, cases, model, book))
    gap = CrossGap(snapshot, benchmark, betas, model, book)
    return StressReport(
        benchmark=benchmark,
        betas=used,
        beta_weighted_net=beta_net,
        rows=rows,
        liquidating_move_down=solve_move(gap, -1),
        liquidating_move_up=solve_move(gap, +1),
        notes=tuple(notes),
    )
