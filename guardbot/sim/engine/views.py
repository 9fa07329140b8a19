"""Read-only views of the books: domain values, figures from guardbot.risk, the state dump."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from guardbot.domain import AccountSnapshot, MarginMode, Order, Position
from guardbot.risk.account import AccountFigures, margin_ratio_of, measure_account
from guardbot.sim.book import SimAccount, SimAlgoOrder, SimOrder, SimPosition
from guardbot.sim.engine.base import EngineBase


class Views(EngineBase):
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
            exchange=self.exchange,
            wallet_balance=acct.wallet,
            positions=positions,
            tiers={m.symbol: m.tiers for m in self.markets.values()},
            markets={
                m.symbol: m.to_domain(min_notional_when_reducing=self.profile.min_notional_when_reducing)
                for m in self.markets.values()
            },
            mark_prices={self.markets[s].symbol: p for s, p in self.marks.items()},
            fees=self.fees,
            margin_mode=MarginMode.ISOLATED if modes == {MarginMode.ISOLATED} else MarginMode.CROSS,
            position_mode=acct.position_mode,
            open_orders=tuple(self.domain_order(o) for o in self.open_orders(api_key)),
            timestamp_ms=self.now_ms,
            account=acct.name or None,
        )

    def account_figures(self, api_key: str) -> AccountFigures:
        return measure_account(self.to_snapshot(api_key), self.model)

    def account_of_algo(self, algo: SimAlgoOrder) -> SimAccount:
        """The account a conditional order belongs to."""
        return next(a for a in self.accounts.values() if algo.algo_id in a.algo_orders)

    def open_orders(self, api_key: str) -> list[SimOrder | SimAlgoOrder]:
        acct = self.account(api_key)
        return [*acct.open_orders(), *acct.open_algo_orders()]

    def _cross_pool(
        self, acct: SimAccount, positions: Mapping[tuple[str, str], SimPosition], wallet: float
    ) -> tuple[float, float, float]:
        """(cross equity, cross maintenance, cross initial margin) with the venue's margin model."""
        iso = sum(p.isolated_wallet for p in positions.values() if p.margin_mode is MarginMode.ISOLATED)
        equity, mm, im = wallet - iso, 0.0, 0.0
        for p in positions.values():
            if p.margin_mode is not MarginMode.CROSS:
                continue
            dp = self.domain_position(acct, p)
            equity += dp.unrealized_pnl
            mm += self.model.maintenance_margin(dp, self._tiers[p.symbol], self.fees)
            im += self.model.initial_margin(dp, self._tiers[p.symbol], self.fees)
        return equity, mm, im

    def _record_history(self, acct: SimAccount) -> None:
        upnl = sum(p.pnl_at(self.marks[p.symbol]) for p in acct.positions.values())
        equity, mm, _ = self._cross_pool(acct, acct.positions, acct.wallet)
        acct.history.append((self.now_ms, acct.wallet + upnl, margin_ratio_of(mm, equity) if mm else 0.0))

    # ---- dump ----

    def state(self) -> dict[str, Any]:
        """JSON-ready dump of the whole exchange (for /_sim/state and debugging)."""
        return {
            "exchange": self.exchange,
            "time_ms": self.now_ms,
            "sim_seconds": self.t_s,
            "scenario": self.scenario.name,
            "seed": self.seed,
            "marks": dict(self.marks),
            "accounts": [self._account_state(acct) for acct in self.accounts.values()],
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

    def _account_state(self, acct: SimAccount) -> dict[str, Any]:
        fig = self.account_figures(acct.api_key)
        ratio = fig.margin_ratio if math.isfinite(fig.margin_ratio) else None
        return {
            "api_key": acct.api_key,
            "name": acct.name,
            "position_mode": acct.position_mode.value,
            "wallet": acct.wallet,
            "equity": fig.equity,
            "maintenance_margin": fig.maintenance_margin,
            "margin_ratio": ratio,
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
