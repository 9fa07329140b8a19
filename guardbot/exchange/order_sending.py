"""The order gateway's core: rounding to the venue's precision, venue parameters, and the one
retry loop every mutating request goes through (dry-run gate, journal hook, look-up before resend).
The order verbs built on it are in `guardbot.exchange.gateway`.
"""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

import ccxt.async_support as ccxt

from guardbot.domain import PositionMode, Side
from guardbot.exchange.convert import num, reduce_min_notional
from guardbot.exchange.errors import ErrorClass, classify, describe, is_ambiguous
from guardbot.exchange.ids import client_order_id
from guardbot.exchange.lookup import find_by_client_id
from guardbot.exchange.order_results import (
    ActionResult,
    JournalHook,
    Refused,
    RetryPolicy,
    is_duplicate_id,
    order_state_of,
    placed,
    quiet,
    summary,
)
from guardbot.risk.precision import round_down

_T = TypeVar("_T")

# Binance-style venues take stops as STOP_MARKET with stopPrice; the others through ccxt's
# unified stopLossPrice (it sets the trigger direction itself).
BINANCE_STYLE = ("binanceusdm", "aster")
# Venues whose market orders are limit orders at a slippage cap: ccxt needs a reference price for
# every market and market-trigger order (Hyperliquid: an Ioc limit at price x (1 ± 5 %)).
PRICED_MARKET_ORDERS = ("hyperliquid",)
DEFAULT_SLIPPAGE = 0.05  # ccxt's Hyperliquid default (options["defaultSlippage"])


