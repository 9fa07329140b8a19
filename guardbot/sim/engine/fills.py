"""Fills: what a trade does to a position and the wallet, resting limits, conditional triggers.

An opening fill must leave the cross pool's available margin (cross equity - cross initial margin,
the venue's margin model) >= 0; closing orders are clipped to the position they reduce.
"""

from __future__ import annotations

from dataclasses import replace

from guardbot.domain import MarginMode
from guardbot.sim.book import SimAccount, SimAlgoOrder, SimOrder, SimPosition, SimTrade
from guardbot.sim.engine.accounts import Accounts
from guardbot.sim.engine.errors import Rejection, SimError
from guardbot.sim.engine.numbers import round_to_tick, sign
from guardbot.sim.markets import SimMarket


class Fills(Accounts):
    def _taker_price(self, m: SimMarket, side: str) -> float:
        slip = self.slippage_bps / 10_000.0
        if side == "BUY":
            return round_to_tick(self.marks[m.id] * (1 + slip), m.tick_size, "up")
        return round_to_tick(self.marks[m.id] * (1 - slip), m.tick_size, "down")

    def _reducible_qty(self, acct: SimAccount, symbol: str, side: str, position_side: str) -> float:
        """How much an order on `side` can reduce; refused when it would only increase or open."""
        pos = acct.positions.get((symbol, position_side))
        if pos is None or pos.amount == 0:
            raise SimError(Rejection.REDUCE_ONLY_REJECTED, symbol=symbol)
        if (pos.amount > 0) == (side == "BUY"):
            raise SimError(Rejection.REDUCE_ONLY_REJECTED, symbol=symbol)
        return pos.qty

    def _apply(
        self, acct: SimAccount, symbol: str, position_side: str, signed_qty: float, price: float
    ) -> tuple[SimPosition | None, float, float, float]:
        """Pure: (new position, realized PnL, closed qty, opened qty) after a fill."""
        m = self.markets[symbol]
        lev = self.leverage_of(acct, symbol)
        pos = acct.positions.get((symbol, position_side))
        q0 = pos.amount if pos else 0.0
        d = signed_qty
        nd = m.quantity_precision + 2
        now = self.now_ms
        if q0 == 0 or sign(d) == sign(q0):
            new_amt = round(q0 + d, nd)
            entry = (abs(q0) * (pos.entry_price if pos else 0.0) + abs(d) * price) / abs(new_amt)
            mode = pos.margin_mode if pos else self.margin_type_of(acct, symbol)
            iso = (pos.isolated_wallet if pos else 0.0) + (
                abs(d) * price / lev if mode is MarginMode.ISOLATED else 0.0
            )
            return SimPosition(symbol, position_side, new_amt, entry, mode, iso, now), 0.0, 0.0, abs(d)
        assert pos is not None
        closed = min(abs(d), abs(q0))
        realized = sign(q0) * closed * (price - pos.entry_price)
        rest = round(abs(d) - closed, nd)
        if round(abs(q0) - closed, nd) <= 0:
            if rest > 0:
                mode = self.margin_type_of(acct, symbol)
                iso = rest * price / lev if mode is MarginMode.ISOLATED else 0.0
                new = SimPosition(symbol, position_side, sign(d) * rest, price, mode, iso, now)
                return new, realized, closed, rest
            return None, realized, closed, 0.0
        keep = 1.0 - closed / abs(q0)
        new = replace(
            pos, amount=round(q0 + d, nd), isolated_wallet=pos.isolated_wallet * keep, update_ms=now
        )
        return new, realized, closed, 0.0

    def _assert_affordable(
        self, acct: SimAccount, symbol: str, position_side: str, new_pos: SimPosition | None, wallet: float
    ) -> None:
        positions = dict(acct.positions)
        if new_pos is None:
            positions.pop((symbol, position_side), None)
        else:
            positions[(symbol, position_side)] = new_pos
            lev = self.leverage_of(acct, symbol)
            cap = self.model.max_notional_for_leverage(self.markets[symbol].tiers, lev)
            if new_pos.qty * self.marks[symbol] > cap:
                raise SimError(Rejection.ABOVE_LEVERAGE_CAP, leverage=lev)
        equity, _, im = self._cross_pool(acct, positions, wallet)
        if equity - im < -1e-9:
            raise SimError(Rejection.INSUFFICIENT_MARGIN)

    def _check_margin_for(self, acct: SimAccount, order: SimOrder, price: float) -> None:
        """A resting opening order must be affordable at placement (no margin is reserved)."""
        signed = order.orig_qty if order.side == "BUY" else -order.orig_qty
        new_pos, _, _, opened = self._apply(acct, order.symbol, order.position_side, signed, price)
        if opened > 0:
            self._assert_affordable(acct, order.symbol, order.position_side, new_pos, acct.wallet)

    def _execute(
        self, acct: SimAccount, order: SimOrder, price: float, maker: bool, check: bool
    ) -> SimTrade | None:
        """Fill what remains of `order` at `price`. Closing orders are clipped to the position;
        an opening fill must leave the cross pool's available margin >= 0."""
        qty = order.orig_qty - order.executed_qty
        if order.closing:
            try:
                qty = min(qty, self._reducible_qty(acct, order.symbol, order.side, order.position_side))
            except SimError:
                order.status = "EXPIRED"
                order.update_ms = self.now_ms
                raise
        signed = qty if order.side == "BUY" else -qty
        new_pos, realized, _, opened = self._apply(acct, order.symbol, order.position_side, signed, price)
        fee = qty * price * (self.fees.maker if maker else self.fees.taker)
        wallet = acct.wallet + realized - fee
        if check and opened > 0:
            self._assert_affordable(acct, order.symbol, order.position_side, new_pos, wallet)
        key = (order.symbol, order.position_side)
        old = acct.positions.get(key)
        acct.wallet = wallet
        acct.realized_pnl += realized
        acct.fees_paid += fee
        if new_pos is None:
            acct.positions.pop(key, None)
        else:
            acct.positions[key] = new_pos
        now = self.now_ms
        order.cum_quote += qty * price
        order.executed_qty = round(
            order.executed_qty + qty, self.markets[order.symbol].quantity_precision + 2
        )
        order.avg_price = order.cum_quote / order.executed_qty
        order.status = "FILLED"
        order.update_ms = now
        acct.update_ms = now
        self._next_trade_id += 1
        trade = SimTrade(
            id=self._next_trade_id,
            order_id=order.order_id,
            symbol=order.symbol,
            side=order.side,
            position_side=order.position_side,
            price=price,
            qty=qty,
            quote_qty=qty * price,
            commission=fee,
            realized_pnl=realized,
            maker=maker,
            time_ms=now,
        )
        acct.trades.append(trade)
        self._income(acct, "REALIZED_PNL", realized, order.symbol, trade.id)
        self._income(acct, "COMMISSION", -fee, order.symbol, trade.id)
        if old is not None and (new_pos is None or sign(new_pos.amount) != sign(old.amount)):
            self._cancel_closing_orders(acct, order.symbol, order.position_side, exclude=order.order_id)
        return trade

    def _cancel_closing_orders(
        self, acct: SimAccount, symbol: str, position_side: str, exclude: int = 0
    ) -> None:
        """Resting reduce-only / close-position orders expire once their position is gone."""
        now = self.now_ms
        for o in acct.open_orders():
            if (
                o.symbol == symbol
                and o.closing
                and o.position_side == position_side
                and o.order_id != exclude
            ):
                o.status, o.update_ms = "EXPIRED", now
        for a in acct.open_algo_orders():
            if a.symbol == symbol and a.closing and a.position_side == position_side:
                a.status, a.update_ms = "EXPIRED", now

    # ---- what every tick does before liquidation ----

    def _fill_resting(self, acct: SimAccount) -> None:
        for o in sorted(acct.open_orders(), key=lambda o: o.order_id):
            if not o.is_open:  # expired by an earlier fill in this tick
                continue
            mark = self.marks[o.symbol]
            if (o.side == "BUY" and mark <= o.price) or (o.side == "SELL" and mark >= o.price):
                try:
                    self._execute(acct, o, o.price, maker=True, check=True)
                except SimError:
                    o.status, o.update_ms = "EXPIRED", self.now_ms

    def _trigger_reference(self, algo: SimAlgoOrder) -> float:
        # The sim has no order book: last price == mark, so MARK_PRICE and CONTRACT_PRICE agree.
        return self.marks[algo.symbol]

    def _trigger_algos(self, acct: SimAccount) -> None:
        for a in sorted(acct.open_algo_orders(), key=lambda a: a.algo_id):
            if not a.is_open or not a.triggered_by(self._trigger_reference(a)):
                continue
            now = self.now_ms
            a.trigger_ms = a.update_ms = now
            m = self.markets[a.symbol]
            qty = a.quantity
            if a.close_position:
                try:
                    qty = self._reducible_qty(acct, a.symbol, a.side, a.position_side)
                except SimError:
                    a.status = "EXPIRED"
                    continue
            limit = a.order_type in ("STOP", "TAKE_PROFIT")
            order = SimOrder(
                order_id=self._new_order_id(),
                client_order_id=a.client_algo_id,
                symbol=a.symbol,
                side=a.side,
                position_side=a.position_side,
                type="LIMIT" if limit else "MARKET",
                orig_qty=qty,
                price=a.price if limit else 0.0,
                time_in_force=a.time_in_force,
                reduce_only=a.reduce_only,
                close_position=a.close_position,
                orig_type=a.order_type,
                stop_price=a.trigger_price,
                working_type=a.working_type,
                time_ms=now,
                update_ms=now,
                closing=a.closing,
                parent_algo_id=a.algo_id,
            )
            acct.orders[order.order_id] = order
            a.actual_order_id = order.order_id
            a.status = "FINISHED"
            mark = self.marks[a.symbol]
            marketable = (
                not limit or (a.side == "BUY" and a.price >= mark) or (a.side == "SELL" and a.price <= mark)
            )
            if not marketable:
                continue  # rests as a limit order
            price = self._taker_price(m, a.side)
            if limit:
                price = min(price, a.price) if a.side == "BUY" else max(price, a.price)
            try:
                self._execute(acct, order, price, maker=False, check=not a.closing)
                a.actual_price = order.avg_price
            except SimError:
                order.status = a.status = "EXPIRED"
