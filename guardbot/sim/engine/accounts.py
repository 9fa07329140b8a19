"""Accounts and money in and out: creation, deposits, withdrawals, leverage and margin settings."""

from __future__ import annotations

import math
import secrets
from dataclasses import replace

from guardbot.domain import MarginMode, PositionMode
from guardbot.sim.book import SimAccount
from guardbot.sim.engine.errors import Rejection, SimError
from guardbot.sim.engine.numbers import coerce_mode, coerce_position_mode
from guardbot.sim.engine.views import Views
from guardbot.sim.ethkeys import address_of, new_private_key


class Accounts(Views):
    def create_account(
        self,
        wallet: float = 10_000.0,
        api_key: str | None = None,
        secret: str | None = None,
        position_mode: str | PositionMode = "one_way",
        name: str = "",
    ) -> SimAccount:
        if self.profile.wallet_keys:
            # an Ethereum key pair: the api key is the wallet address, the secret its private key
            secret = secret or new_private_key()
            key = address_of(secret)
            if api_key is not None and api_key.lower() != key:
                raise ValueError("api_key must be the address of the private key given as secret")
        else:
            key = api_key or secrets.token_hex(32)
        coerced = coerce_position_mode(position_mode)
        if coerced is PositionMode.HEDGE and not self.profile.hedge_mode:
            raise ValueError(f"{self.exchange} has no hedge mode")
        if key in self.accounts:
            raise ValueError(f"an account with api key {key[:8]}… already exists")
        acct = SimAccount(
            api_key=key,
            secret=secret or secrets.token_hex(32),
            wallet=float(wallet),
            position_mode=coerced,
            name=name,
            update_ms=self.now_ms,
        )
        self.accounts[key] = acct
        self._record_history(acct)
        return acct

    def account_by_name_or_key(self, who: str) -> SimAccount | None:
        """The account whose api key (a wallet address in any case) or name is `who` (names are
        not required to be unique: the first one wins)."""
        if who in self.accounts:
            return self.accounts[who]
        if who.lower() in self.accounts:
            return self.accounts[who.lower()]
        return next((a for a in self.accounts.values() if a.name and a.name == who), None)

    def deposit(self, api_key: str, amount: float, *, record: bool = True) -> float:
        """Move `amount` into the futures wallet (a transfer in, booked as a TRANSFER income row).
        `record=False` leaves no income row: a venue without a transfer feed."""
        if not (math.isfinite(amount) and amount > 0):
            raise ValueError(f"deposit: amount must be a positive number, got {amount!r}")
        acct = self.account(api_key)
        acct.wallet += amount
        if record:
            self._income(acct, "TRANSFER", amount, info="TRANSFER")
        return acct.wallet

    def withdraw(self, api_key: str, amount: float, *, record: bool = True) -> float:
        """Move `amount` out of the futures wallet; at most what is free (the cross pool's available
        margin, never unrealized profit)."""
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

    def set_leverage(self, api_key: str, symbol: str, leverage: int) -> tuple[int, float]:
        """(leverage, max notional at that leverage). Refused outside 1..max leverage, and when a
        position is already larger than the new leverage allows."""
        acct = self.account(api_key)
        m = self.market(symbol)
        if not 1 <= leverage <= m.max_leverage:
            raise SimError(Rejection.INVALID_LEVERAGE, leverage=leverage, max_leverage=m.max_leverage)
        cap = self.model.max_notional_for_leverage(m.tiers, leverage)
        for pos in self._positions_of(acct, symbol):
            if pos.qty * self.marks[symbol] > cap:
                raise SimError(Rejection.ABOVE_LEVERAGE_CAP, leverage=leverage)
        acct.leverage[symbol] = leverage
        return leverage, cap

    def set_margin_type(self, api_key: str, symbol: str, mode: str | MarginMode) -> None:
        acct = self.account(api_key)
        self.market(symbol)
        new = coerce_mode(mode)
        if new is MarginMode.ISOLATED and not self.profile.isolated_per_symbol:
            raise SimError(Rejection.MARGIN_MODE_UNAVAILABLE, symbol=symbol)
        if new is self.margin_type_of(acct, symbol):
            raise SimError(Rejection.MARGIN_MODE_UNCHANGED)
        if self._positions_of(acct, symbol):
            raise SimError(Rejection.MARGIN_MODE_POSITION_OPEN)
        if any(o.symbol == symbol for o in acct.open_orders()) or any(
            a.symbol == symbol for a in acct.open_algo_orders()
        ):
            raise SimError(Rejection.MARGIN_MODE_ORDERS_OPEN)
        acct.margin_type[symbol] = new

    def set_position_mode(self, api_key: str, hedge: bool) -> None:
        acct = self.account(api_key)
        if hedge and not self.profile.hedge_mode:
            raise SimError(Rejection.INVALID_PARAMETER, param="position_mode")
        new = PositionMode.HEDGE if hedge else PositionMode.ONE_WAY
        if new is acct.position_mode:
            raise SimError(Rejection.POSITION_MODE_UNCHANGED)
        if acct.positions:
            raise SimError(Rejection.POSITION_MODE_POSITION_OPEN)
        if acct.open_orders() or acct.open_algo_orders():
            raise SimError(Rejection.POSITION_MODE_ORDERS_OPEN)
        acct.position_mode = new

    def modify_isolated_margin(
        self, api_key: str, symbol: str, amount: float, add: bool, position_side: str = "BOTH"
    ) -> float:
        """Add to / remove from an isolated position's margin."""
        acct = self.account(api_key)
        pos = acct.positions.get((symbol, position_side))
        if pos is None or pos.margin_mode is not MarginMode.ISOLATED:
            raise SimError(Rejection.NO_ISOLATED_POSITION, symbol=symbol, position_side=position_side)
        if amount <= 0:
            raise SimError(Rejection.INVALID_PARAMETER, param="amount")
        if add:
            cross_eq, _, cross_im = self._cross_pool(acct, acct.positions, acct.wallet)
            if amount > cross_eq - cross_im:
                raise SimError(Rejection.INSUFFICIENT_MARGIN)
            new_iso = pos.isolated_wallet + amount
        else:
            lev = self.leverage_of(acct, symbol)
            keep = pos.qty * self.marks[symbol] / lev - min(0.0, pos.pnl_at(self.marks[symbol]))
            if pos.isolated_wallet - amount < keep:
                raise SimError(Rejection.INSUFFICIENT_MARGIN, symbol=symbol)
            new_iso = pos.isolated_wallet - amount
        acct.positions[(symbol, position_side)] = replace(pos, isolated_wallet=new_iso, update_ms=self.now_ms)
        return new_iso