class OrderSender:
    """Rounding, venue parameters and the retry core of one account's gateway."""

    def __init__(
        self,
        client: ccxt.Exchange,
        account_name: str,
        dry_run: bool,
        journal_hook: JournalHook | None = None,
        *,
        retry: RetryPolicy | None = None,
        position_mode: PositionMode = PositionMode.ONE_WAY,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.account = account_name
        self.dry_run = dry_run
        self.journal_hook = journal_hook
        self.retry = retry or RetryPolicy()
        self.position_mode = position_mode
        self._rng = rng or random.Random()
        self._sleep = sleep
        # set on shutdown: finish the request in flight, then no retry and no new order (what is
        # left undone is decided again after the restart; what is in doubt is looked up then)
        self.stopping = False

    # ----------------------------------------------------------------- helpers

    def client_id(self, rule: str, symbol: str, episode: int | str, tag: str = "") -> str:
        return client_order_id(self.account, rule, symbol, episode, tag=tag, exchange=self.client.id)

    def _market(self, symbol: str) -> Mapping[str, Any]:
        market: Mapping[str, Any] = self.client.market(symbol)
        return market

    def round_amount(self, symbol: str, amount: float) -> float:
        """Amount rounded DOWN to the lot step (never up); 0.0 if below one step."""
        market = self._market(symbol)
        step = num((market.get("precision") or {}).get("amount")) or 0.0
        if self.client.precisionMode == ccxt.DECIMAL_PLACES:
            step = 10.0 ** (-step)
        floored = round_down(amount, step)
        if floored <= 0:
            return 0.0
        # ccxt's own formatting truncates too; it can only make the number shorter.
        return float(self.client.amount_to_precision(symbol, floored))

    def round_price(self, symbol: str, price: float) -> float:
        return float(self.client.price_to_precision(symbol, price))

    async def _market_price(self, symbol: str, known: float | None) -> float | None:
        """The reference price ccxt needs to send a market order on venues that have none
        (`PRICED_MARKET_ORDERS`): `known` if given, else the mark read now (one request, so a
        cut in a fast market is capped around the price of the moment, not of the last
        snapshot). None elsewhere: the order goes out without a price."""
        if self.client.id not in PRICED_MARKET_ORDERS:
            return None
        if known is not None:
            return known
        ticker: Mapping[str, Any] = await self.client.fetch_ticker(symbol)
        info = ticker.get("info") or {}
        price = num(info.get("markPx")) or num(ticker.get("close")) or num(ticker.get("last"))
        if not price:
            raise ccxt.ExchangeError(f"{self.client.id}: no mark price for {symbol} to cap a market order")
        return price

    def _min_amount(self, symbol: str) -> float:
        limits = self._market(symbol).get("limits") or {}
        return num((limits.get("amount") or {}).get("min")) or 0.0

    def _min_notional(self, symbol: str) -> float:
        limits = self._market(symbol).get("limits") or {}
        return num((limits.get("cost") or {}).get("min")) or 0.0

    async def _reduce_price(self, symbol: str) -> float | None:
        """Where reducing orders have a minimum value (Hyperliquid), the mark read now, to refuse a
        cut worth less here rather than have the venue refuse it; None elsewhere, or when the read
        fails (the send reads it again, under its retries)."""
        if not reduce_min_notional(str(self.client.id), self._market(symbol)):
            return None
        try:
            return await self._market_price(symbol, None)
        except ccxt.BaseError:
            return None

    def _check_reduce_value(self, symbol: str, side: str, amount: float, price: float | None) -> None:
        """Refuse a reducing order worth less than the venue's minimum for one. The venue values a
        market order at its slippage cap (ccxt: price × (1 ± slippage)), so that is the price used."""
        least = reduce_min_notional(str(self.client.id), self._market(symbol))
        if price is None or not least:
            return
        slippage = num((self.client.options or {}).get("defaultSlippage")) or DEFAULT_SLIPPAGE
        capped = price * (1 + slippage if side == "buy" else 1 - slippage)
        if amount * capped < least:
            raise Refused(
                f"a reducing order of {amount:g} {symbol} is worth {amount * capped:.2f} at {capped:g}, "
                f"below the venue's minimum order value {least:g} (reduce-only orders included)"
            )

    def _check_trigger_value(self, what: str, symbol: str, amount: float, trigger: float) -> None:
        """Refuse a stop / take-profit worth less at its trigger than the venue's minimum for a
        reducing order (Hyperliquid refuses those too): sent, it would only come back refused."""
        least = reduce_min_notional(str(self.client.id), self._market(symbol))
        size = num(self._market(symbol).get("contractSize")) or 1.0
        value = amount * size * trigger
        if least and value < least:
            raise Refused(
                f"a {what} of {amount:g} {symbol} is worth {value:.2f} at its trigger {trigger:g}, "
                f"below the venue's minimum order value {least:g} (stops and take-profits included)"
            )

    def _hedged(self) -> bool:
        return self.position_mode is PositionMode.HEDGE

    def _position_params(self, position_side: Side, *, reduce_only: bool) -> dict[str, Any]:
        """reduceOnly / positionSide for this venue and position mode."""
        if not self._hedged():
            return {"reduceOnly": True} if reduce_only else {}
        if self.client.id in BINANCE_STYLE:
            # Hedge mode: the position side says which leg; Binance rejects reduceOnly here.
            return {"positionSide": position_side.value.upper()}
        if self.client.id == "bybit":
            params: dict[str, Any] = {"positionIdx": 1 if position_side is Side.LONG else 2}
            if reduce_only:
                params["reduceOnly"] = True
            return params
        return {"reduceOnly": True} if reduce_only else {}

    def _reducing(
        self, kind: str, symbol: str, pside: Side, rule: str, episode: int | str, tag: str
    ) -> ActionResult:
        """The pending result of an order that reduces a position: the closing side, reduce-only,
        our client order id for (account, rule, symbol, episode)."""
        return ActionResult(
            kind=kind,
            account=self.account,
            symbol=symbol,
            side="sell" if pside is Side.LONG else "buy",
            amount=None,
            price=None,
            trigger_price=None,
            client_order_id=self.client_id(rule, symbol, episode, tag),
            status="pending",
            rule=rule,
            episode=str(episode),
            position_side=pside.value,
            reduce_only=True,
        )

    async def _journal(self, result: ActionResult) -> None:
        if self.journal_hook is None:
            return
        out = self.journal_hook(result)
        if inspect.isawaitable(out):
            await out

    async def _finish(self, result: ActionResult) -> ActionResult:
        await self._journal(result)
        return result

    # ----------------------------------------------------------------- the retry core

    async def _send_order(
        self,
        base: ActionResult,
        send: Callable[[], Awaitable[Mapping[str, Any]]],
        lookup: Callable[[], Awaitable[Mapping[str, Any] | None]] | None,
        *,
        look_first: bool = False,
    ) -> ActionResult:
        """Send with retries. After an ambiguous failure, look the order up before sending again.

        `look_first`: an earlier attempt under this client id may have reached the exchange (its
        journal row is still open): look before the first send too. The outcome is `unknown`, never
        `failed`, while the order may exist: a later look-up (next cycle, or after a restart)
        settles it. `failed` means it surely never reached the exchange.
        """
        if self.dry_run:
            return await self._finish(replace(base, status="dry_run", reason="dry-run: nothing sent"))
        await self._journal(replace(base, status="pending"))
        must_look = look_first and lookup is not None
        uncertain = must_look  # may the order exist on the exchange?
        last_error = ""
        for attempt in range(1, self.retry.attempts + 1):
            if self.stopping and attempt > 1:
                last_error = f"stopped retrying for shutdown after: {last_error}"
                break
            if must_look and lookup is not None:
                try:
                    found = await lookup()
                except Exception as exc:
                    last_error = describe(exc)
                    if classify(exc) is ErrorClass.FINAL:
                        break  # the look-up itself is refused: the fate stays unknown
                    if attempt < self.retry.attempts:
                        await self._sleep(self.retry.delay(attempt - 1, self._rng))
                    continue
                if placed(found):
                    assert found is not None
                    return await self._finish(self._accepted(base, found, attempt, "found after retry"))
                # not there, or there but cancelled/expired/rejected unfilled: safe to send again
                must_look = uncertain = False
            try:
                reply = await send()
                if order_state_of(reply) is None and lookup is not None:
                    # the acknowledgement carries only ids (Bybit): one look-up says whether the
                    # order rests or filled (a limit entry's bracket, and how a failed stop is
                    # unwound, depend on it; the journal and the alert say it)
                    found = await quiet(lookup)
                    if found is not None and found.get("id") == reply.get("id"):
                        reply = found
                return await self._finish(self._accepted(base, reply, attempt))
            except Exception as exc:
                last_error = describe(exc)
                if classify(exc) is ErrorClass.FINAL:
                    if lookup is not None and is_duplicate_id(exc):
                        found = await quiet(lookup)
                        if placed(found):
                            assert found is not None
                            return await self._finish(self._accepted(base, found, attempt, "already placed"))
                    return await self._finish(
                        replace(base, status="rejected", reason=last_error, attempts=attempt)
                    )
                if is_ambiguous(exc):
                    must_look = uncertain = True
                if attempt < self.retry.attempts:
                    await self._sleep(self.retry.delay(attempt - 1, self._rng))
        if uncertain:
            return await self._finish(
                replace(
                    base,
                    status="unknown",
                    reason=f"fate unknown after {self.retry.attempts} attempts ({last_error}): "
                    "it is looked up again before anything is resent",
                    attempts=self.retry.attempts,
                )
            )
        return await self._finish(
            replace(
                base,
                status="failed",
                reason=f"gave up after {self.retry.attempts} attempts: {last_error}",
                attempts=self.retry.attempts,
            )
        )

    @staticmethod
    def _accepted(base: ActionResult, reply: Mapping[str, Any], attempt: int, note: str = "") -> ActionResult:
        order_id = reply.get("id")
        status = str(reply.get("status") or "").lower()
        return replace(
            base,
            status="confirmed" if order_id else "sent",
            exchange_order_id=str(order_id) if order_id else None,
            reason=note or (f"exchange status {status}" if status else ""),
            raw=summary(reply),
            attempts=attempt,
            order_state=order_state_of(reply),
        )

    async def _call(
        self, base: ActionResult, fn: Callable[[], Awaitable[_T]]
    ) -> tuple[ActionResult, _T | None]:
        """Idempotent calls (leverage, cancels): retry on any retryable error."""
        if self.dry_run:  # the caller journals the result
            return replace(base, status="dry_run", reason="dry-run: nothing sent"), None
        await self._journal(replace(base, status="pending"))
        last_error = ""
        uncertain = False  # may an attempt have taken effect, unanswered?
        for attempt in range(1, self.retry.attempts + 1):
            if self.stopping and attempt > 1:
                last_error = f"stopped retrying for shutdown after: {last_error}"
                break
            try:
                value = await fn()
                return replace(base, status="confirmed", attempts=attempt), value
            except Exception as exc:
                last_error = describe(exc)
                if classify(exc) is ErrorClass.FINAL:
                    if isinstance(exc, ccxt.OrderNotFound) and attempt > 1 and base.kind == "cancel":
                        # Our earlier attempt went through before its reply was lost.
                        return replace(
                            base, status="confirmed", reason="already cancelled", attempts=attempt
                        ), None
                    return replace(base, status="rejected", reason=last_error, attempts=attempt), None
                uncertain = uncertain or is_ambiguous(exc)
                if attempt < self.retry.attempts:
                    await self._sleep(self.retry.delay(attempt - 1, self._rng))
        return (
            replace(
                base,
                status="unknown" if uncertain else "failed",
                reason=f"gave up after {self.retry.attempts} attempts: {last_error}",
                attempts=self.retry.attempts,
            ),
            None,
        )

    async def find_order(self, symbol: str, cid: str, *, trigger: bool) -> Mapping[str, Any] | None:
        """Our order by client id (open, filled or cancelled); None if the exchange has none.
        Each venue's own look-up is in `guardbot.exchange.lookup`."""
        return await find_by_client_id(self.client, symbol, cid, trigger=trigger)

    async def find_order_by_id(
        self, symbol: str, order_id: str, *, trigger: bool
    ) -> Mapping[str, Any] | None:
        """An order by the exchange's id (any owner, any state); None if the exchange has none."""
        params: dict[str, Any] = {"trigger": True} if trigger and self.client.id == "binanceusdm" else {}
        try:
            found: Mapping[str, Any] = await self.client.fetch_order(order_id, symbol, params)
            return found
        except ccxt.OrderNotFound:
            return None

    def _checked_amount(self, symbol: str, amount: float, price: float | None = None) -> float:
        if not amount > 0:
            raise Refused(f"amount must be positive, got {amount}")
        rounded = self.round_amount(symbol, amount)
        minimum = self._min_amount(symbol)
        if rounded <= 0 or rounded < minimum:
            raise Refused(
                f"amount {amount} rounds down to {rounded}, below the minimum {minimum} of {symbol}"
            )
        min_notional = self._min_notional(symbol)
        if price is not None and min_notional and rounded * price < min_notional:
            raise Refused(f"notional {rounded * price:.4f} of {symbol} is below the minimum {min_notional}")
        return rounded

    def _stop_params(self, pside: Side, trigger: float, cid: str, *, close_position: bool) -> dict[str, Any]:
        ex = self.client.id
        params: dict[str, Any] = {"clientOrderId": cid}
        if ex in BINANCE_STYLE:
            params.update({"stopPrice": trigger, "workingType": "MARK_PRICE"})
            if close_position:
                params["closePosition"] = True  # Binance refuses reduceOnly next to closePosition
                if self._hedged():
                    params["positionSide"] = pside.value.upper()
                return params
        else:
            if close_position:
                raise Refused(f"{ex}: a stop needs an amount (no close-position stops)")
            params["stopLossPrice"] = trigger
            if ex == "bybit":
                params["triggerBy"] = "MarkPrice"
        params.update(self._position_params(pside, reduce_only=True))
        return params
