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

import asyncio
import inspect
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

import ccxt.async_support as ccxt

from guardbot.domain import Order, PositionMode, Side
from guardbot.exchange.convert import num
from guardbot.exchange.errors import ErrorClass, classify, describe, is_ambiguous
from guardbot.exchange.ids import client_order_id
from guardbot.exchange.lookup import find_by_client_id
from guardbot.risk.precision import round_down

Status = Literal["pending", "sent", "unknown", "confirmed", "failed", "rejected", "dry_run"]
Kind = Literal["stop", "reduce", "entry", "cancel", "cancel_all", "set_leverage", "take_profit"]
JournalHook = Callable[["ActionResult"], Awaitable[None] | None]
_T = TypeVar("_T")

# Binance-style venues take stops as STOP_MARKET with stopPrice; the others through ccxt's
# unified stopLossPrice (it sets the trigger direction itself).
_BINANCE_STYLE = ("binanceusdm", "aster")
# Venues whose market orders are limit orders at a slippage cap: ccxt needs a reference price for
# every market and market-trigger order (Hyperliquid: an Ioc limit at price x (1 ± 5 %)).
_PRICED_MARKET_ORDERS = ("hyperliquid",)


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What the gateway did (or, in dry-run, would have done) for one action."""

    kind: str
    account: str
    symbol: str
    side: str | None  # "buy" | "sell"
    amount: float | None  # rounded; None = close the whole position (stop with closePosition)
    price: float | None
    trigger_price: float | None
    client_order_id: str | None
    status: Status
    exchange_order_id: str | None = None
    reason: str = ""
    raw: str = ""  # short summary of the exchange's reply
    rule: str | None = None
    episode: str | None = None
    position_side: str | None = None
    reduce_only: bool = False
    attempts: int = 0
    order_state: str | None = None  # the exchange's word on the order: open, filled, canceled, ...

    @property
    def ok(self) -> bool:
        return self.status in ("sent", "confirmed", "dry_run")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries for retryable errors: delay = min(max_delay, base * 2**n) x (1 ± jitter)."""

    attempts: int = 4  # total tries, including the first
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    jitter: float = 0.25

    def delay(self, retry: int, rng: random.Random) -> float:
        d = min(self.max_delay_s, self.base_delay_s * float(2**retry))
        return max(0.0, d * (1.0 + rng.uniform(-self.jitter, self.jitter)))


class _Refused(Exception):
    """Our own refusal before anything is sent (below minimum, wrong side, ...)."""


def _summary(reply: Mapping[str, Any] | None) -> str:
    if not reply:
        return ""
    parts = [
        f"{k}={reply[k]}" for k in ("id", "clientOrderId", "status", "filled", "average") if reply.get(k)
    ]
    return " ".join(parts)[:200]


