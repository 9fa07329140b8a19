"""Hypothesis strategies for random books, shared by the tests that compare the fast risk paths
with the reference (reference_risk.py): the three margin-model families, one-way and hedge, cross
and isolated, continuous and discontinuous tier tables."""

from __future__ import annotations

import math

from hypothesis import strategies as st

from guardbot.domain import AccountSnapshot, Fees, MarginMode, Position, PositionMode, Side, Tier
from guardbot.risk.margin import continuous_deductions, hyperliquid_tiers, model_for

FAMILIES = ("binanceusdm", "bybit", "hyperliquid")


@st.composite
def tables(draw: st.DrawFn, exchange: str) -> tuple[Tier, ...]:
    n = draw(st.integers(1, 5))
    floors = [0.0]
    edge = 10 ** draw(st.floats(3, 6))
    for _ in range(n - 1):
        floors.append(edge)
        edge *= draw(st.floats(1.2, 20))
    if exchange == "hyperliquid":
        levs = [float(draw(st.sampled_from([50, 40, 25, 20, 10, 5])))]
        for _ in range(n - 1):
            levs.append(max(1.0, levs[-1] / draw(st.floats(1.2, 3))))
        return hyperliquid_tiers(floors, levs)
    rates = [draw(st.floats(0.002, 0.02))]
    for _ in range(n - 1):
        rates.append(min(0.5, rates[-1] * draw(st.floats(1.2, 3))))
    # continuous amounts, or none (a reader that left them out): then MM jumps at every boundary
    amounts = continuous_deductions(floors, rates) if draw(st.booleans()) else [0.0] * n
    caps = [*floors[1:], math.inf]
    return tuple(
        Tier(f, c, r, a, 1 / (2 * r)) for f, c, r, a in zip(floors, caps, rates, amounts, strict=True)
    )


@st.composite
def books(draw: st.DrawFn, max_symbols: int = 12) -> AccountSnapshot:
    exchange = draw(st.sampled_from(FAMILIES))
    mode = draw(st.sampled_from(PositionMode))
    positions: list[Position] = []
    tiers: dict[str, tuple[Tier, ...]] = {}
    for i in range(draw(st.integers(1, max_symbols))):
        symbol = f"S{i}/USDT:USDT"
        tiers[symbol] = draw(tables(exchange))
        mark = 10 ** draw(st.floats(-2, 5))
        contract_size = draw(st.sampled_from([1.0, 0.001, 10.0]))
        if mode is PositionMode.ONE_WAY:
            sides = [draw(st.sampled_from(Side))]
        else:
            sides = draw(st.sampled_from([[Side.LONG], [Side.SHORT], [Side.LONG, Side.SHORT]]))
        for side in sides:
            notional = 10 ** draw(st.floats(1, 6.7))
            leverage = float(draw(st.sampled_from([1, 2, 5, 10, 20, 50])))
            isolated = draw(st.integers(0, 5)) == 0
            positions.append(
                Position(
                    symbol,
                    side,
                    notional / mark / contract_size,
                    mark * (1 + draw(st.floats(-0.3, 0.3))),
                    mark,
                    contract_size=contract_size,
                    leverage=leverage,
                    margin_mode=MarginMode.ISOLATED if isolated else MarginMode.CROSS,
                    isolated_margin=notional / leverage * draw(st.floats(0.7, 3)) if isolated else 0.0,
                )
            )
    cross = [p for p in positions if p.margin_mode is MarginMode.CROSS]
    iso = sum(p.isolated_margin for p in positions if p.margin_mode is MarginMode.ISOLATED)
    # from past liquidation (negative cushion) to very safe
    cushion = sum(p.notional for p in cross) * draw(st.floats(-0.05, 1.0)) + draw(st.floats(0, 1_000))
    wallet = iso - sum(p.unrealized_pnl for p in cross) + cushion
    fees = Fees(taker=draw(st.floats(0, 0.001)), maker=0.0002)
    return AccountSnapshot(exchange, wallet, tuple(positions), tiers, fees=fees, position_mode=mode)


def cross_gap(snap: AccountSnapshot) -> float:
    """Cross equity - cross maintenance margin: <= 0 is liquidation."""
    model = model_for(snap.exchange)
    cross = [p for p in snap.positions if p.margin_mode is MarginMode.CROSS]
    iso = sum(p.isolated_margin for p in snap.positions if p.margin_mode is MarginMode.ISOLATED)
    equity = snap.wallet_balance - iso + sum(p.unrealized_pnl for p in cross)
    return equity - sum(model.maintenance_margin(p, snap.tiers[p.symbol], snap.fees) for p in cross)
