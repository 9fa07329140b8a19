"""Brackets after they were sent: a resting limit entry and its stop (and take-profits) are one
bracket in the journal (`brackets`), so the guard knows whose stop it is.

After every guard cycle, each resting bracket of the account is looked at:
- its entry still rests: nothing to do (the stop rule already treats the stop as waiting for it);
- its entry filled (even partly): the bracket is `open`, its stop protects the position;
- its entry left the book unfilled (cancelled by the trader, by the HALTED rule, expired): its stop
  and take-profits are cancelled in the same cycle, and the bracket is `cancelled`. A stop whose
  cancel fails keeps the bracket resting, so the next cycle tries again. If a position is held on
  the bracket's side all the same (opened some other way), the stop is kept: it protects that.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import ccxt.async_support as ccxt

from guardbot.domain import AccountSnapshot, Order
from guardbot.exchange.convert import num, order_from_ccxt
from guardbot.exchange.errors import describe
from guardbot.exchange.gateway import ActionResult, OrderGateway, order_state_of
from guardbot.execution import describe_action
from guardbot.notify.base import Alert, Notifier
from guardbot.store import Journal
from guardbot.store.intents import BracketRow, BracketStatus

log = logging.getLogger("guardbot.intents")


async def tell(
    journal: Journal,
    notifier: Notifier,
    account: str,
    level: str,
    key: str,
    text: str,
    *,
    dry_run: bool,
    ts: int,
) -> None:
    """An alert: journaled first, then handed to the notifier (which never blocks the caller)."""
    alert_id = await journal.record_alert(account, ts, level=level, key=key, text=text)
    delivered = await notifier.send(Alert(level, account, key, text, dry_run=dry_run, alert_id=alert_id))  # type: ignore[arg-type]
    await journal.update_alert_delivery(alert_id, delivered)


class BracketFollower:
    def __init__(self, account: str, gateway: OrderGateway, journal: Journal, notifier: Notifier) -> None:
        self.account = account
        self.gateway = gateway
        self.journal = journal
        self.notifier = notifier

    async def follow(self, snapshot: AccountSnapshot, actions: Sequence[ActionResult], ts: int) -> list[str]:
        """Settle the account's resting brackets against `snapshot` (and this cycle's `actions`)."""
        rows = await self.journal.brackets_for(self.account, BracketStatus.RESTING)
        if not rows:
            return []
        live: dict[str, Order] = {o.client_order_id: o for o in snapshot.open_orders if o.client_order_id}
        cancelled = {a.client_order_id for a in actions if a.kind == "cancel" and a.ok}
        notes = []
        for b in rows:
            if b.entry_client_id in live and b.entry_client_id not in cancelled:
                continue
            held = any(p.symbol == b.symbol and p.side.value == b.side for p in snapshot.positions)
            try:
                note = await self._settle(b, live, held, ts)
            except ccxt.BaseError as exc:
                note = f"bracket {b.id}: cannot look its entry up ({describe(exc, 120)}); next cycle"
            if note:
                notes.append(note)
                log.info("%s: %s", self.account, note)
        return notes

    async def _settle(self, b: BracketRow, live: dict[str, Order], held: bool, ts: int) -> str | None:
        found = await self.gateway.find_order(b.symbol, b.entry_client_id, trigger=False)
        state = order_state_of(found)
        filled = (num(found.get("filled")) or 0.0) if found else 0.0
        if state == "open" and filled == 0:
            return None  # the snapshot was taken just before a cancel that has not landed yet
        if filled > 0 or state == "filled":
            await self.journal.update_bracket(b.id, BracketStatus.OPEN, ts)
            return f"bracket {b.id}: {b.side} {b.symbol} entry filled ({filled:g}); its stop protects it"
        if held:  # a position on its side (opened some other way): the stop now protects that
            await self.journal.update_bracket(b.id, BracketStatus.OPEN, ts)
            gone = state or "gone"
            return f"bracket {b.id}: entry {gone} unfilled, but a {b.side} {b.symbol} is held: stop kept"
        results: list[ActionResult] = []
        for cid in (b.stop_client_id, *b.take_profit_client_ids):
            order = live.get(cid) if cid else None
            if order is None and cid:
                # not in this snapshot (a reader may read a symbol's orders only now and then):
                # ask the exchange for it by its client id
                found = await self.gateway.find_order(b.symbol, cid, trigger=True)
                order = order_from_ccxt(found) if order_state_of(found) == "open" and found else None
            if order is not None:
                results.append(await self.gateway.cancel(order, rule="bracket"))
        if not all(r.ok for r in results):
            return f"bracket {b.id}: entry gone, cancelling its orders failed; next cycle tries again"
        await self.journal.update_bracket(b.id, BracketStatus.CANCELLED, ts)
        text = (
            f"{b.side} {b.symbol}: the limit entry left the book unfilled ({state or 'not found'}): "
            f"its stop and take-profits are cancelled with it"
        )
        for r in results:
            text += "\n  → " + describe_action(r)
        await tell(
            self.journal,
            self.notifier,
            self.account,
            "info",
            f"bracket|{b.symbol}",
            text,
            dry_run=self.gateway.dry_run,
            ts=ts,
        )
        return f"bracket {b.id}: entry {state or 'gone'} unfilled; {len(results)} order(s) cancelled with it"