class OrderGateway:
    """Places, reduces and cancels orders for one account. Create one per account and client."""

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
        (`_PRICED_MARKET_ORDERS`): `known` if given, else the mark read now (one request, so a
        cut in a fast market is capped around the price of the moment, not of the last
        snapshot). None elsewhere: the order goes out without a price."""
        if self.client.id not in _PRICED_MARKET_ORDERS:
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

    def _hedged(self) -> bool:
        return self.position_mode is PositionMode.HEDGE

    def _position_params(self, position_side: Side, *, reduce_only: bool) -> dict[str, Any]:
        """reduceOnly / positionSide for this venue and position mode."""
        if not self._hedged():
            return {"reduceOnly": True} if reduce_only else {}
        if self.client.id in _BINANCE_STYLE:
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
                if _placed(found):
                    assert found is not None
                    return await self._finish(self._accepted(base, found, attempt, "found after retry"))
                # not there, or there but cancelled/expired/rejected unfilled: safe to send again
                must_look = uncertain = False
            try:
                reply = await send()
                return await self._finish(self._accepted(base, reply, attempt))
            except Exception as exc:
                last_error = describe(exc)
                if classify(exc) is ErrorClass.FINAL:
                    if lookup is not None and _is_duplicate_id(exc):
                        found = await _quiet(lookup)
                        if _placed(found):
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
            raw=_summary(reply),
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
                raise _Refused(f"a {pside.value} stop must trigger {where} mark {mark_price}, got {trigger}")
            rounded: float | None = None
            if amount is not None:
                rounded = self._checked_amount(symbol, amount)
                base = replace(base, amount=rounded)
            params = self._stop_params(pside, trigger, cid, close_position=amount is None)
        except _Refused as exc:
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
                raise _Refused(
                    f"a {pside.value} take-profit must trigger {where} mark {mark_price}, got {trigger}"
                )
            rounded = self._checked_amount(symbol, amount)
            base = replace(base, amount=rounded)
        except _Refused as exc:
            return await self._finish(replace(base, status="rejected", reason=str(exc)))
        except ccxt.BaseError as exc:
            return await self._finish(replace(base, status="rejected", reason=describe(exc)))
        params: dict[str, Any] = {"clientOrderId": cid, "takeProfitPrice": trigger}
        if self.client.id in _BINANCE_STYLE:
            params["workingType"] = "MARK_PRICE"
        elif self.client.id == "bybit":
            params["triggerBy"] = "MarkPrice"
        params.update(self._position_params(pside, reduce_only=True))

        async def send() -> Mapping[str, Any]:
            reply: Mapping[str, Any] = await self.client.create_order(
                symbol, "market", side, rounded, None, params
            )
            return reply

        async def lookup() -> Mapping[str, Any] | None:
            return await self.find_order(symbol, cid, trigger=True)

        return await self._send_order(base, send, lookup)

    def _stop_params(self, pside: Side, trigger: float, cid: str, *, close_position: bool) -> dict[str, Any]:
        ex = self.client.id
        params: dict[str, Any] = {"clientOrderId": cid}
        if ex in _BINANCE_STYLE:
            params.update({"stopPrice": trigger, "workingType": "MARK_PRICE"})
            if close_position:
                params["closePosition"] = True  # Binance refuses reduceOnly next to closePosition
                if self._hedged():
                    params["positionSide"] = pside.value.upper()
                return params
        else:
            if close_position:
                raise _Refused(f"{ex}: a stop needs an amount (no close-position stops)")
            params["stopLossPrice"] = trigger
            if ex == "bybit":
                params["triggerBy"] = "MarkPrice"
        params.update(self._position_params(pside, reduce_only=True))
        return params

    def _checked_amount(self, symbol: str, amount: float, price: float | None = None) -> float:
        if not amount > 0:
            raise _Refused(f"amount must be positive, got {amount}")
        rounded = self.round_amount(symbol, amount)
        minimum = self._min_amount(symbol)
        if rounded <= 0 or rounded < minimum:
            raise _Refused(
                f"amount {amount} rounds down to {rounded}, below the minimum {minimum} of {symbol}"
            )
        min_notional = self._min_notional(symbol)
        if price is not None and min_notional and rounded * price < min_notional:
            raise _Refused(f"notional {rounded * price:.4f} of {symbol} is below the minimum {min_notional}")
        return rounded

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
            # minimum applies.
            rounded = self._checked_amount(symbol, amount)
        except _Refused as exc:
            return await self._finish(replace(base, status="rejected", reason=str(exc)))
        except ccxt.BaseError as exc:
            return await self._finish(replace(base, status="rejected", reason=describe(exc)))
        base = replace(base, amount=rounded)
        params = {"clientOrderId": cid, **self._position_params(pside, reduce_only=True)}

        async def send() -> Mapping[str, Any]:
            price = await self._market_price(symbol, None)
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
                raise _Refused(
                    f"the stop of a {pside.value} entry must be {where} {ref_price}, got {stop_price}"
                )
            rounded = self._checked_amount(symbol, amount, ref_price)
        except _Refused as exc:
            return await self._finish(replace(base, status="rejected", reason=str(exc))), None
        except ccxt.BaseError as exc:
            return await self._finish(replace(base, status="rejected", reason=describe(exc))), None
        base = replace(base, amount=rounded, price=limit_price)
        params: dict[str, Any] = {"clientOrderId": cid, **self._position_params(pside, reduce_only=False)}
        order_type = "limit" if limit_price is not None else "market"

        async def send() -> Mapping[str, Any]:
            price = limit_price if limit_price is not None else await self._market_price(symbol, mark_price)
            reply: Mapping[str, Any] = await self.client.create_order(
                symbol, order_type, order_side, rounded, price, params
            )
            return reply

        async def lookup() -> Mapping[str, Any] | None:
            return await self.find_order(symbol, cid, trigger=False)

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
            result = replace(result, raw=_summary(reply))
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


_DEAD = ("canceled", "cancelled", "expired", "rejected")
# ccxt's unified order status -> the journal's order_state
_ORDER_STATES = {
    "open": "open",
    "closed": "filled",
    "canceled": "canceled",
    "cancelled": "canceled",
    "expired": "expired",
    "rejected": "rejected",
}


def order_state_of(order: Mapping[str, Any] | None) -> str | None:
    """What became of an order, from ccxt's unified status ("closed" means filled)."""
    if not order:
        return None
    return _ORDER_STATES.get(str(order.get("status") or "").lower())


def _placed(found: Mapping[str, Any] | None) -> bool:
    """Does a look-up by client id show our order as placed? A live or filled order does; one that
    was cancelled, expired or rejected without a fill does not (whoever cancelled it, it protects
    nothing now), so the action is still to be done."""
    if found is None:
        return False
    status = str(found.get("status") or "").lower()
    return status not in _DEAD or (num(found.get("filled")) or 0.0) > 0


def _is_duplicate_id(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "duplicate" in text or "-4116" in text or "-4015" in text


async def _quiet(fn: Callable[[], Awaitable[_T]]) -> _T | None:
    try:
        return await fn()
    except Exception:
        return None
