"""Order gateway: the ONLY code that changes anything on an exchange.

Every mutating request (orders, cancels, leverage) goes through `OrderGateway`, which
- enforces dry-run: in dry-run nothing mutating leaves the process; the result carries the exact
  rounded amount/price and client order id that would have been sent;
- rounds quantities DOWN to the lot step and prices to the tick, and refuses amounts below the
  market minimum instead of sending them;
- keeps guard orders reduce-only (stops, reductions) with mark-price triggers;
- uses our deterministic client order ids, and after an ambiguous failure (timeout, dropped
  connection) looks the order up before sending it again, so a retry never doubles an order;
- sorts errors: retryable ones are retried with bounded exponential backoff and jitter; final
  ones come back as `status="rejected"` with the exchange's message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import ccxt.async_support as ccxt

from guardbot.domain import Order, Side
from guardbot.exchange.errors import describe
from guardbot.exchange.order_results import (
    ActionResult,
    JournalHook,
    Kind,
    Refused,
    RetryPolicy,
    Status,
    order_state_of,
    summary,
)
from guardbot.exchange.order_sending import BINANCE_STYLE, OrderSender

__all__ = ["ActionResult", "JournalHook", "Kind", "OrderGateway", "RetryPolicy", "Status", "order_state_of"]


class OrderGateway(OrderSender):
    """Places, reduces and cancels orders for one account. Create one per account and client."""

    # ----------------------------------------------------------------- actions

    async def place_stop(
        self,
        symbol: str,
        position_side: Side | str,
        amount: float | None,
        trigger_price: float,
        *,
        rule: str,
        episode: int | str,
        mark_price: float | None = None,
        tag: str = "",
        look_first: bool = False,
    ) -> ActionResult:
        """A reduce-only stop-market protecting a position, triggered by mark price.

        `amount=None` closes the whole position when triggered (Binance closePosition).
        A long's stop is a sell below mark; a short's a buy above mark.
        """
        pside = Side(position_side)
        base = self._reducing("stop", symbol, pside, rule, episode, tag)
        side, cid = base.side or "", base.client_order_id or ""
        try:
            await self.client.load_markets()
            trigger = self.round_price(symbol, trigger_price)
            base = replace(base, trigger_price=trigger)
            if mark_price is not None and (trigger - mark_price) * pside.sign >= 0:
                where = "below" if pside is Side.LONG else "above"
                raise Refused(f"a {pside.value} stop must trigger {where} mark {mark_price}, got {trigger}")
            rounded: float | None = None
            if amount is not None:
                rounded = self._checked_amount(symbol, amount)
                base = replace(base, amount=rounded)
                self._check_trigger_value("stop", symbol, rounded, trigger)
            params = self._stop_params(pside, trigger, cid, close_position=amount is None)
        except Refused as exc:
            return await self._finish(replace(base, status="rejected", reason=str(exc)))
        except ccxt.BaseError as exc:
            return await self._finish(replace(base, status="rejected", reason=describe(exc)))

        async def send() -> Mapping[str, Any]:
            # a market stop's slippage cap is taken from its trigger where the venue wants one
            price = await self._market_price(symbol, trigger)
            reply: Mapping[str, Any] = await self.client.create_order(
                symbol, "market", side, rounded, price, params
            )
            return reply

        async def lookup() -> Mapping[str, Any] | None:
            return await self.find_order(symbol, cid, trigger=True)

        return await self._send_order(base, send, lookup, look_first=look_first)

    async def place_take_profit(
        self,
        symbol: str,
        position_side: Side | str,
        amount: float,
        trigger_price: float,
        *,
        rule: str,
        episode: int | str,
        mark_price: float | None = None,
        tag: str = "tp",
    ) -> ActionResult:
        """A reduce-only take-profit-market closing `amount` (rounded DOWN) of a position when the
        mark reaches `trigger_price`: a long's is a sell above the mark, a short's a buy below it.
        Reduce-only, so it can never open or grow a position (nor outlive it on Binance)."""
        pside = Side(position_side)
        base = self._reducing("take_profit", symbol, pside, rule, episode, tag)
        side, cid = base.side or "", base.client_order_id or ""
        try:
            await self.client.load_markets()
            trigger = self.round_price(symbol, trigger_price)
            base = replace(base, trigger_price=trigger)
            if mark_price is not None and (trigger - mark_price) * pside.sign <= 0:
                where = "above" if pside is Side.LONG else "below"
                raise Refused(
                    f"a {pside.value} take-profit must trigger {where} mark {mark_price}, got {trigger}"
                )
            rounded = self._checked_amount(symbol, amount)
            base = replace(base, amount=rounded)
            self._check_trigger_value("take-profit", symbol, rounded, trigger)
        except Refused as exc:
            return await self._finish(replace(base, status="rejected", reason=str(exc)))
        except ccxt.BaseError as exc:
            return await self._finish(replace(base, status="rejected", reason=describe(exc)))
        params: dict[str, Any] = {"clientOrderId": cid, "takeProfitPrice": trigger}
        if self.client.id in BINANCE_STYLE:
            params["workingType"] = "MARK_PRICE"
        elif self.client.id == "bybit":
            params["triggerBy"] = "MarkPrice"
        params.update(self._position_params(pside, reduce_only=True))

        async def send() -> Mapping[str, Any]:
            # like a stop's: the slippage cap comes from its trigger where the venue wants a price
            # (Hyperliquid: without one ccxt refuses the order before sending it)
            price = await self._market_price(symbol, trigger)
            reply: Mapping[str, Any] = await self.client.create_order(
                symbol, "market", side, rounded, price, params
            )
            return reply

        async def lookup() -> Mapping[str, Any] | None:
            return await self.find_order(symbol, cid, trigger=True)

        return await self._send_order(base, send, lookup)

    async def reduce(
        self,
        symbol: str,
        position_side: Side | str,
        amount: float,
        *,
        rule: str,
        episode: int | str,
        tag: str = "",
        look_first: bool = False,
    ) -> ActionResult:
        """A reduce-only market order cutting `amount` (rounded DOWN to the lot step) off a position.

        Below the market's minimum amount the result is `rejected` and nothing is sent.
        """
        pside = Side(position_side)
        base = self._reducing("reduce", symbol, pside, rule, episode, tag)
        side, cid = base.side or "", base.client_order_id or ""
        try:
            await self.client.load_markets()
            # Reduce-only orders are exempt from the minimum notional on Binance: only the lot
            # minimum applies. Hyperliquid's minimum value binds them too.
            rounded = self._checked_amount(symbol, amount)
            known = await self._reduce_price(symbol)
            self._check_reduce_value(symbol, side, rounded, known)
        except Refused as exc:
            return await self._finish(replace(base, status="rejected", reason=str(exc)))
        except ccxt.BaseError as exc:
            return await self._finish(replace(base, status="rejected", reason=describe(exc)))
        base = replace(base, amount=rounded)
        params = {"clientOrderId": cid, **self._position_params(pside, reduce_only=True)}

        async def send() -> Mapping[str, Any]:
            price = await self._market_price(symbol, known)
            reply: Mapping[str, Any] = await self.client.create_order(
                symbol, "market", side, rounded, price, params
            )
            return reply

        async def lookup() -> Mapping[str, Any] | None:
            return await self.find_order(symbol, cid, trigger=False)

        return await self._send_order(base, send, lookup, look_first=look_first)

    async def place_entry(
        self,
        symbol: str,
        side: Side | str,
        amount: float,
        *,
        stop_price: float,
        rule: str,
        episode: int | str,
        price: float | None = None,
        mark_price: float | None = None,
        stop_amount: float | None = None,
    ) -> tuple[ActionResult, ActionResult | None]:
        """A confirmed trade: a market entry (or a limit entry at `price`) and its protective stop.

        The stop (reduce-only, mark-price trigger) is placed only if the entry was accepted (or
        would be, in dry-run). It covers the entry, or `stop_amount`: the position left after a
        one-way order that first closes an opposite position. Returns (entry, stop or None).
        """
        pside = Side(side)
        order_side = "buy" if pside is Side.LONG else "sell"
        cid = self.client_id(rule, symbol, episode, "entry")
        base = ActionResult(
            kind="entry",
            account=self.account,
            symbol=symbol,
            side=order_side,
            amount=None,
            price=None,
            trigger_price=None,
            client_order_id=cid,
            status="pending",
            rule=rule,
            episode=str(episode),
            position_side=pside.value,
        )
        try:
            await self.client.load_markets()
            limit_price = self.round_price(symbol, price) if price is not None else None
            ref_price = limit_price or mark_price
            if ref_price is not None and (stop_price - ref_price) * pside.sign >= 0:
                where = "below" if pside is Side.LONG else "above"
                raise Refused(
                    f"the stop of a {pside.value} entry must be {where} {ref_price}, got {stop_price}"
                )
            rounded = self._checked_amount(symbol, amount, ref_price)
            try:  # a stop the venue would refuse after the fill: the entry is not sent either
                stop_rounded = self.round_price(symbol, stop_price)
                self._check_trigger_value(
                    "stop", symbol, rounded if stop_amount is None else stop_amount, stop_rounded
                )
            except Refused as exc:
                raise Refused(f"entry not sent: its stop would be refused: {exc}") from None
        except Refused as exc:
            return await self._finish(replace(base, status="rejected", reason=str(exc))), None
        except ccxt.BaseError as exc:
            return await self._finish(replace(base, status="rejected", reason=describe(exc))), None
        base = replace(base, amount=rounded, price=limit_price)
        params: dict[str, Any] = {"clientOrderId": cid, **self._position_params(pside, reduce_only=False)}
        order_type = "limit" if limit_price is not None else "market"

        async def lookup() -> Mapping[str, Any] | None:
            return await self.find_order(symbol, cid, trigger=False)

        async def send() -> Mapping[str, Any]:
            price = limit_price if limit_price is not None else await self._market_price(symbol, mark_price)
            reply: Mapping[str, Any] = await self.client.create_order(
                symbol, order_type, order_side, rounded, price, params
            )
            return reply

        entry = await self._send_order(base, send, lookup)
        if not entry.ok:
            return entry, None
        covered = rounded if stop_amount is None else stop_amount
        stop = await self.place_stop(
            symbol, pside, covered, stop_price, rule=rule, episode=episode, mark_price=mark_price, tag="stop"
        )
        return entry, stop

    async def cancel(self, order: Order, *, rule: str | None = None) -> ActionResult:
        """Cancel one resting order (plain or trigger/algo)."""
        base = ActionResult(
            kind="cancel",
            account=self.account,
            symbol=order.symbol,
            side=order.side,
            amount=order.amount,
            price=order.price,
            trigger_price=order.trigger_price,
            client_order_id=order.client_order_id,
            status="pending",
            exchange_order_id=order.id or None,
            rule=rule,
            position_side=order.position_side,
            reduce_only=order.reduce_only,
        )
        params: dict[str, Any] = {}
        if order.trigger_price is not None and self.client.id == "binanceusdm":
            params["trigger"] = True  # algo orders: DELETE /fapi/v1/algoOrder

        async def call() -> Any:
            await self.client.load_markets()
            return await self.client.cancel_order(order.id, order.symbol, params)

        result, reply = await self._call(base, call)
        if isinstance(reply, Mapping):
            result = replace(result, raw=summary(reply))
        return await self._finish(result)

    async def cancel_all(self, symbol: str, *, rule: str | None = None) -> ActionResult:
        """Cancel every open order of a symbol (plain and trigger) — ours and the user's."""
        base = ActionResult(
            kind="cancel_all",
            account=self.account,
            symbol=symbol,
            side=None,
            amount=None,
            price=None,
            trigger_price=None,
            client_order_id=None,
            status="pending",
            rule=rule,
        )

        async def call() -> None:
            await self.client.load_markets()
            if not self.client.has.get("cancelAllOrders"):
                # Hyperliquid: no cancel-all in ccxt; its open orders (plain and trigger), then
                # one batch cancel of their ids
                ids = [o["id"] for o in await self.client.fetch_open_orders(symbol) if o.get("id")]
                if ids:
                    await self.client.cancel_orders(ids, symbol)
                return
            await self.client.cancel_all_orders(symbol)
            if self.client.id == "binanceusdm":
                await self.client.cancel_all_orders(symbol, {"trigger": True})

        result, _ = await self._call(base, call)
        return await self._finish(result)

    async def set_leverage(self, symbol: str, leverage: float, *, rule: str | None = None) -> ActionResult:
        """Set the symbol's leverage (whole number, at least 1, rounded down)."""
        lev = max(1, int(leverage))
        base = ActionResult(
            kind="set_leverage",
            account=self.account,
            symbol=symbol,
            side=None,
            amount=float(lev),
            price=None,
            trigger_price=None,
            client_order_id=None,
            status="pending",
            rule=rule,
        )

        async def call() -> Any:
            await self.client.load_markets()
            return await self.client.set_leverage(lev, symbol)

        result, reply = await self._call(base, call)
        if isinstance(reply, Mapping):
            result = replace(result, raw=" ".join(f"{k}={v}" for k, v in reply.items() if k != "info")[:200])
        return await self._finish(result)
