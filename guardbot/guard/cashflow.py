"""Cash flows are not PnL: deposits, withdrawals and transfers re-base the drawdown, never trip it.

A wallet moves for four reasons: realized PnL, fees, funding — and money moved in or out. Only the
last is not trading, and it must not count as a loss (a withdrawal of 21 % would flatten the
account) nor hide one (a deposit would mask a real drawdown). Every cycle:

- the venue's ledger entries of a non-trading kind (deposit, withdrawal, transfer, bonus, rebate)
  not accounted for yet re-base the high-water mark, the day's start and the recent readings by
  their sum;
- without such an entry, a wallet that moved while no position changed, by more than funding could
  explain, is money moved that the ledger has not shown yet (a ledger can lag the balance): the
  drawdown rule waits `HOLD_CYCLES` readings for the entry; after that, or on a venue whose ledger
  ccxt cannot read, the jump is a *presumed* transfer — said once, and re-based like a reported one;
- a wallet move while positions changed is trading (realized PnL and fees) and is measured.

Pure: (state, snapshot, the ledger entries read this cycle) -> (what to re-base by, new state).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

from guardbot.domain import AccountSnapshot, CashFlow
from guardbot.guard.decisions import num
from guardbot.guard.state import GuardState

HOLD_CYCLES = 3  # readings the drawdown waits for a lagging ledger entry
FUNDING_CAP = 0.03  # the most one funding payment can move, as a fraction of notional (venues cap lower)
FUNDING_INTERVAL_MS = 8 * 3_600_000
HOUR_MS = 3_600_000
MIN_JUMP = 1.0  # a wallet move below this (settle currency) is noise
MAX_FLOW_IDS = 200  # ledger ids remembered, so an entry read twice is counted once
LEDGER_SLACK_MS = 120_000  # read the ledger from a little before the cursor: entries land late


@dataclass(frozen=True, slots=True)
class FlowInput:
    """The ledger as read this cycle. `entries` None: not read (or the read failed)."""

    entries: tuple[CashFlow, ...] | None
    feed: bool  # the venue has a ledger guardbot can read


@dataclass(frozen=True, slots=True)
class FlowOutcome:
    amount: float = 0.0  # re-base by this (reported + presumed)
    reported: tuple[CashFlow, ...] = ()
    presumed: float = 0.0  # the part of `amount` no ledger entry backs
    hold: bool = False  # the wallet moved unexplained: drawdown waits for the ledger this cycle
    jump: float = 0.0  # the unexplained wallet move, when holding or presuming


def legs_of(snapshot: AccountSnapshot) -> dict[str, tuple[float, float, float]]:
    return {
        f"{p.symbol}|{p.side.value}": (p.contracts, p.entry_price, p.mark_price) for p in snapshot.positions
    }


def wallet_moved(state: GuardState, snapshot: AccountSnapshot) -> bool:
    """Should the ledger be read this cycle? Only when the wallet moved since the last reading."""
    return state.last_wallet is not None and abs(snapshot.wallet_balance - state.last_wallet) > 1e-9


def ledger_since(state: GuardState, now_ms: int) -> int:
    start = state.flow_cursor_ms if state.flow_cursor_ms is not None else (state.last_ok_ms or now_ms)
    return max(0, start - LEDGER_SLACK_MS)


def _legs_unchanged(before: Mapping[str, tuple[float, float, float]], snapshot: AccountSnapshot) -> bool:
    now = legs_of(snapshot)
    if set(now) != set(before):
        return False
    return all(math.isclose(now[k][0], before[k][0], rel_tol=1e-9, abs_tol=1e-12) for k in now)


def _funding_bound(state: GuardState, snapshot: AccountSnapshot, now_ms: int) -> float:
    """The most funding can have moved the wallet since the last reading. Venues settle funding on
    the hour (every 8 h, 4 h or 1 h by symbol), so between two readings with no full hour in between
    it moved nothing at all."""
    # rounding between the venue's figures and ours (Hyperliquid's wallet is derived from equity)
    noise = max(
        MIN_JUMP, 1e-5 * (abs(snapshot.wallet_balance) + math.fsum(p.notional for p in snapshot.positions))
    )
    last = state.last_ok_ms if state.last_ok_ms is not None else now_ms - FUNDING_INTERVAL_MS
    payments = now_ms // HOUR_MS - last // HOUR_MS  # hour boundaries crossed
    if payments <= 0:
        return noise
    notional = math.fsum(p.notional for p in snapshot.positions)
    return notional * FUNDING_CAP * payments + noise


def account_for_flows(
    state: GuardState, snapshot: AccountSnapshot, flows: FlowInput | None, now_ms: int
) -> tuple[FlowOutcome, GuardState]:
    """What moved the wallet since the last reading, and the state re-based by it."""
    new = tuple(f for f in (flows.entries or ()) if f.id not in state.flow_ids) if flows else ()
    reported = math.fsum(f.amount for f in new)
    cursor = max([state.flow_cursor_ms or now_ms, *(f.ts_ms for f in new)])
    seen = (*state.flow_ids, *(f.id for f in new))[-MAX_FLOW_IDS:]
    outcome = FlowOutcome(amount=reported, reported=new)
    hold = False
    unexplained = 0
    if state.last_wallet is not None:
        residual = snapshot.wallet_balance - state.last_wallet - reported
        quiet_book = _legs_unchanged(state.last_legs, snapshot)
        if quiet_book and abs(residual) > _funding_bound(state, snapshot, now_ms):
            feed = flows.feed if flows is not None else False
            if feed and state.unexplained_cycles + 1 < HOLD_CYCLES:
                hold, unexplained = True, state.unexplained_cycles + 1
                outcome = FlowOutcome(reported, new, 0.0, True, residual)
            else:
                outcome = FlowOutcome(reported + residual, new, residual, False, residual)
    based = rebase(state, outcome.amount)
    return outcome, replace(
        based,
        # while holding, the next reading is measured against the wallet before the jump
        last_wallet=state.last_wallet if hold else snapshot.wallet_balance,
        last_legs=state.last_legs if hold else legs_of(snapshot),
        flow_ids=seen,
        flow_cursor_ms=cursor,
        unexplained_cycles=unexplained,
    )


def rebase(state: GuardState, amount: float) -> GuardState:
    """Shift every equity reference of the drawdown rules by money moved in (+) or out (−)."""
    if amount == 0:
        return state

    def shifted(x: float | None) -> float | None:
        if x is None:
            return None
        y = x + amount
        return y if y > 0 else None  # everything withdrawn: the next reading starts afresh

    return replace(
        state,
        high_water_mark=shifted(state.high_water_mark),
        day_start_equity=shifted(state.day_start_equity),
        recent_equity=tuple(x + amount for x in state.recent_equity),
    )


def describe(outcome: FlowOutcome, before: GuardState, after: GuardState, settle: str) -> str | None:
    """One line for the trader, or None when nothing moved."""
    if outcome.hold:
        return (
            f"the wallet moved by {num(outcome.jump)} {settle} with no trade: waiting for the exchange's "
            "transfer record before measuring drawdown"
        )
    if not outcome.amount:
        return None
    parts = [f"{_verb(f.amount)} {num(abs(f.amount))} {settle} ({f.kind})" for f in outcome.reported]
    if outcome.presumed:
        parts.append(
            f"{num(abs(outcome.presumed))} {settle} {'in' if outcome.presumed > 0 else 'out'} with no trade "
            "and no ledger entry: presumed a transfer"
        )
    hwm = ""
    if before.high_water_mark is not None:
        new = "reset" if after.high_water_mark is None else num(after.high_water_mark)
        hwm = f"; high-water mark {num(before.high_water_mark)} → {new}"
    return f"cash flow: {', '.join(parts)}{hwm} — not counted as profit or loss"


def _verb(amount: float) -> str:
    return "deposit / transfer in" if amount > 0 else "withdrawal / transfer out"
