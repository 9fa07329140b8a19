"""The engine's state, clock and prices: the base every other part of the engine builds on.

Symbols are exchange ids ("BTCUSDT") everywhere in the engine; `views.to_snapshot` translates to
ccxt's unified symbols, as the guard's reader does. The engine is synchronous: every call finishes
its work (fills, triggers, liquidations) before it returns.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping

from guardbot.domain import Fees, MarginMode
from guardbot.risk.margin import model_for
from guardbot.sim.book import LiquidationEvent, SimAccount, SimIncome, SimPosition
from guardbot.sim.candles import CandleStore
from guardbot.sim.engine.errors import Rejection, SimError
from guardbot.sim.markets import SimMarket
from guardbot.sim.scenario import PricePath, Scenario
from guardbot.sim.venues.profiles import DEFAULT_EXCHANGE, profile_for


class EngineBase:
    def __init__(
        self,
        markets: Mapping[str, SimMarket] | Iterable[SimMarket] | None = None,
        seed: int | None = None,
        slippage_bps: float = 0.0,
        taker_fee: float | None = None,
        maker_fee: float | None = None,
        scenario: Scenario | None = None,
        start_ms: int | None = None,
        default_leverage: int = 20,
        exchange: str = DEFAULT_EXCHANGE,
    ) -> None:
        # The venue's rules, as data: margin model, fees, client-id reuse, isolated margin.
        self.profile = profile_for(exchange)
        if markets is None:
            self.markets: dict[str, SimMarket] = self.profile.markets()
        elif isinstance(markets, Mapping):
            self.markets = dict(markets)
        else:
            self.markets = {m.id: m for m in markets}
        self.exchange = exchange
        self.model = model_for(exchange)
        self.scenario = scenario or Scenario.static()
        self.seed = seed if seed is not None else self.scenario.seed
        self.slippage_bps = slippage_bps
        self.fees = Fees(
            taker=self.profile.taker_fee if taker_fee is None else taker_fee,
            maker=self.profile.maker_fee if maker_fee is None else maker_fee,
        )
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

    def _tick(self) -> None:
        """Fill resting limits, trigger conditional orders, liquidate (see `liquidation`)."""
        raise NotImplementedError

    # ---- lookups ----

    @property
    def now_ms(self) -> int:
        return self.start_ms + round(self.t_s * 1000)

    def market(self, symbol: str) -> SimMarket:
        try:
            return self.markets[symbol]
        except KeyError:
            raise SimError(Rejection.UNKNOWN_SYMBOL, symbol=symbol) from None

    def account(self, api_key: str) -> SimAccount:
        try:
            return self.accounts[api_key]
        except KeyError:
            raise SimError(Rejection.UNKNOWN_ACCOUNT) from None

    def leverage_of(self, acct: SimAccount, symbol: str) -> int:
        return acct.leverage.get(symbol, min(self.default_leverage, self.market(symbol).max_leverage))

    def margin_type_of(self, acct: SimAccount, symbol: str) -> MarginMode:
        return acct.margin_type.get(symbol, MarginMode.CROSS)

    def _positions_of(self, acct: SimAccount, symbol: str) -> list[SimPosition]:
        return [p for (s, _), p in acct.positions.items() if s == symbol]

    def _new_order_id(self) -> int:
        self._next_order_id += 1
        return self._next_order_id - 1

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
                wallet_after=acct.wallet,
            )
        )

    # ---- time and prices ----

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
