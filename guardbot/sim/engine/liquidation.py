"""The tick (limit fills, triggers, liquidation) and liquidation itself.

Cross: when cross maintenance / cross equity >= 1 every cross position closes at the mark; the
loss comes out of the cross pool (wallet minus isolated margins), floored at 0, then the
clearance fee takes up to what is left. Isolated: each position liquidates on its own when its
maintenance reaches its margin + unrealized PnL, the loss capped at its margin.
"""

from __future__ import annotations

from guardbot.domain import MarginMode
from guardbot.risk.account import margin_ratio_of
from guardbot.sim.book import (
    LiquidatedPosition,
    LiquidationEvent,
    SimAccount,
    SimOrder,
    SimPosition,
    SimTrade,
)
from guardbot.sim.engine.fills import Fills


class Liquidation(Fills):
    def _tick(self) -> None:
        for acct in self.accounts.values():
            self._fill_resting(acct)
            self._trigger_algos(acct)
            self._liquidate_if_needed(acct)
            self._record_history(acct)

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
            mm = self.model.maintenance_margin(dp, self._tiers[p.symbol], self.fees)
            ratio = margin_ratio_of(mm, p.isolated_wallet + dp.unrealized_pnl)
            if ratio >= 1.0:
                self._liquidate(acct, [key], MarginMode.ISOLATED, ratio)

    def _liquidate(
        self, acct: SimAccount, keys: list[tuple[str, str]], mode: MarginMode, ratio: float
    ) -> None:
        """Close `keys` at mark and settle the loss against the pool they belong to."""
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
        """A liquidation shows as a filled order whose client id starts with "autoclose-": the
        engine's mark of a liquidation order (each wire module renders it the way its venue does)."""
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
