"""Saying it when the exchange liquidated (or auto-deleveraged) a position anyway.

Between two readings a leg shrank or vanished; the order history says whether the exchange closed
it by force (exchange/forced.py). Such a close is announced as what it is — the event a guard
exists to prevent — never passed over as an ordinary close.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from guardbot.domain import AccountSnapshot, ForcedClose
from guardbot.guard.decisions import RULE_LIQUIDATED, Decision, num, qty, short


def legs_lost(
    last_legs: Mapping[str, tuple[float, float, float]], snapshot: AccountSnapshot
) -> dict[str, float]:
    """ "<symbol>|<side>" -> contracts that are gone since the last reading."""
    now = {f"{p.symbol}|{p.side.value}": p.contracts for p in snapshot.positions}
    lost: dict[str, float] = {}
    for key, (contracts, _, _) in last_legs.items():
        gone = contracts - now.get(key, 0.0)
        if gone > contracts * 1e-9:
            lost[key] = gone
    return lost


def announce(account: str, forced: Sequence[ForcedClose]) -> list[Decision]:
    out = []
    for f in forced:
        what = "LIQUIDATED" if f.kind == "liquidation" else "AUTO-DELEVERAGED (ADL)"
        at = f" at {num(f.price)}" if f.price else ""
        out.append(
            Decision(
                RULE_LIQUIDATED,
                "alert",
                account,
                f"{short(f.symbol)} {f.position_side.value} {qty(f.amount)} was {what} by the exchange{at}: "
                "the loss is realized; check the account and the journal for what led to it",
                f"{RULE_LIQUIDATED}:{f.symbol}:{f.position_side.value}:{f.order_id or f.ts_ms}",
                "critical",
                symbol=f.symbol,
                side=f.position_side,
                details={"kind": f.kind, "amount": f.amount, "price": f.price, "order_id": f.order_id},
            )
        )
    return out
