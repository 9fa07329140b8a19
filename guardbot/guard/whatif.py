"""What-if primitives: the account after a cut, its equity and its cross margin ratio.

Cutting a position at the mark realizes its PnL into the wallet, so the account's equity at the same
marks is unchanged except for the taker fee; what changes is the maintenance margin it releases and
the notional it removes.
"""

from __future__ import annotations

import math
from dataclasses import replace

from guardbot.domain import AccountSnapshot, MarginMode, Position, Side
from guardbot.risk.account import margin_ratio_of
from guardbot.risk.margin import MarginModel, MissingTiersError, model_for
from guardbot.risk.precision import round_up

_EPS = 1e-9
# A reducing order must be worth the venue's minimum at the price it is sent with: Hyperliquid's
# market order is a limit at mark ∓ 5 % (ccxt's slippage cap), and the mark moves before it goes.
# So a cut is sized to this much above the minimum at the snapshot's mark.
REDUCE_MIN_HEADROOM = 1.06


def fee_rate(snapshot: AccountSnapshot, taker_fee: float | None) -> float:
    return snapshot.fees.taker if taker_fee is None else taker_fee


def lot_step(snapshot: AccountSnapshot, position: Position) -> float:
    market = snapshot.markets.get(position.symbol)
    return market.amount_step if market is not None and market.amount_step > 0 else 0.0


def min_reduce_contracts(snapshot: AccountSnapshot, position: Position) -> float:
    """The fewest contracts (on the lot grid) an order reducing `position` may have because of the
    venue's minimum order value; 0 where reducing orders are exempt from it (or no mark is known)."""
    market = snapshot.markets.get(position.symbol)
    unit_value = position.mark_price * position.contract_size
    if market is None or market.reduce_min_notional <= 0 or not unit_value > 0:
        return 0.0
    need = market.reduce_min_notional * REDUCE_MIN_HEADROOM / unit_value
    return round_up(need, lot_step(snapshot, position))


def sendable_cut(snapshot: AccountSnapshot, position: Position, contracts: float) -> float:
    """`contracts`, raised to the venue's minimum order value for a reducing order; 0 when even the
    whole position is worth less (the venue refuses any order for it: Hyperliquid names no
    exemption for a full close)."""
    least = min_reduce_contracts(snapshot, position)
    if contracts >= least:
        return contracts
    return least if least <= position.contracts * (1 + _EPS) else 0.0


def apply_cut(
    snapshot: AccountSnapshot, symbol: str, side: Side, contracts: float, taker_fee: float
) -> AccountSnapshot:
    """The account after closing `contracts` of one position at its mark (taker fee paid)."""
    positions: list[Position] = []
    wallet = snapshot.wallet_balance
    for p in snapshot.positions:
        if p.symbol != symbol or p.side is not side or contracts <= 0:
            positions.append(p)
            continue
        cut = min(contracts, p.contracts)
        size = cut * p.contract_size
        wallet += p.side.sign * size * (p.mark_price - p.entry_price) - size * p.mark_price * taker_fee
        left = p.contracts - cut
        if left > p.contracts * _EPS:
            # an isolated position gives back its margin in proportion (it stays in the wallet)
            iso = p.isolated_margin * left / p.contracts
            positions.append(replace(p, contracts=left, isolated_margin=iso))
    return replace(snapshot, positions=tuple(positions), wallet_balance=wallet)


def equity_of(snapshot: AccountSnapshot) -> float:
    return snapshot.wallet_balance + math.fsum(p.unrealized_pnl for p in snapshot.positions)


def cross_margin_ratio(snapshot: AccountSnapshot, model: MarginModel | None = None) -> float:
    """Cross maintenance / cross equity: `measure_account(...).margin_ratio` without the liquidation
    solves (the planner evaluates it many times)."""
    model = model or model_for(snapshot.exchange)
    iso = math.fsum(p.isolated_margin for p in snapshot.positions if p.margin_mode is MarginMode.ISOLATED)
    cross = [p for p in snapshot.positions if p.margin_mode is MarginMode.CROSS]
    equity = snapshot.wallet_balance - iso + math.fsum(p.unrealized_pnl for p in cross)
    mm = 0.0
    for p in cross:
        tiers = snapshot.tiers.get(p.symbol)
        if not tiers:
            raise MissingTiersError(f"no maintenance tiers for {p.symbol}")
        mm += model.maintenance_margin(p, tiers, snapshot.fees)
    return margin_ratio_of(mm, equity)


def find_position(snapshot: AccountSnapshot, symbol: str, side: Side) -> Position | None:
    for p in snapshot.positions:
        if p.symbol == symbol and p.side is side:
            return p
    return None


def net_by_symbol(snapshot: AccountSnapshot) -> dict[str, float]:
    """Signed net size (base units) per symbol: long legs minus short legs."""
    out: dict[str, float] = {}
    for p in snapshot.positions:
        out[p.symbol] = out.get(p.symbol, 0.0) + p.side.sign * p.size
    return out
