"""[accounts] ignore_symbols: a position guardbot measures but never acts on.

Before: `symbols = ["ETH/USDT:USDT"]` said "guard only these", yet a BTC position was stopped and
cut; there was no way to leave a symbol alone. Now every position is guarded unless ignored.
"""

from __future__ import annotations

import dataclasses

from test_guard_support import BTC, ETH, book, cycles, kinds, pos, protect, quiet

from guardbot.domain import Side
from guardbot.risk.account import measure_account

B = pos(BTC, Side.LONG, 2, 50_000)
E = pos(ETH, Side.LONG, 20, 3_000)


def test_an_ignored_position_gets_no_stop_and_no_cut_but_counts_in_the_pool() -> None:
    s = book(10_000, B, E, orders=[protect(E)])  # 160,000 of notional on 10,000: 16x
    limits = dataclasses.replace(
        quiet(new_position_grace_s=0, leverage_warn=5, leverage_hard=8), ignore_symbols=frozenset({"BTC"})
    )
    out, _ = cycles(s, 2, limits)
    orders = [d for d in out[-1] if d.is_order]
    assert orders and all(d.symbol == ETH for d in orders)  # the cap cuts ETH, never BTC
    assert not kinds(out[-1], "place_stop")  # BTC has no stop, and none is placed
    # BTC still weighs on the account: the leverage the cap sees includes it
    assert measure_account(s).effective_leverage == 16


def test_the_margin_emergency_cuts_the_other_positions_instead() -> None:
    s = book(1_000, B.with_contracts(1), E.with_contracts(10), orders=[protect(B), protect(E)])  # 80 %
    limits = dataclasses.replace(
        quiet(
            margin_ratio_warn=0.5, margin_ratio_reduce=0.7, margin_ratio_flatten=0.99, margin_ratio_target=0.4
        ),
        ignore_symbols=frozenset({BTC}),
    )
    out, _ = cycles(s, 2, limits)
    cuts = kinds(out[-1], "reduce") + kinds(out[-1], "close")
    assert cuts and {d.symbol for d in cuts} == {ETH}
