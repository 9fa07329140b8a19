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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from guardbot.domain import AccountSnapshot, MarginMode, Position, Tier, base_asset
from guardbot.risk.account import AccountFigures, measure_account
from guardbot.risk.margin import MarginModel, MissingTiersError, model_for

MOVE_RANGE = (-0.99, 10.0)  # benchmark moves searched by `liquidating_move` (-99 % .. +1000 %)
MIN_PRICE_FACTOR = 1e-4  # a shocked mark stays >= 0.01 % of the current mark
DEFAULT_SHOCKS = (-0.05, -0.10, -0.20, -0.30)
_PROBE = 1e-9  # probe this far (in move) either side of a cut, to see both tiers of a jump
_BISECT_TOL = 1e-13


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
    snapshot: AccountSnapshot, moves: Mapping[str, float], benchmark_move: float | None, model: MarginModel
) -> StressResult:
    marks: dict[str, float] = {}
    for symbol, move in moves.items():
        mark = snapshot.mark(symbol)
        if mark is not None:
            marks[symbol] = mark * (1.0 + move)
    shocked = snapshot.with_marks(marks)
    figures = measure_account(shocked, model)
    has_cross = any(p.margin_mode is MarginMode.CROSS for p in shocked.positions)
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
        equity_change=figures.equity - _equity(snapshot),
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
    return _apply(snapshot, moves, None, model or model_for(snapshot.exchange))


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
    return _apply(
        snapshot, _moves_for(snapshot, benchmark, move, betas), move, model or model_for(snapshot.exchange)
    )


class _CrossGap:
    """Cross equity minus cross maintenance margin after a benchmark move; <= 0 means liquidation.

    The same sums as `measure_account` (through the margin model), without solving every
    position's liquidation price, so the solver can afford hundreds of evaluations.
    """

    def __init__(
        self, snapshot: AccountSnapshot, benchmark: str, betas: Mapping[str, float], model: MarginModel
    ) -> None:
        self.model = model
        self.fees = snapshot.fees
        self.cross: list[tuple[Position, float, tuple[Tier, ...]]] = []
        for p in snapshot.positions:
            if p.margin_mode is not MarginMode.CROSS:
                continue
            tiers = snapshot.tiers.get(p.symbol)
            if not tiers:
                raise MissingTiersError(f"no maintenance tiers for {p.symbol}")
            beta = 1.0 if p.symbol == benchmark else betas.get(p.symbol, 1.0)
            self.cross.append((p, beta, tuple(tiers)))
        isolated = sum(p.isolated_margin for p in snapshot.positions if p.margin_mode is MarginMode.ISOLATED)
        self.base = snapshot.wallet_balance - isolated

    def __call__(self, move: float) -> float:
        equity = self.base
        mm = 0.0
        for p, beta, tiers in self.cross:
            moved = p.at_mark(p.mark_price * _factor(beta, move))
            equity += moved.unrealized_pnl
            mm += self.model.maintenance_margin(moved, tiers, self.fees)
        return equity - mm

    def cuts(self) -> Iterable[float]:
        """Moves at which a leg changes tier or hits the price floor: the kinks and jumps of the gap."""
        for p, beta, tiers in self.cross:
            if beta == 0.0 or p.notional <= 0:
                continue
            yield (MIN_PRICE_FACTOR - 1.0) / beta
            for t in tiers:
                if t.notional_floor > 0:
                    yield (t.notional_floor / p.notional - 1.0) / beta


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
    gap = _CrossGap(snapshot, benchmark, betas, model or model_for(snapshot.exchange))
    if not gap.cross:
        return None
    if gap(0.0) <= 0:
        return 0.0
    limit = MOVE_RANGE[0] if direction < 0 else MOVE_RANGE[1]
    inside = sorted({c for c in gap.cuts() if 0 < c * direction < abs(limit)}, key=abs)
    probes = [x for c in inside for x in (c - direction * _PROBE, c + direction * _PROBE)]
    safe = 0.0
    for x in [*probes, limit]:
        if x * direction <= abs(safe) or x * direction > abs(limit):
            continue
        if gap(x) <= 0:
            return _bisect(gap, safe, x)
        safe = x
    return None


def _bisect(gap: _CrossGap, safe: float, bad: float) -> float:
    """Narrow [safe, bad] to the crossing; returns the liquidating end (never an early answer)."""
    while abs(bad - safe) > _BISECT_TOL * max(1.0, abs(bad)):
        mid = (safe + bad) / 2
        if gap(mid) <= 0:
            bad = mid
        else:
            safe = mid
    return bad


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
    rows = tuple(benchmark_shock(snapshot, benchmark, x, betas, model) for x in shocks)
    return StressReport(
        benchmark=benchmark,
        betas=used,
        beta_weighted_net=beta_net,
        rows=rows,
        liquidating_move_down=liquidating_move(snapshot, benchmark, betas, -1, model),
        liquidating_move_up=liquidating_move(snapshot, benchmark, betas, +1, model),
        notes=tuple(notes),
    )
