"""Carrying out the guard's order decisions: which client id, the gateway call, the journal row.

Client order ids come from (account, rule, symbol, episode). One id names one order: when the
order sent under an episode's id is finished without effect (cancelled by someone, expired,
rejected, never sent) and the guard still wants it, the next attempt is a new *revision* of the
episode (`<episode>#<n>`), with a new id and a new journal row. So a journal row always describes
exactly the order the exchange accepted, and a finished order's id is never sent again: Binance
accepts a closed order's id a second time, and that second order could not be told from the
first by a look-up.

An id whose order is still in flight (pending, sent, unknown) is reused on purpose: the gateway
looks it up before sending, so a retry finds the order instead of doubling it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
from collections.abc import Callable, Sequence

from guardbot.domain import AccountSnapshot, Order
from guardbot.exchange.gateway import ActionResult, OrderGateway
from guardbot.guard import Decision
from guardbot.store import Journal
from guardbot.store.rows import ActionRow, ActionStatus, OrderState

log = logging.getLogger("guardbot.execution")

MAX_REVISIONS = 1000  # far beyond any real episode; a loop guard, not a policy
ORDER_CONCURRENCY = 8  # symbols whose orders are in flight at once (ccxt's limiter paces requests)
_DECISION: contextvars.ContextVar[int | None] = contextvars.ContextVar("decision_id", default=None)
_ACTION_KIND = {
    "stop": "stop",
    "reduce": "reduce",
    "entry": "entry",
    "cancel": "cancel",
    "cancel_all": "cancel",
    "set_leverage": "set_leverage",
    "take_profit": "take_profit",
}


class DecisionExecutor:
    """Sends one account's order decisions through its gateway and journals every action."""

    def __init__(
        self, account: str, gateway: OrderGateway, journal: Journal, clock: Callable[[], int]
    ) -> None:
        self.account = account
        self.gateway = gateway
        self.journal = journal
        self.clock = clock
        self._open_ids: dict[str, str] = {}  # journal ids of sent actions that have no client id
        self._pending: set[str] = set()  # journal ids whose pending row this process wrote
        gateway.journal_hook = self.journal_action

    @property
    def decision_id(self) -> int | None:
        """The decision the actions being sent belong to (per task: orders go out concurrently)."""
        return _DECISION.get()

    @decision_id.setter
    def decision_id(self, value: int | None) -> None:
        _DECISION.set(value)

    async def execute_all(
        self, decisions: Sequence[tuple[Decision, int | None]], snapshot: AccountSnapshot
    ) -> list[list[ActionResult]]:
        """Send order decisions (with their journal ids): one symbol's in order, symbols at once,
        ORDER_CONCURRENCY at a time. Results come back in the decisions' order."""
        results: list[list[ActionResult]] = [[] for _ in decisions]
        by_symbol: dict[str, list[int]] = {}
        for i, (d, _) in enumerate(decisions):
            by_symbol.setdefault(d.symbol or "", []).append(i)
        gate = asyncio.Semaphore(ORDER_CONCURRENCY)

        async def symbol_orders(indices: list[int]) -> None:
            async with gate:
                for i in indices:
                    d, decision_id = decisions[i]
                    self.decision_id = decision_id
                    results[i] = await self.execute(d, snapshot)

        await asyncio.gather(*(symbol_orders(ix) for ix in by_symbol.values()))
        return results

    # ---------------------------------------------------------------- decisions

    async def execute(self, d: Decision, snapshot: AccountSnapshot) -> list[ActionResult]:
        assert d.symbol is not None
        gw = self.gateway
        out: list[ActionResult] = []
        if gw.stopping:
            # shutting down: nothing new goes out; the restart decides again from the saved state
            log.info("%s: not sent (shutting down): %s", self.account, d.reason)
            return out
        if d.kind in ("cancel_order", "replace_stop") and d.order_id:
            order = next((o for o in snapshot.open_orders if o.id == d.order_id), None)
            if order is None:
                order = Order(
                    d.symbol,
                    d.order_side or "sell",
                    "stop_market",
                    None,
                    id=d.order_id,
                    client_order_id=d.client_order_id,
                    trigger_price=d.trigger_price,
                )
            out.append(await gw.cancel(order, rule=d.rule))
            if d.kind == "cancel_order" or not out[-1].ok:
                return out
        if d.side is None:
            return out
        if d.kind in ("place_stop", "replace_stop") and d.trigger_price is not None:
            episode, in_flight = await self.revision(d, snapshot)
            if episode is not None:
                out.append(
                    await gw.place_stop(
                        d.symbol,
                        d.side,
                        d.quantity,
                        d.trigger_price,
                        rule=d.rule,
                        episode=episode,
                        mark_price=snapshot.mark(d.symbol),
                        look_first=in_flight,
                    )
                )
        elif d.kind in ("reduce", "close") and d.quantity:
            episode, in_flight = await self.revision(d, snapshot)
            if episode is not None:
                out.append(
                    await gw.reduce(
                        d.symbol, d.side, d.quantity, rule=d.rule, episode=episode, look_first=in_flight
                    )
                )
        return out

    async def episode_to_send(self, d: Decision, snapshot: AccountSnapshot) -> str | None:
        return (await self.revision(d, snapshot))[0]

    async def revision(self, d: Decision, snapshot: AccountSnapshot) -> tuple[str | None, bool]:
        """(`episode_to_send`, whether an earlier attempt under it may be on the exchange)."""
        episode, row = await self._episode(d, snapshot)
        return episode, episode is not None and row is not None and row.status.is_open and not row.dry_run

    async def _episode(self, d: Decision, snapshot: AccountSnapshot) -> tuple[str | None, ActionRow | None]:
        """The revision of `d.episode` to send under, or None when its order is already in place.

        - no row for the id, or a row still in flight: send (the gateway looks it up first);
        - confirmed and still doing its job (a resting stop in the snapshot, a filled reduction):
          nothing to send;
        - confirmed but gone without effect, or rejected/failed with other figures: next revision;
        - rejected/failed with the same figures: the same id again (nothing was accepted under it,
          and the row already describes this order).
        """
        assert d.symbol is not None
        resting = d.kind in ("place_stop", "replace_stop")
        for rev in range(MAX_REVISIONS):
            episode = d.episode if rev == 0 else f"{d.episode}#{rev}"
            cid = self.gateway.client_id(d.rule, d.symbol, episode)
            row = await self.journal.action_by_client_id(cid)
            if row is None or (row.status.is_open and not row.dry_run):
                return episode, row
            if row.dry_run:
                if self.gateway.dry_run:
                    return episode, row
                continue  # a dry-run row cannot describe a live order
            if row.status is ActionStatus.CONFIRMED:
                if resting:
                    if any(o.client_order_id == cid for o in snapshot.open_orders):
                        return None, row
                elif row.order_state in (None, OrderState.OPEN, OrderState.FILLED):
                    return None, row
                continue
            if self._same_order(row, d):
                return episode, row
        raise RuntimeError(f"{self.account}: more than {MAX_REVISIONS} revisions of episode {d.episode}")

    def _same_order(self, row: ActionRow, d: Decision) -> bool:
        assert d.symbol is not None
        try:
            quantity = self.gateway.round_amount(d.symbol, d.quantity) if d.quantity else None
            trigger = self.gateway.round_price(d.symbol, d.trigger_price) if d.trigger_price else None
        except Exception:  # markets not loaded: cannot tell, so a new id is the safe answer
            return False
        return _close(row.quantity, quantity) and _close(row.trigger_price, trigger)

    # ---------------------------------------------------------------- journal

    def _action_id(self, r: ActionResult, ts: int) -> str:
        """The journal id of an action; the pending row and its outcome must get the same one."""
        if r.kind == "cancel":
            # Keyed by the order it cancels, in its own namespace: cancelling our own stop under the
            # stop's client id would land on the stop's journal row (a kind conflict).
            return f"cancel:{r.exchange_order_id or r.client_order_id or r.symbol}"
        if r.client_order_id:
            return r.client_order_id
        key = f"{r.kind}:{r.symbol}"  # cancel_all, set_leverage: no order id of their own
        if r.status == "pending":
            self._open_ids[key] = f"{key}:{r.episode or ts}"
            return self._open_ids[key]
        return self._open_ids.pop(key, None) or f"{key}:{r.episode or ts}"

    async def journal_action(self, r: ActionResult) -> None:
        """The gateway's hook: a pending row before a request leaves, its outcome after."""
        ts = self.clock()
        cid = self._action_id(r, ts)
        opening = r.status in ("pending", "dry_run")
        # An order refused before anything was sent (below the minimum, ...) has no pending row yet.
        if opening or (cid not in self._pending and await self.journal.action_by_client_id(cid) is None):
            await self.journal.add_pending_action(
                self.account,
                ts,
                rule=r.rule or "manual",
                kind=_ACTION_KIND.get(r.kind, "cancel"),
                client_order_id=cid,
                dry_run=r.status == "dry_run" or (not opening and self.gateway.dry_run),
                symbol=r.symbol,
                side=r.side,
                quantity=r.amount,
                price=r.price,
                trigger_price=r.trigger_price,
                decision_id=self.decision_id,
            )
        if opening:
            if r.status == "pending":
                self._pending.add(cid)
            return
        self._pending.discard(cid)
        await self.journal.update_action(
            cid,
            r.status,
            exchange_order_id=r.exchange_order_id,
            reply=(r.reason or r.raw)[:500] or None,
            ts=ts,
            order_state=r.order_state,
        )


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def describe_action(r: ActionResult) -> str:
    """One line for a person: what was sent and what became of it ("resting" vs "filled")."""
    what = {
        "stop": "stop",
        "reduce": "reduce-only market",
        "cancel": "cancel",
        "cancel_all": "cancel all",
        "entry": "entry",
        "set_leverage": "leverage",
        "take_profit": "take-profit",
    }.get(r.kind, r.kind)
    qty = "whole position" if r.amount is None and r.kind == "stop" else (f"{r.amount:g}" if r.amount else "")
    at = f" @ {r.trigger_price:g}" if r.trigger_price else ""
    if r.kind == "entry" and r.price:
        at = f" limit {r.price:g}"
    status = {
        "dry_run": "DRY-RUN, not sent",
        "sent": "sent",
        "confirmed": "done",
        "rejected": "REJECTED",
        "failed": "FAILED",
        "pending": "pending",
        "unknown": "UNKNOWN, checking",
    }[r.status]
    if r.status == "confirmed" and r.kind in ("stop", "reduce", "entry", "take_profit"):
        status = {
            "open": "placed, resting",
            "filled": "filled",
            "canceled": "cancelled",
            "expired": "EXPIRED unfilled",
            "rejected": "REJECTED",
        }.get(r.order_state or "", "accepted")
    why = f": {r.reason}" if r.reason and r.status in ("rejected", "failed", "unknown") else ""
    return f"{what} {r.side or ''} {qty} {r.symbol}{at} [{status}{why}]".replace("  ", " ")
