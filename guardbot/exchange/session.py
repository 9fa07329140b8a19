"""One account's exchange session: its client, its reference-data cache, its gateway."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import ccxt.async_support as ccxt

from guardbot.config import AccountConfig, Settings
from guardbot.domain import AccountSnapshot, CashFlow, ForcedClose, PositionMode
from guardbot.exchange.cache import TiersCache
from guardbot.exchange.cashflows import read_cash_flows
from guardbot.exchange.client import make_client
from guardbot.exchange.forced import forced_closes
from guardbot.exchange.gateway import JournalHook, OrderGateway, RetryPolicy
from guardbot.exchange.order_reads import OrderReads
from guardbot.exchange.reader import read_snapshot

log = logging.getLogger("guardbot.exchange")


@dataclass(slots=True)
class AccountSession:
    account: AccountConfig
    client: ccxt.Exchange
    tiers_cache: TiersCache
    _gateways: list[OrderGateway] = field(default_factory=list)
    order_reads: OrderReads = field(default_factory=OrderReads)  # Binance: by symbol between full reads

    async def snapshot(self) -> AccountSnapshot:
        snap = await read_snapshot(
            self.client,
            self.account.name,
            settle=self.account.settle_currency,
            symbols=self.account.symbols or None,
            tiers_cache=self.tiers_cache,
            order_reads=self.order_reads,
        )
        # Hedge-mode orders must name their leg: keep this session's gateways on the mode just seen.
        for gw in self._gateways:
            gw.position_mode = snap.position_mode
        return snap

    async def cash_flows(self, since_ms: int) -> list[CashFlow] | None:
        """Deposits, withdrawals and transfers since `since_ms` (None: the venue has no ledger)."""
        return await read_cash_flows(self.client, self.account.settle_currency, since_ms)

    async def forced_closes(self, symbols: list[str], since_ms: int) -> list[ForcedClose] | None:
        """The exchange's liquidations / ADL of these symbols since `since_ms` (None: cannot tell)."""
        return await forced_closes(self.client, symbols, since_ms)

    def gateway(
        self,
        journal_hook: JournalHook | None = None,
        *,
        retry: RetryPolicy | None = None,
        position_mode: PositionMode | None = None,
    ) -> OrderGateway:
        """The account's gateway; dry-run comes from the account's config (default: on).

        Its `position_mode` follows every `snapshot()` of this session.
        """
        mode = position_mode or self.tiers_cache.position_mode or PositionMode.ONE_WAY
        gw = OrderGateway(
            self.client,
            self.account.name,
            self.account.dry_run,
            journal_hook,
            retry=retry,
            position_mode=mode,
        )
        self._gateways.append(gw)
        return gw

    async def close(self) -> None:
        await self.client.close()


def _session(account_name: str, settings: Settings, rate_limit: bool) -> AccountSession:
    account = settings.account(account_name)
    credentials = account.credentials(getattr(settings, "_environ", None))
    refresh_s = settings.schedule.tier_refresh_hours * 3600.0
    client = make_client(account, credentials, rate_limit=rate_limit)
    return AccountSession(account, client, TiersCache(refresh_s=refresh_s))


@asynccontextmanager
async def open_account(
    account_name: str, settings: Settings, *, rate_limit: bool = True
) -> AsyncIterator[AccountSession]:
    """Build the account's client from settings (resolving its secrets), yield a session, close it.

    Raises `guardbot.config.ConfigError` for an unknown account or missing secrets and
    `ExchangeSetupError` for an unsupported setup: both one line per problem.
    """
    session = _session(account_name, settings, rate_limit)
    try:
        yield session
    finally:
        await session.close()


@asynccontextmanager
async def open_accounts(settings: Settings) -> AsyncIterator[dict[str, AccountSession]]:
    """Every configured account's session (as `open_account`), closed together at the end.

    Together, not one after the other: ccxt waits 250 ms after closing a client (for TLS
    teardown), so 250 accounts closed in turn held a stopping daemon for over a minute.
    """
    sessions: dict[str, AccountSession] = {}
    try:
        for account in settings.accounts:
            sessions[account.name] = _session(account.name, settings, True)
        yield sessions
    finally:
        closed = await asyncio.gather(*(s.close() for s in sessions.values()), return_exceptions=True)
        for name, result in zip(sessions, closed, strict=True):
            if isinstance(result, BaseException):
                log.warning("%s: closing the exchange client failed (%s)", name, result)
