"""Orders: validation against the market's filters, placement, look-up, cancellation.

Plain orders (MARKET, LIMIT) fill or rest at once; conditional orders (STOP_MARKET,
TAKE_PROFIT_MARKET, STOP, TAKE_PROFIT) wait for the mark to cross their trigger. A stop buys when
the price rises to its trigger and sells when it falls to it; a take-profit the other way round.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import replace

from guardbot.domain import MarginMode, Side
from guardbot.sim.book import OrderRequest, SimAccount, SimAlgoOrder, SimOrder, SimPosition
from guardbot.sim.engine.errors import Rejection, SimError
from guardbot.sim.engine.liquidation import Liquidation
from guardbot.sim.engine.numbers import coerce_mode, decimals, is_multiple, significant_figures
from guardbot.sim.markets import SimMarket

CONDITIONAL_TYPES = ("STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT")
PLAIN_TYPES = ("MARKET", "LIMIT")


class Orders(Liquidation):
    # ---- checks ----

    def _check_quantity(self, m: SimMarket, qty: float | None) -> float:
        if qty is None:
            raise SimError(Rejection.MISSING_PARAMETER, param="quantity")
        if not math.isfinite(qty) or qty <= 0:
            raise SimError(Rejection.QTY_NOT_POSITIVE)
        if decimals(qty) > m.quantity_precision or not is_multiple(qty, m.step_size):
            raise SimError(Rejection.QTY_PRECISION)
        if qty < float(m.min_qty):
            raise SimError(Rejection.QTY_BELOW_MIN, min_qty=m.min_qty)
        if qty > float(m.max_qty):
            raise SimError(Rejection.QTY_ABOVE_MAX, max_qty=m.max_qty)
        return qty

    def _check_price(self, m: SimMarket, price: float | None, param: str = "price") -> float:
        if price is None:
            raise SimError(Rejection.MISSING_PARAMETER, param=param)
        if not math.isfinite(price) or price <= 0:
            raise SimError(Rejection.INVALID_PARAMETER, f"{param} must be positive", param=param)
        figures = self.profile.significant_figures
        if figures is not None:
            # Hyperliquid: at most `figures` significant figures (whole numbers always pass) and
            # at most `price_decimals` - size decimals places
            if not float(price).is_integer() and (
                significant_figures(price) > figures
                or decimals(price) > self.profile.price_decimals - m.quantity_precision
            ):
                raise SimError(Rejection.PRICE_NOT_ON_TICK)
            return price
        if decimals(price) > m.price_precision:
            raise SimError(Rejection.PRICE_PRECISION)
        if not is_multiple(price, m.tick_size):
            raise SimError(Rejection.PRICE_NOT_ON_TICK)
        return price

    def _check_min_notional(self, m: SimMarket, notional: float) -> None:
        if notional < float(m.min_notional):
            raise SimError(Rejection.BELOW_MIN_NOTIONAL, min_notional=m.min_notional)

    def _position_side(self, acct: SimAccount, req: OrderRequest) -> str:
        ps = (req.position_side or "BOTH").upper()
        if acct.hedge:
            if ps not in ("LONG", "SHORT"):
                raise SimError(Rejection.POSITION_SIDE_MISMATCH)
        elif ps != "BOTH":
            raise SimError(Rejection.POSITION_SIDE_MISMATCH)
        return ps

    def _reduces(self, acct: SimAccount, side: str, position_side: str) -> bool:
        """In hedge mode, selling the LONG leg (or buying the SHORT leg) can only close it."""
        return acct.hedge and ((position_side == "LONG") == (side == "SELL"))

    def _check_client_id(self, acct: SimAccount, cid: str | None, algo: bool) -> str:
        """Venues differ: where a closed order's id may be used again, only an open order with the
        same id refuses it (plain and conditional orders are separate families); elsewhere an id is
        used once per account, for any order."""
        if cid is None:
            return secrets.token_urlsafe(16)
        if self.profile.client_ids_reusable_once_closed:
            taken = (
                {o.client_algo_id for o in acct.open_algo_orders()}
                if algo
                else {o.client_order_id for o in acct.open_orders()}
            )
        else:
            taken = {o.client_algo_id for o in acct.algo_orders.values()}
            taken |= {o.client_order_id for o in acct.orders.values()}
        if cid in taken:
            raise SimError(Rejection.DUPLICATE_CLIENT_ID, client_id=cid)
        return cid

    # ---- placement ----

    def place_order(self, api_key: str, req: OrderRequest) -> SimOrder:
        """MARKET fills now at mark (± slippage); LIMIT fills now if it crosses the mark (taker),
        else rests until the mark reaches it (maker)."""
        acct = self.account(api_key)
        m = self.market(req.symbol)
        otype = req.type.upper()
        if otype not in PLAIN_TYPES:
            raise SimError(Rejection.INVALID_ORDER_TYPE)
        side = req.side.upper()
        if side not in ("BUY", "SELL"):
            raise SimError(Rejection.INVALID_SIDE)
        if req.close_position:
            raise SimError(Rejection.UNEXPECTED_PARAMETER, param="close_position")
        pside = self._position_side(acct, req)
        qty = self._check_quantity(m, req.quantity)
        price = self._check_price(m, req.price) if otype == "LIMIT" else 0.0
        tif = (req.time_in_force or "GTC").upper() if otype == "LIMIT" else "GTC"
        closing = req.reduce_only or self._reduces(acct, side, pside)
        if not closing or self.profile.min_notional_when_reducing:
            self._check_min_notional(m, qty * (price or self.marks[m.id]))
        if closing:
            self._reducible_qty(acct, m.id, side, pside)  # refused if there is nothing to reduce
        cid = self._check_client_id(acct, req.client_id, algo=False)
        now = self.now_ms
        order = SimOrder(
            order_id=self._new_order_id(),
            client_order_id=cid,
            symbol=m.id,
            side=side,
            position_side=pside,
            type=otype,
            orig_qty=qty,
            price=price,
            time_in_force=tif,
            reduce_only=req.reduce_only,
            orig_type=otype,
            working_type=req.working_type,
            time_ms=now,
            update_ms=now,
            closing=closing,
        )
        marketable = otype == "MARKET" or (
            (side == "BUY" and price >= self.marks[m.id]) or (side == "SELL" and price <= self.marks[m.id])
        )
        if otype == "LIMIT" and marketable and tif == "GTX":
            raise SimError(Rejection.POST_ONLY_WOULD_TAKE)
        if marketable:
            fill_price = self._taker_price(m, side)
            if otype == "LIMIT":
                fill_price = min(fill_price, price) if side == "BUY" else max(fill_price, price)
            self._execute(acct, order, fill_price, maker=False, check=True)
            acct.orders[order.order_id] = order
        elif tif in ("IOC", "FOK"):
            order.status = "EXPIRED"
            acct.orders[order.order_id] = order
        else:
            if not closing:
                self._check_margin_for(acct, order, price)
            acct.orders[order.order_id] = order
        return order

    def place_algo_order(self, api_key: str, req: OrderRequest) -> SimAlgoOrder:
        """A conditional order: it waits for the mark to cross `trigger_price`."""
        acct = self.account(api_key)
        m = self.market(req.symbol)
        otype = req.type.upper()
        if otype not in CONDITIONAL_TYPES:
            raise SimError(Rejection.INVALID_ORDER_TYPE)
        side = req.side.upper()
        if side not in ("BUY", "SELL"):
            raise SimError(Rejection.INVALID_SIDE)
        pside = self._position_side(acct, req)
        if req.close_position and req.reduce_only:
            raise SimError(Rejection.UNEXPECTED_PARAMETER, param="reduce_only")
        if req.close_position and otype not in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
            raise SimError(Rejection.UNEXPECTED_PARAMETER, param="close_position")
        trigger = self._check_price(m, req.trigger_price, "trigger_price")
        qty = 0.0 if req.close_position else self._check_quantity(m, req.quantity)
        price = self._check_price(m, req.price) if otype in ("STOP", "TAKE_PROFIT") else 0.0
        closing = req.reduce_only or req.close_position or self._reduces(acct, side, pside)
        if not req.close_position and (not closing or self.profile.min_notional_when_reducing):
            self._check_min_notional(m, qty * (price or trigger))
        working = (req.working_type or "CONTRACT_PRICE").upper()
        if working not in ("MARK_PRICE", "CONTRACT_PRICE"):
            raise SimError(Rejection.INVALID_PARAMETER, param="working_type")
        cid = self._check_client_id(acct, req.client_id, algo=True)
        now = self.now_ms
        self._next_algo_id += 1
        algo = SimAlgoOrder(
            algo_id=self._next_algo_id - 1,
            client_algo_id=cid,
            symbol=m.id,
            side=side,
            position_side=pside,
            order_type=otype,
            quantity=qty,
            trigger_price=trigger,
            price=price,
            working_type=working,
            close_position=req.close_position,
            reduce_only=req.reduce_only,
            time_in_force=(req.time_in_force or "GTC").upper(),
            price_protect=req.price_protect,
            create_ms=now,
            update_ms=now,
            closing=closing,
        )
        reference = self._trigger_reference(algo)
        if algo.triggered_by(reference):
            raise SimError(
                Rejection.WOULD_TRIGGER_IMMEDIATELY,
                trigger_price=trigger,
                reference=reference,
                rising=algo.rising,
            )
        acct.algo_orders[algo.algo_id] = algo
        return algo

    # ---- look-up and cancel ----

    def _find_order(
        self, acct: SimAccount, symbol: str, order_id: int | None, client_id: str | None
    ) -> SimOrder:
        # newest first: a client id can be reused once its order is closed (where the venue allows
        # it), and a look-up by client id answers with the latest order that carries it
        for o in sorted(acct.orders.values(), key=lambda o: -o.order_id):
            if o.symbol == symbol and (
                (order_id is not None and o.order_id == order_id)
                or (order_id is None and client_id is not None and o.client_order_id == client_id)
            ):
                return o
        raise SimError(Rejection.UNKNOWN_ORDER)

    def _find_algo(self, acct: SimAccount, algo_id: int | None, client_id: str | None) -> SimAlgoOrder:
        for o in sorted(acct.algo_orders.values(), key=lambda o: -o.algo_id):
            if (algo_id is not None and o.algo_id == algo_id) or (
                algo_id is None and client_id is not None and o.client_algo_id == client_id
            ):
                return o
        raise SimError(Rejection.UNKNOWN_ORDER)

    def get_order(
        self, api_key: str, symbol: str, order_id: int | None = None, client_id: str | None = None
    ) -> SimOrder:
        self.market(symbol)
        return self._find_order(self.account(api_key), symbol, order_id, client_id)

    def get_algo_order(
        self, api_key: str, algo_id: int | None = None, client_id: str | None = None
    ) -> SimAlgoOrder:
        return self._find_algo(self.account(api_key), algo_id, client_id)

    def cancel_order(
        self, api_key: str, symbol: str, order_id: int | None = None, client_id: str | None = None
    ) -> SimOrder:
        self.market(symbol)
        o = self._find_order(self.account(api_key), symbol, order_id, client_id)
        if not o.is_open:
            raise SimError(Rejection.ORDER_NOT_OPEN)
        o.status, o.update_ms = "CANCELED", self.now_ms
        return o

    def cancel_algo_order(
        self, api_key: str, algo_id: int | None = None, client_id: str | None = None
    ) -> SimAlgoOrder:
        o = self._find_algo(self.account(api_key), algo_id, client_id)
        if not o.is_open:
            raise SimError(Rejection.ORDER_NOT_OPEN)
        o.status, o.update_ms = "CANCELED", self.now_ms
        return o

    def cancel_all(self, api_key: str, symbol: str, algo: bool = False) -> int:
        """Cancel a symbol's open plain (or, with `algo`, conditional) orders; how many."""
        return len(self.cancel_open(api_key, symbol, plain=not algo, conditional=algo))

    # ---- one book for plain and conditional orders (venues that list them together) ----

    def all_orders(self, api_key: str) -> list[SimOrder | SimAlgoOrder]:
        """Plain and conditional orders, newest first. An order placed by a conditional order's
        trigger is not listed on its own: it is that conditional order's execution."""
        acct = self.account(api_key)
        rows: list[SimOrder | SimAlgoOrder] = [o for o in acct.orders.values() if o.parent_algo_id is None]
        rows.extend(acct.algo_orders.values())
        return sorted(rows, key=lambda o: (_created(o), _ident(o)), reverse=True)

    def find_any(
        self, api_key: str, symbol: str, order_id: int | None = None, client_id: str | None = None
    ) -> SimOrder | SimAlgoOrder:
        """A plain or conditional order by id, else the newest carrying the client id."""
        self.market(symbol)
        for o in self.all_orders(api_key):
            if o.symbol != symbol:
                continue
            if (order_id is not None and _ident(o) == order_id) or (
                order_id is None and client_id is not None and _client_id(o) == client_id
            ):
                return o
        raise SimError(Rejection.UNKNOWN_ORDER)

    def cancel_any(
        self, api_key: str, symbol: str, order_id: int | None = None, client_id: str | None = None
    ) -> SimOrder | SimAlgoOrder:
        o = self.find_any(api_key, symbol, order_id, client_id)
        if not o.is_open:
            raise SimError(Rejection.ORDER_NOT_OPEN)
        o.status, o.update_ms = "CANCELED", self.now_ms
        return o

    def cancel_open(
        self, api_key: str, symbol: str | None, *, plain: bool = True, conditional: bool = True
    ) -> list[SimOrder | SimAlgoOrder]:
        """Cancel every open order (of one symbol, or all), plain and/or conditional."""
        acct = self.account(api_key)
        if symbol is not None:
            self.market(symbol)
        items: list[SimOrder | SimAlgoOrder] = [*acct.open_orders()] if plain else []
        if conditional:
            items.extend(acct.open_algo_orders())
        now = self.now_ms
        out = [o for o in items if symbol is None or o.symbol == symbol]
        for o in out:
            o.status, o.update_ms = "CANCELED", now
        return out

    # ---- convenience for building test accounts ----

    def open_position(
        self,
        api_key: str,
        symbol: str,
        side: str | Side = "long",
        qty: float = 0.0,
        leverage: int | None = None,
        margin_mode: str | MarginMode = "cross",
        isolated_margin: float | None = None,
        entry_price: float | None = None,
    ) -> SimPosition:
        """Open (or add to) a position with a market order at mark (+ slippage, taker fee).

        With `entry_price` the position is written straight into the books at that entry, with
        no fee and no margin check: a way to build an account already in profit or loss.
        `isolated_margin` sets an isolated position's margin after the fill.
        """
        acct = self.account(api_key)
        m = self.market(symbol)
        s = Side(str(side).lower())
        mode = coerce_mode(margin_mode)
        if leverage is not None:
            self.set_leverage(api_key, symbol, leverage)
        if mode is not self.margin_type_of(acct, symbol):
            self.set_margin_type(api_key, symbol, mode)
        pside = ("LONG" if s is Side.LONG else "SHORT") if acct.hedge else "BOTH"
        if entry_price is not None:
            self._check_quantity(m, qty)
            signed = qty if s is Side.LONG else -qty
            new, realized, _, _ = self._apply(acct, symbol, pside, signed, entry_price)
            if new is None or realized:
                raise ValueError("open_position with entry_price only opens or adds, it does not reduce")
            acct.positions[(symbol, pside)] = new
        else:
            req = OrderRequest(
                symbol,
                "BUY" if s is Side.LONG else "SELL",
                "MARKET",
                quantity=qty,
                position_side=pside if acct.hedge else None,
            )
            self.place_order(api_key, req)
        pos = acct.positions[(symbol, pside)]
        if isolated_margin is not None:
            if pos.margin_mode is not MarginMode.ISOLATED:
                raise ValueError("isolated_margin is only for margin_mode='isolated'")
            pos = replace(pos, isolated_wallet=float(isolated_margin))
            acct.positions[(symbol, pside)] = pos
        self._tick()
        return pos


def _ident(o: SimOrder | SimAlgoOrder) -> int:
    return o.algo_id if isinstance(o, SimAlgoOrder) else o.order_id


def _client_id(o: SimOrder | SimAlgoOrder) -> str:
    return o.client_algo_id if isinstance(o, SimAlgoOrder) else o.client_order_id


def _created(o: SimOrder | SimAlgoOrder) -> int:
    return o.create_ms if isinstance(o, SimAlgoOrder) else o.time_ms
