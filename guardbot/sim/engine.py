"""The emulated exchange's books: accounts, positions, orders, fills, stops and liquidations.

All margin figures come from guardbot.risk (the Binance USDⓈ-M model and `measure_account`), so the
emulator and the guard agree on the rules by construction; what the emulator adds is *behaviour*:
fills, fees, realized PnL, reduce-only semantics, triggers on mark, and liquidation when the cross
margin ratio reaches 1.0. Symbols are exchange ids ("BTCUSDT") everywhere in this module;
`to_snapshot` translates to ccxt's unified symbols, as the guard's reader does.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from guardbot.domain import (
    AccountSnapshot,
    Fees,
    MarginMode,
    Order,
    Position,
    PositionMode,
    Side,
)
from guardbot.risk.account import AccountFigures, margin_ratio_of, measure_account
from guardbot.risk.margin import model_for
from guardbot.sim.book import (
    LiquidatedPosition,
    LiquidationEvent,
    OrderRequest,
    SimAccount,
    SimAlgoOrder,
    SimIncome,
    SimOrder,
    SimPosition,
    SimTrade,
)
from guardbot.sim.candles import CandleStore
from guardbot.sim.errors import SimError
from guardbot.sim.markets import SimMarket, default_markets
from guardbot.sim.scenario import PricePath, Scenario

EXCHANGE = "binanceusdm"
MODEL = model_for(EXCHANGE)
CONDITIONAL_TYPES = ("STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT")
PLAIN_TYPES = ("MARKET", "LIMIT")
# Types Binance lists in orderTypes but that must go through the algo endpoint since Dec 2025.
ALGO_ONLY_TYPES = (*CONDITIONAL_TYPES, "TRAILING_STOP_MARKET")


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


# ---- helpers ----


def _dec(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def _is_multiple(value: float, step: str) -> bool:
    try:
        return (_dec(value) / Decimal(step)) % 1 == 0
    except InvalidOperation:
        return False


def _decimals(value: float) -> int:
    return max(0, -int(_dec(value).normalize().as_tuple().exponent))


def _round_to_tick(price: float, tick: str, direction: Literal["up", "down", "nearest"]) -> float:
    t = Decimal(tick)
    q = _dec(price) / t
    rounding = {"up": "ROUND_CEILING", "down": "ROUND_FLOOR", "nearest": "ROUND_HALF_EVEN"}[direction]
    return float(q.quantize(Decimal(1), rounding=rounding) * t)


def _coerce_mode(value: str | MarginMode) -> MarginMode:
    v = str(value).lower()
    if v in ("cross", "crossed"):
        return MarginMode.CROSS
    if v == "isolated":
        return MarginMode.ISOLATED
    raise ValueError(f"margin_mode must be 'cross' or 'isolated', got {value!r}")


def _coerce_position_mode(value: str | PositionMode) -> PositionMode:
    v = str(value).lower().replace("-", "_")
    if v in ("one_way", "oneway"):
        return PositionMode.ONE_WAY
    if v in ("hedge", "hedged"):
        return PositionMode.HEDGE
    raise ValueError(f"position_mode must be 'one_way' or 'hedge', got {value!r}")


# ---- the exchange ----


class SimExchange:
    """An in-memory Binance USDⓈ-M futures exchange. Synchronous: every call finishes its work
    (fills, triggers, liquidations) before it returns."""

    def __init__(
        self,
        markets: Mapping[str, SimMarket] | Iterable[SimMarket] | None = None,
        seed: int | None = None,
        slippage_bps: float = 0.0,
        taker_fee: float = 0.0005,
        maker_fee: float = 0.0002,
        scenario: Scenario | None = None,
        start_ms: int | None = None,
        default_leverage: int = 20,
    ) -> None:
        if markets is None:
            self.markets: dict[str, SimMarket] = default_markets()
        elif isinstance(markets, Mapping):
            self.markets = dict(markets)
        else:
            self.markets = {m.id: m for m in markets}
        self.scenario = scenario or Scenario.static()
        self.seed = seed if seed is not None else self.scenario.seed
        self.slippage_bps = slippage_bps
        self.fees = Fees(taker=taker_fee, maker=maker_fee)
        self.default_leverage = default_leverage
        self.start_ms = start_ms if start_ms is not None else int(time.time() * 1000)
        self.t_s = 0.0
        self._pending_s = 0.0
        self.accounts: dict[str, SimAccount] = {}
        self.liquidations: list[LiquidationEvent] = []
        self.marks: dict[str, float] = {}
        for sym, m in self.markets.items():
            self.marks[sym] = round(self.scenario.start.get(sym, m.start_price), 8)
        self.path = PricePath(self.scenario, self.markets, self.seed)
        self.candles = CandleStore(self.markets, self.seed, self.start_ms)
        for sym, price in self.marks.items():
            self.candles.record(sym, self.start_ms, price)
        self._next_order_id = 4_000_000_001
        self._next_algo_id = 2_000_001
        self._next_trade_id = 700_000_001
        self._next_tran_id = 9_000_000_001
        self._tiers = {sym: m.tiers for sym, m in self.markets.items()}

    # ---- time and prices ----

    @property
    def now_ms(self) -> int:
        return self.start_ms + round(self.t_s * 1000)

    def market(self, symbol: str) -> SimMarket:
        try:
            return self.markets[symbol]
        except KeyError:
            raise SimError(-1121) from None

    def use_scenario(self, scenario: Scenario, seed: int | None = None) -> None:
        """Drive marks with `scenario` from now on (its start prices replace the current marks)."""
        self.scenario = scenario
        self.seed = seed if seed is not None else scenario.seed
        self.path = PricePath(scenario, self.markets, self.seed)
        if scenario.start:
            self.set_marks(dict(scenario.start))

    def set_mark(self, symbol: str, price: float) -> None:
        """Move one mark; stops, limit fills and liquidations happen before this returns."""
        self.set_marks({symbol: price})

    def set_marks(self, marks: Mapping[str, float]) -> None:
        for sym, price in marks.items():
            self.market(sym)
            if not (math.isfinite(price) and price > 0):
                raise ValueError(f"mark for {sym} must be a positive number, got {price!r}")
            self.marks[sym] = round(float(price), 8)
            self.candles.record(sym, self.now_ms, self.marks[sym])
        self._tick()

    def shock(self, symbol: str, pct: float, beta_follow: float | None = None) -> dict[str, float]:
        """Move `symbol` by pct % at once; with beta_follow every other mark moves pct x beta %."""
        self.market(symbol)
        new = {symbol: self.marks[symbol] * (1 + pct / 100.0)}
        if beta_follow is not None:
            for sym, mark in self.marks.items():
                if sym != symbol:
                    new[sym] = mark * max(0.0001, 1 + pct * beta_follow / 100.0)
        self.set_marks(new)
        return {s: self.marks[s] for s in new}

    def advance(self, seconds: float) -> int:
        """Let `seconds` of sim time pass in scenario steps; returns the number of steps taken.
        Each step moves the marks, then fills limits, triggers stops and liquidates."""
        if seconds < 0:
            raise ValueError("advance: seconds must be >= 0")
        step = self.scenario.step_s
        self._pending_s += seconds
        steps = 0
        while self._pending_s >= step - 1e-9:
            self._pending_s -= step
            new = self.path.step(self.t_s, step, self.marks)
            self.t_s += step
            for sym, price in new.items():
                self.marks[sym] = round(price, 8)
                self.candles.record(sym, self.now_ms, self.marks[sym], step)
            self._tick()
            steps += 1
        return steps

    def list_market(self, market: SimMarket, price: float | None = None) -> SimMarket:
        """List a new perpetual now (a new listing after clients loaded their markets)."""
        if market.id in self.markets:
            raise ValueError(f"market {market.id} is already listed")
        mark = market.start_price if price is None else price
        if not (math.isfinite(mark) and mark > 0):
            raise ValueError(f"price for {market.id} must be a positive number, got {mark!r}")
        self.markets[market.id] = market
        self._tiers[market.id] = market.tiers
        self.marks[market.id] = round(float(mark), 8)
        self.candles.add_market(market.id)
        self.candles.record(market.id, self.now_ms, self.marks[market.id])
        self.path.add_market(market.id)
        return market

    # ---- accounts ----

    def create_account(
        self,
        wallet: float = 10_000.0,
        api_key: str | None = None,
        secret: str | None = None,
        position_mode: str | PositionMode = "one_way",
        name: str = "",
    ) -> SimAccount:
        key = api_key or secrets.token_hex(32)
        if key in self.accounts:
            raise ValueError(f"an account with api key {key[:8]}… already exists")
        acct = SimAccount(
            api_key=key,
            secret=secret or secrets.token_hex(32),
            wallet=float(wallet),
            position_mode=_coerce_position_mode(position_mode),
            name=name,
            update_ms=self.now_ms,
        )
        self.accounts[key] = acct
        self._record_history(acct)
        return acct

    def account(self, api_key: str) -> SimAccount:
        try:
            return self.accounts[api_key]
        except KeyError:
            raise SimError(-2015) from None

    def deposit(self, api_key: str, amount: float, *, record: bool = True) -> float:
        """Move `amount` into the futures wallet (a transfer from spot, as Binance books a deposit
        to futures). `record=False` leaves no income row: a venue without a transfer feed."""
        if not (math.isfinite(amount) and amount > 0):
            raise ValueError(f"deposit: amount must be a positive number, got {amount!r}")
        acct = self.account(api_key)
        acct.wallet += amount
        if record:
            self._income(acct, "TRANSFER", amount, info="TRANSFER")
        return acct.wallet

    def withdraw(self, api_key: str, amount: float, *, record: bool = True) -> float:
        """Move `amount` out of the futures wallet; at most what is free (Binance's maxWithdrawAmount:
        the cross pool's available margin, never unrealized profit)."""
        if not (math.isfinite(amount) and amount > 0):
            raise ValueError(f"withdraw: amount must be a positive number, got {amount!r}")
        acct = self.account(api_key)
        equity, _, im = self._cross_pool(acct, acct.positions, acct.wallet)
        upnl = sum(
            p.pnl_at(self.marks[p.symbol])
            for p in acct.positions.values()
            if p.margin_mode is MarginMode.CROSS
        )
        free = max(0.0, min(equity - im, equity - max(0.0, upnl) - im))
        if amount > free + 1e-9:
            raise ValueError(f"withdraw: {amount:g} is more than the {free:.2f} that can be withdrawn")
        acct.wallet -= amount
        if record:
            self._income(acct, "TRANSFER", -amount, info="TRANSFER")
        self._tick()
        return acct.wallet

    def _income(
        self,
        acct: SimAccount,
        income_type: str,
        amount: float,
        symbol: str = "",
        trade_id: int = 0,
        info: str = "",
    ) -> None:
        if amount == 0:
            return
        self._next_tran_id += 1
        acct.income.append(
            SimIncome(
                self._next_tran_id,
                self.now_ms,
                income_type,
                amount,
                symbol,
                trade_id=str(trade_id) if trade_id else "",
                info=info,
            )
        )

    def leverage_of(self, acct: SimAccount, symbol: str) -> int:
        return acct.leverage.get(symbol, min(self.default_leverage, self.market(symbol).max_leverage))

    def margin_type_of(self, acct: SimAccount, symbol: str) -> MarginMode:
        return acct.margin_type.get(symbol, MarginMode.CROSS)

    def set_leverage(self, api_key: str, symbol: str, leverage: int) -> tuple[int, float]:
        """(leverage, max notional at that leverage); -4028 outside 1..max, -2027 if a position is
        already larger than the new leverage allows."""
        acct = self.account(api_key)
        m = self.market(symbol)
        if not 1 <= leverage <= m.max_leverage:
            raise SimError(-4028, f"Leverage {leverage} is not valid")
        cap = MODEL.max_notional_for_leverage(m.tiers, leverage)
        for pos in self._positions_of(acct, symbol):
            if pos.qty * self.marks[symbol] > cap:
                raise SimError(-2027)
        acct.leverage[symbol] = leverage
        return leverage, cap

    def set_margin_type(self, api_key: str, symbol: str, mode: str | MarginMode) -> None:
        acct = self.account(api_key)
        self.market(symbol)
        new = _coerce_mode(mode)
        if new is self.margin_type_of(acct, symbol):
            raise SimError(-4046)
        if self._positions_of(acct, symbol):
            raise SimError(-4048)
        if any(o.symbol == symbol for o in acct.open_orders()) or any(
            a.symbol == symbol for a in acct.open_algo_orders()
        ):
            raise SimError(-4047)
        acct.margin_type[symbol] = new

    def set_position_mode(self, api_key: str, hedge: bool) -> None:
        acct = self.account(api_key)
        new = PositionMode.HEDGE if hedge else PositionMode.ONE_WAY
        if new is acct.position_mode:
            raise SimError(-4059)
        if acct.positions:
            raise SimError(-4068)
        if acct.open_orders() or acct.open_algo_orders():
            raise SimError(-4067)
        acct.position_mode = new

    def modify_isolated_margin(
        self, api_key: str, symbol: str, amount: float, add: bool, position_side: str = "BOTH"
    ) -> float:
        """Add to / remove from an isolated position's margin (POST /fapi/v1/positionMargin)."""
        acct = self.account(api_key)
        pos = acct.positions.get((symbol, position_side))
        if pos is None or pos.margin_mode is not MarginMode.ISOLATED:
            raise SimError(-1102, f"No isolated position for {symbol} {position_side}.")
        if amount <= 0:
            raise SimError(-1102)
        if add:
            cross_eq, _, cross_im = self._cross_pool(acct, acct.positions, acct.wallet)
            if amount > cross_eq - cross_im:
                raise SimError(-2019)
            new_iso = pos.isolated_wallet + amount
        else:
            m = self.market(symbol)
            lev = self.leverage_of(acct, symbol)
            keep = pos.qty * self.marks[symbol] / lev - min(0.0, pos.pnl_at(self.marks[symbol]))
            if pos.isolated_wallet - amount < keep:
                raise SimError(-2019, f"Margin is insufficient. ({m.id})")
            new_iso = pos.isolated_wallet - amount
        acct.positions[(symbol, position_side)] = replace(pos, isolated_wallet=new_iso, update_ms=self.now_ms)
        return new_iso

    # ---- views ----

    def _positions_of(self, acct: SimAccount, symbol: str) -> list[SimPosition]:
        return [p for (s, _), p in acct.positions.items() if s == symbol]

    def domain_position(self, acct: SimAccount, pos: SimPosition) -> Position:
        m = self.markets[pos.symbol]
        return Position(
            symbol=m.symbol,
            side=pos.side,
            contracts=pos.qty,
            entry_price=pos.entry_price,
            mark_price=self.marks[pos.symbol],
            leverage=float(self.leverage_of(acct, pos.symbol)),
            margin_mode=pos.margin_mode,
            isolated_margin=pos.isolated_wallet if pos.margin_mode is MarginMode.ISOLATED else 0.0,
        )

    def domain_order(self, o: SimOrder | SimAlgoOrder) -> Order:
        m = self.markets[o.symbol]
        pside = None if o.position_side == "BOTH" else o.position_side.lower()
        working = "mark" if o.working_type == "MARK_PRICE" else "last"
        if isinstance(o, SimAlgoOrder):
            return Order(
                symbol=m.symbol,
                side=o.side.lower(),
                type=o.order_type.lower(),
                amount=o.quantity or None,
                id=str(o.algo_id),
                client_order_id=o.client_algo_id,
                price=o.price or None,
                trigger_price=o.trigger_price,
                reduce_only=o.reduce_only,
                close_position=o.close_position,
                working_type=working,
                position_side=pside,
            )
        return Order(
            symbol=m.symbol,
            side=o.side.lower(),
            type=o.type.lower(),
            amount=o.orig_qty - o.executed_qty,
            id=str(o.order_id),
            client_order_id=o.client_order_id,
            price=o.price or None,
            reduce_only=o.reduce_only,
            working_type=working,
            position_side=pside,
        )

    def to_snapshot(self, api_key: str) -> AccountSnapshot:
        """The engine's own books as the guard's domain snapshot (ccxt unified symbols)."""
        acct = self.account(api_key)
        positions = tuple(self.domain_position(acct, p) for p in acct.positions.values())
        modes = {p.margin_mode for p in positions}
        return AccountSnapshot(
            exchange=EXCHANGE,
            wallet_balance=acct.wallet,
            positions=positions,
            tiers={m.symbol: m.tiers for m in self.markets.values()},
            markets={m.symbol: m.to_domain() for m in self.markets.values()},
            mark_prices={self.markets[s].symbol: p for s, p in self.marks.items()},
            fees=self.fees,
            margin_mode=MarginMode.ISOLATED if modes == {MarginMode.ISOLATED} else MarginMode.CROSS,
            position_mode=acct.position_mode,
            open_orders=tuple(self.domain_order(o) for o in self.open_orders(api_key)),
            timestamp_ms=self.now_ms,
            account=acct.name or None,
        )

    def account_figures(self, api_key: str) -> AccountFigures:
        return measure_account(self.to_snapshot(api_key), MODEL)

    def open_orders(self, api_key: str) -> list[SimOrder | SimAlgoOrder]:
        acct = self.account(api_key)
        return [*acct.open_orders(), *acct.open_algo_orders()]

    def _cross_pool(
        self, acct: SimAccount, positions: Mapping[tuple[str, str], SimPosition], wallet: float
    ) -> tuple[float, float, float]:
        """(cross equity, cross maintenance, cross initial margin) with guardbot's Binance model."""
        iso = sum(p.isolated_wallet for p in positions.values() if p.margin_mode is MarginMode.ISOLATED)
        equity, mm, im = wallet - iso, 0.0, 0.0
        for p in positions.values():
            if p.margin_mode is not MarginMode.CROSS:
                continue
            dp = self.domain_position(acct, p)
            equity += dp.unrealized_pnl
            mm += MODEL.maintenance_margin(dp, self._tiers[p.symbol], self.fees)
            im += MODEL.initial_margin(dp, self._tiers[p.symbol], self.fees)
        return equity, mm, im

    # ---- orders ----

    def _new_order_id(self) -> int:
        self._next_order_id += 1
        return self._next_order_id - 1

    def _check_quantity(self, m: SimMarket, qty: float | None) -> float:
        if qty is None:
            raise SimError(
                -1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed."
            )
        if not math.isfinite(qty) or qty <= 0:
            raise SimError(-4003)
        if _decimals(qty) > m.quantity_precision or not _is_multiple(qty, m.step_size):
            raise SimError(-1111)
        if qty < float(m.min_qty):
            raise SimError(-4003)
        if qty > float(m.max_qty):
            raise SimError(-1013, "Filter failure: LOT_SIZE")
        return qty

    def _check_price(self, m: SimMarket, price: float | None, what: str = "price") -> float:
        if price is None:
            raise SimError(-1102, f"Mandatory parameter '{what}' was not sent, was empty/null, or malformed.")
        if not math.isfinite(price) or price <= 0:
            raise SimError(-1102, f"Parameter '{what}' must be positive.")
        if _decimals(price) > m.price_precision:
            raise SimError(-1111)
        if not _is_multiple(price, m.tick_size):
            raise SimError(-4014)
        return price

    def _position_side(self, acct: SimAccount, req: OrderRequest) -> str:
        ps = (req.position_side or "BOTH").upper()
        if acct.hedge:
            if ps not in ("LONG", "SHORT"):
                raise SimError(-4061)
            if req.reduce_only:
                raise SimError(-1106)
        elif ps != "BOTH":
            raise SimError(-4061)
        return ps

    def _reduces(self, acct: SimAccount, side: str, position_side: str) -> bool:
        """In hedge mode, selling the LONG leg (or buying the SHORT leg) can only close it."""
        return acct.hedge and ((position_side == "LONG") == (side == "SELL"))

    def _check_client_id(self, acct: SimAccount, cid: str | None, algo: bool) -> str:
        """Binance: "newClientOrderId — a unique id among open orders". A filled, cancelled or
        expired order's id may be used again; only an open order with the same id refuses it."""
        if cid is None:
            return secrets.token_urlsafe(16)
        live = (
            {o.client_algo_id for o in acct.open_algo_orders()}
            if algo
            else {o.client_order_id for o in acct.open_orders()}
        )
        if cid in live:
            raise SimError(-4116)
        return cid

    def _taker_price(self, m: SimMarket, side: str) -> float:
        slip = self.slippage_bps / 10_000.0
        if side == "BUY":
            return _round_to_tick(self.marks[m.id] * (1 + slip), m.tick_size, "up")
        return _round_to_tick(self.marks[m.id] * (1 - slip), m.tick_size, "down")

    def place_order(self, api_key: str, req: OrderRequest) -> SimOrder:
        """POST /fapi/v1/order: MARKET fills now at mark (± slippage); LIMIT fills now if it
        crosses the mark (taker), else rests until the mark reaches it (maker)."""
        acct = self.account(api_key)
        m = self.market(req.symbol)
        otype = req.type.upper()
        if otype in ALGO_ONLY_TYPES:
            raise SimError(-4120)
        if otype not in PLAIN_TYPES:
            raise SimError(-1116)
        side = req.side.upper()
        if side not in ("BUY", "SELL"):
            raise SimError(-1117)
        if req.close_position:
            raise SimError(-1106, "Parameter 'closePosition' sent when not required.")
        pside = self._position_side(acct, req)
        qty = self._check_quantity(m, req.quantity)
        price = self._check_price(m, req.price) if otype == "LIMIT" else 0.0
        tif = (req.time_in_force or "GTC").upper() if otype == "LIMIT" else "GTC"
        closing = req.reduce_only or self._reduces(acct, side, pside)
        ref_price = price or self.marks[m.id]
        if not closing and qty * ref_price < float(m.min_notional):
            raise SimError(
                -4164,
                f"Order's notional must be no smaller than {m.min_notional} (unless you choose reduce only).",
            )
        if closing:
            self._reducible_qty(acct, m.id, side, pside)  # -2022 if there is nothing to reduce
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
            raise SimError(-5022)
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

    def _reducible_qty(self, acct: SimAccount, symbol: str, side: str, position_side: str) -> float:
        """How much an order on `side` can reduce; -2022 when it would only increase or open."""
        pos = acct.positions.get((symbol, position_side))
        if pos is None or pos.amount == 0:
            raise SimError(-2022)
        if (pos.amount > 0) == (side == "BUY"):
            raise SimError(-2022)
        return pos.qty

    def _check_margin_for(self, acct: SimAccount, order: SimOrder, price: float) -> None:
        """A resting opening order must be affordable at placement (no margin is reserved)."""
        signed = order.orig_qty if order.side == "BUY" else -order.orig_qty
        new_pos, _, _, opened = self._apply(acct, order.symbol, order.position_side, signed, price)
        if opened > 0:
            self._assert_affordable(acct, order.symbol, order.position_side, new_pos, acct.wallet)

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
        if q0 == 0 or _sign(d) == _sign(q0):
            new_amt = round(q0 + d, nd)
            entry = (abs(q0) * (pos.entry_price if pos else 0.0) + abs(d) * price) / abs(new_amt)
            mode = pos.margin_mode if pos else self.margin_type_of(acct, symbol)
            iso = (pos.isolated_wallet if pos else 0.0) + (
                abs(d) * price / lev if mode is MarginMode.ISOLATED else 0.0
            )
            return SimPosition(symbol, position_side, new_amt, entry, mode, iso, now), 0.0, 0.0, abs(d)
        assert pos is not None
        closed = min(abs(d), abs(q0))
        realized = _sign(q0) * closed * (price - pos.entry_price)
        rest = round(abs(d) - closed, nd)
        if round(abs(q0) - closed, nd) <= 0:
            if rest > 0:
                mode = self.margin_type_of(acct, symbol)
                iso = rest * price / lev if mode is MarginMode.ISOLATED else 0.0
                new = SimPosition(symbol, position_side, _sign(d) * rest, price, mode, iso, now)
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
            cap = MODEL.max_notional_for_leverage(self.markets[symbol].tiers, lev)
            if new_pos.qty * self.marks[symbol] > cap:
                raise SimError(-2027)
        equity, _, im = self._cross_pool(acct, positions, wallet)
        if equity - im < -1e-9:
            raise SimError(-2019)

    def _execute(
        self, acct: SimAccount, order: SimOrder, price: float, maker: bool, check: bool
    ) -> SimTrade | None:
        """Fill what remains of `order` at `price`. Closing orders are clipped to the position;
        an opening fill must leave the cross pool's available margin >= 0 (else -2019)."""
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
        if old is not None and (new_pos is None or _sign(new_pos.amount) != _sign(old.amount)):
            self._cancel_closing_orders(acct, order.symbol, order.position_side, exclude=order.order_id)
        return trade

    def _cancel_closing_orders(
        self, acct: SimAccount, symbol: str, position_side: str, exclude: int = 0
    ) -> None:
        """Binance cancels resting reduce-only / close-position orders once their position is gone."""
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

    def place_algo_order(self, api_key: str, req: OrderRequest) -> SimAlgoOrder:
        """POST /fapi/v1/algoOrder (algoType CONDITIONAL)."""
        acct = self.account(api_key)
        m = self.market(req.symbol)
        otype = req.type.upper()
        if otype not in CONDITIONAL_TYPES:
            raise SimError(-1116)
        side = req.side.upper()
        if side not in ("BUY", "SELL"):
            raise SimError(-1117)
        pside = self._position_side(acct, req)
        if req.close_position and req.reduce_only:
            raise SimError(-1106, "Parameter 'reduceOnly' sent when not required.")
        if req.close_position and otype not in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
            raise SimError(-1106, "Parameter 'closePosition' sent when not required.")
        trigger = self._check_price(m, req.trigger_price, "triggerPrice")
        qty = 0.0 if req.close_position else self._check_quantity(m, req.quantity)
        price = self._check_price(m, req.price) if otype in ("STOP", "TAKE_PROFIT") else 0.0
        closing = req.reduce_only or req.close_position or self._reduces(acct, side, pside)
        if not closing and qty * (price or trigger) < float(m.min_notional):
            raise SimError(
                -4164,
                f"Order's notional must be no smaller than {m.min_notional} (unless you choose reduce only).",
            )
        working = (req.working_type or "CONTRACT_PRICE").upper()
        if working not in ("MARK_PRICE", "CONTRACT_PRICE"):
            raise SimError(-1102, "Parameter 'workingType' is invalid.")
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
        if algo.triggered_by(self._trigger_reference(algo)):
            raise SimError(-2021)
        acct.algo_orders[algo.algo_id] = algo
        return algo

    def _trigger_reference(self, algo: SimAlgoOrder) -> float:
        # The sim has no order book: last price == mark, so MARK_PRICE and CONTRACT_PRICE agree.
        return self.marks[algo.symbol]

    def _find_order(
        self, acct: SimAccount, symbol: str, order_id: int | None, client_id: str | None
    ) -> SimOrder:
        # newest first: a client id can be reused once its order is closed, and a look-up by
        # client id answers with the latest order that carries it
        for o in sorted(acct.orders.values(), key=lambda o: -o.order_id):
            if o.symbol == symbol and (
                (order_id is not None and o.order_id == order_id)
                or (order_id is None and client_id is not None and o.client_order_id == client_id)
            ):
                return o
        raise SimError(-2013)

    def _find_algo(self, acct: SimAccount, algo_id: int | None, client_id: str | None) -> SimAlgoOrder:
        for o in sorted(acct.algo_orders.values(), key=lambda o: -o.algo_id):
            if (algo_id is not None and o.algo_id == algo_id) or (
                algo_id is None and client_id is not None and o.client_algo_id == client_id
            ):
                return o
        raise SimError(-2013)

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
            raise SimError(-2011)
        o.status, o.update_ms = "CANCELED", self.now_ms
        return o

    def cancel_algo_order(
        self, api_key: str, algo_id: int | None = None, client_id: str | None = None
    ) -> SimAlgoOrder:
        o = self._find_algo(self.account(api_key), algo_id, client_id)
        if not o.is_open:
            raise SimError(-2011)
        o.status, o.update_ms = "CANCELED", self.now_ms
        return o

    def cancel_all(self, api_key: str, symbol: str, algo: bool = False) -> int:
        acct = self.account(api_key)
        self.market(symbol)
        now = self.now_ms
        n = 0
        items: list[SimOrder] | list[SimAlgoOrder] = acct.open_algo_orders() if algo else acct.open_orders()
        for o in items:
            if o.symbol == symbol:
                o.status, o.update_ms = "CANCELED", now
                n += 1
        return n

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
        mode = _coerce_mode(margin_mode)
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

    # ---- the tick: limit fills, triggers, liquidations ----

    def _tick(self) -> None:
        for acct in self.accounts.values():
            self._fill_resting(acct)
            self._trigger_algos(acct)
            self._liquidate_if_needed(acct)
            self._record_history(acct)

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

    def _liquidate_if_needed(self, acct: SimAccount) -> None:
        cross = {k: p for k, p in acct.positions.items() if p.margin_mode is MarginMode.CROSS}
        if cross:
            equity, mm, _ = self._cross_pool(acct, acct.positions, acct.wallet)
            ratio = margin_ratio_of(mm, equity)
            if ratio >= 1.0:
                self._liquidate(acct, list(cross), MarginMode.CROSS, ratio)
        for key, p in list(acct.positions.items()):
            if p.margin_mode is not MarginMode.ISOLATED:
                continue
            dp = self.domain_position(acct, p)
            mm = MODEL.maintenance_margin(dp, self._tiers[p.symbol], self.fees)
            ratio = margin_ratio_of(mm, p.isolated_wallet + dp.unrealized_pnl)
            if ratio >= 1.0:
                self._liquidate(acct, [key], MarginMode.ISOLATED, ratio)

    def _liquidate(
        self, acct: SimAccount, keys: list[tuple[str, str]], mode: MarginMode, ratio: float
    ) -> None:
        """Close `keys` at mark. Cross: the loss comes out of the cross pool (wallet minus isolated
        margins), floored at 0, then the clearance fee takes up to what is left. Isolated: the loss
        is capped at the position's own margin."""
        now = self.now_ms
        before = acct.wallet
        closed: list[LiquidatedPosition] = []
        fee_due = 0.0
        pnl_total = 0.0
        for key in keys:
            p = acct.positions[key]
            mark = self.marks[p.symbol]
            pnl = p.pnl_at(mark)
            pnl_total += pnl
            fee_due += p.qty * mark * self.markets[p.symbol].liquidation_fee
            closed.append(LiquidatedPosition(p.symbol, p.side, p.qty, p.entry_price, mark, pnl))
            self._record_liquidation_fill(acct, p, mark, pnl)
        if mode is MarginMode.CROSS:
            iso_total = sum(
                p.isolated_wallet for p in acct.positions.values() if p.margin_mode is MarginMode.ISOLATED
            )
            pool = max(0.0, acct.wallet - iso_total + pnl_total)
            pool -= min(pool, fee_due)
            for key in keys:
                del acct.positions[key]
            acct.wallet = iso_total + pool
        else:
            (key,) = keys
            iso = acct.positions[key].isolated_wallet
            remaining = max(0.0, iso + pnl_total)
            remaining -= min(remaining, fee_due)
            del acct.positions[key]
            acct.wallet = max(0.0, acct.wallet - iso + remaining)
        acct.realized_pnl += acct.wallet - before
        # the clearance fee, and a loss beyond the pool that the insurance fund absorbed
        self._income(acct, "INSURANCE_CLEAR", acct.wallet - before - pnl_total)
        for sym, pside in keys:
            for o in acct.open_orders():
                if o.symbol == sym:
                    o.status, o.update_ms = "CANCELED", now
            for a in acct.open_algo_orders():
                if a.symbol == sym and (a.position_side == pside or not acct.hedge):
                    a.status, a.update_ms = "CANCELED", now
        acct.update_ms = now
        self.liquidations.append(
            LiquidationEvent(acct.api_key, now, mode, tuple(closed), before, acct.wallet, ratio)
        )

    def _record_liquidation_fill(self, acct: SimAccount, p: SimPosition, price: float, pnl: float) -> None:
        """Binance shows a liquidation as a filled order whose client id starts with "autoclose-"."""
        now = self.now_ms
        oid = self._new_order_id()
        side = "SELL" if p.amount > 0 else "BUY"
        acct.orders[oid] = SimOrder(
            order_id=oid,
            client_order_id=f"autoclose-{oid}",
            symbol=p.symbol,
            side=side,
            position_side=p.position_side,
            type="LIMIT",
            orig_qty=p.qty,
            price=price,
            time_in_force="IOC",
            reduce_only=True,
            orig_type="LIMIT",
            status="FILLED",
            executed_qty=p.qty,
            cum_quote=p.qty * price,
            avg_price=price,
            time_ms=now,
            update_ms=now,
            closing=True,
        )
        self._next_trade_id += 1
        acct.trades.append(
            SimTrade(
                self._next_trade_id,
                oid,
                p.symbol,
                side,
                p.position_side,
                price,
                p.qty,
                p.qty * price,
                0.0,
                pnl,
                False,
                now,
            )
        )
        self._income(acct, "REALIZED_PNL", pnl, p.symbol, self._next_trade_id)

    def _record_history(self, acct: SimAccount) -> None:
        upnl = sum(p.pnl_at(self.marks[p.symbol]) for p in acct.positions.values())
        equity, mm, _ = self._cross_pool(acct, acct.positions, acct.wallet)
        acct.history.append((self.now_ms, acct.wallet + upnl, margin_ratio_of(mm, equity) if mm else 0.0))

    # ---- dump ----

    def state(self) -> dict[str, Any]:
        """JSON-ready dump of the whole exchange (for /_sim/state and debugging)."""

        def num(x: float) -> float | None:
            return x if math.isfinite(x) else None

        accounts = []
        for acct in self.accounts.values():
            fig = self.account_figures(acct.api_key)
            accounts.append(
                {
                    "api_key": acct.api_key,
                    "name": acct.name,
                    "position_mode": acct.position_mode.value,
                    "wallet": acct.wallet,
                    "equity": fig.equity,
                    "maintenance_margin": fig.maintenance_margin,
                    "margin_ratio": num(fig.margin_ratio),
                    "available_margin": fig.available_margin,
                    "realized_pnl": acct.realized_pnl,
                    "fees_paid": acct.fees_paid,
                    "positions": [
                        {
                            "symbol": p.symbol,
                            "position_side": p.position_side,
                            "amount": p.amount,
                            "entry_price": p.entry_price,
                            "mark_price": self.marks[p.symbol],
                            "margin_mode": p.margin_mode.value,
                            "isolated_wallet": p.isolated_wallet,
                            "leverage": self.leverage_of(acct, p.symbol),
                            "liquidation_price": fig.position(
                                self.markets[p.symbol].symbol, p.side.value
                            ).liquidation_price,
                        }
                        for p in acct.positions.values()
                    ],
                    "open_orders": [
                        {
                            "order_id": o.order_id,
                            "client_order_id": o.client_order_id,
                            "symbol": o.symbol,
                            "side": o.side,
                            "type": o.type,
                            "qty": o.orig_qty,
                            "price": o.price,
                            "reduce_only": o.reduce_only,
                        }
                        for o in acct.open_orders()
                    ],
                    "open_algo_orders": [
                        {
                            "algo_id": a.algo_id,
                            "client_algo_id": a.client_algo_id,
                            "symbol": a.symbol,
                            "side": a.side,
                            "type": a.order_type,
                            "qty": a.quantity,
                            "trigger_price": a.trigger_price,
                            "close_position": a.close_position,
                            "reduce_only": a.reduce_only,
                        }
                        for a in acct.open_algo_orders()
                    ],
                }
            )
        return {
            "time_ms": self.now_ms,
            "sim_seconds": self.t_s,
            "scenario": self.scenario.name,
            "seed": self.seed,
            "marks": dict(self.marks),
            "accounts": accounts,
            "liquidations": [
                {
                    "api_key": e.api_key,
                    "time_ms": e.time_ms,
                    "margin_mode": e.margin_mode.value,
                    "wallet_before": e.wallet_before,
                    "wallet_after": e.wallet_after,
                    "positions": [
                        {
                            "symbol": p.symbol,
                            "side": p.side.value,
                            "qty": p.qty,
                            "price": p.price,
                            "realized_pnl": p.realized_pnl,
                        }
                        for p in e.positions
                    ],
                }
                for e in self.liquidations
            ],
        }
