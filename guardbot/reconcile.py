"""Settling the fate of our orders with the exchange: the journal tells the truth.

An action whose fate is open (pending: journaled, maybe sent; sent; unknown: sent, no answer and
no look-up yet) is looked up by its client id at start and at the start of every cycle, until the
exchange settles it:
- found, and live or filled -> `confirmed`, with the exchange's id and what became of it;
- found, cancelled or expired without a fill -> `confirmed` too (the exchange accepted it), with
  that `order_state`: the row says what the exchange holds;
- not found -> `failed`: it never reached the exchange (the guard decides afresh, under a new id);
- the look-up fails -> it stays open, and is looked up again next cycle. Never declared failed or
  confirmed by assumption.
A confirmed order that rested (our stop) and has left the book is looked up once, so its row says
whether it filled, or was cancelled or expired.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import ccxt.async_support as ccxt

from guardbot.domain import AccountSnapshot
from guardbot.exchange.errors import describe
from guardbot.exchange.gateway import OrderGateway, order_state_of
from guardbot.store import Journal
from guardbot.store.rows import ActionKind, ActionRow

log = logging.getLogger("guardbot.reconcile")
_ORDERS = (ActionKind.STOP, ActionKind.REDUCE, ActionKind.CLOSE, ActionKind.ENTRY, ActionKind.TAKE_PROFIT)


class Reconciler:
    def __init__(self, account: str, gateway: OrderGateway, journal: Journal) -> None:
        self.account = account
        self.gateway = gateway
        self.journal = journal

    async def open_actions(self) -> list[str]:
        """Look up every action whose fate is open; one note per action settled or still open."""
        notes: list[str] = []
        for a in await self.journal.pending_actions(self.account):
            try:
                note = await self._settle(a)
            except ccxt.BaseError as exc:
                note = f"{a.client_order_id}: cannot look it up ({describe(exc, 120)}); still open"
            notes.append(note)
        for n in notes:
            log.info("%s: reconcile: %s", self.account, n)
        return notes

    async def _settle(self, a: ActionRow) -> str:
        cid = a.client_order_id
        if a.kind is ActionKind.CANCEL:
            return await self._settle_cancel(a)
        if a.kind not in _ORDERS or not a.symbol:
            # set_leverage: idempotent, and re-read with the account's settings; nothing to find
            await self.journal.update_action(cid, "failed", reply="interrupted before its reply")
            return f"{cid}: interrupted, not an order"
        found = await self.gateway.find_order(a.symbol, cid, trigger=a.trigger_price is not None)
        if found is None:
            await self.journal.update_action(cid, "failed", reply="not on the exchange: it never reached it")
            return f"{cid}: not on the exchange, failed"
        state = order_state_of(found)
        if state == "rejected":
            await self.journal.update_action(
                cid, "rejected", reply="the exchange rejected it", order_state=state
            )
            return f"{cid}: rejected by the exchange"
        await self._confirm(cid, found, "found on the exchange by its client id")
        return f"{cid}: found on the exchange ({state or 'accepted'}), confirmed"

    async def _settle_cancel(self, a: ActionRow) -> str:
        cid = a.client_order_id
        if not a.symbol or not a.exchange_order_id:
            await self.journal.update_action(cid, "failed", reply="interrupted; the guard decides afresh")
            return f"{cid}: interrupted cancel"
        found = await self.gateway.find_order_by_id(
            a.symbol, a.exchange_order_id, trigger=a.trigger_price is not None
        )
        state = order_state_of(found)
        if state in ("canceled", "expired", "filled"):
            await self.journal.update_action(cid, "confirmed", reply=f"the order is {state}")
            return f"{cid}: the order is {state}, confirmed"
        await self.journal.update_action(
            cid, "failed", reply="the order is still open" if found else "the order is not on the exchange"
        )
        return f"{cid}: not cancelled, failed"

    async def left_the_book(self, snapshot: AccountSnapshot) -> list[str]:
        """Our confirmed resting orders that are no longer open: journal what became of them."""
        live = {o.client_order_id for o in snapshot.open_orders if o.client_order_id}
        notes: list[str] = []
        for a in await self.journal.resting_actions(self.account):
            if a.client_order_id in live or not a.symbol:
                continue
            try:
                found = await self.gateway.find_order(
                    a.symbol, a.client_order_id, trigger=a.trigger_price is not None
                )
            except ccxt.BaseError as exc:
                notes.append(f"{a.client_order_id}: left the book, look-up failed ({describe(exc, 120)})")
                continue
            state = order_state_of(found)
            if state is None or state == "open":
                continue  # not settled on the exchange's side yet: look again next cycle
            await self.journal.update_action(a.client_order_id, "confirmed", order_state=state)
            notes.append(f"{a.client_order_id}: {state}")
        return notes

    async def _confirm(self, cid: str, found: Mapping[str, Any], reply: str) -> None:
        await self.journal.update_action(
            cid,
            "confirmed",
            exchange_order_id=str(found.get("id") or "") or None,
            reply=reply,
            order_state=order_state_of(found),
        )
