"""The guard and the real python-telegram-bot wired to a FakeTelegram: a config for it, a host
the bot's commands reach, and `running_bot` (the fake Bot API server is in fake_telegram.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fake_telegram import FakeTelegram

from guardbot.config import load_settings
from guardbot.cycle import AccountGuard
from guardbot.exchange.cache import TiersCache
from guardbot.exchange.client import make_client
from guardbot.exchange.gateway import RetryPolicy
from guardbot.exchange.session import AccountSession
from guardbot.guard import GuardLimits
from guardbot.notify.telegram import telegram_bot
from guardbot.notify.tg_queue import DeliveryPolicy, TelegramNotifier
from guardbot.store import Journal

CHAT = 424242
TOKEN = "123456:TEST-TOKEN"


def write_config(
    path: Any,
    sim_url: str,
    api_base_url: str,
    accounts: list[tuple[str, bool]],
    *,
    extra_telegram: str = "",
    extra_guard: str = "",
    db: str = "guardbot.db",
) -> Any:
    """A guardbot.toml for `accounts` [(name, dry_run)] on the emulator, Telegram on the fake."""
    blocks = []
    for name, dry in accounts:
        blocks.append(
            f'[[accounts]]\nname = "{name}"\nexchange = "binanceusdm"\nbase_url = "{sim_url}"\n'
            f"dry_run = {'true' if dry else 'false'}\n"
            f'api_key_env = "{name.upper()}_KEY"\napi_secret_env = "{name.upper()}_SECRET"\n'
        )
    text = "\n".join(blocks) + (
        f"\n[telegram]\nenabled = true\nchat_ids = [{CHAT}]\n"
        f'api_base_url = "{api_base_url}"\n{extra_telegram}\n'
        f"[guard]\nconfirm_readings = 1\n{extra_guard}\n"
        f'[storage]\npath = "{path.parent / db}"\n'
        "[schedule]\ninterval_s = 3600\n"
    )
    path.write_text(text)
    return path


class Host:
    """What guardbot.daemon.Daemon offers the bot: settings, guards, journal, check_now."""

    def __init__(self, settings: Any, journal: Any) -> None:
        self.settings = settings
        self.journal = journal
        self.guards: list[Any] = []
        self.sessions: dict[str, Any] = {}

    def guard(self, name: str) -> Any:
        for g in self.guards:
            if g.name == name:
                return g
        raise KeyError(name)

    async def check_now(self, name: str | None = None) -> None:
        for g in self.guards if name is None else [self.guard(name)]:
            await g.cycle()


FAST = DeliveryPolicy(base_delay_s=0.01, max_delay_s=0.05, attempts=6, shutdown_wait_s=3.0)


@dataclass
class World:
    host: Host
    notifier: TelegramNotifier
    fake: FakeTelegram
    journal: Journal
    environ: Mapping[str, str]

    def guard(self, name: str = "main") -> AccountGuard:
        return self.host.guard(name)  # type: ignore[no-any-return]


@asynccontextmanager
async def running_bot(
    sim_url: str,
    fake: FakeTelegram,
    tmp_path: Path,
    accounts: Mapping[str, tuple[Any, bool]],
    *,
    extra_telegram: str = "",
    extra_guard: str = "",
    policy: DeliveryPolicy | None = None,
) -> AsyncIterator[World]:
    """The real bot (PTB on the fake API) over real guards of `accounts` {name: (SimAccount, dry_run)}."""
    config = write_config(
        tmp_path / "guardbot.toml",
        sim_url,
        fake.base_url,
        [(name, dry) for name, (_, dry) in accounts.items()],
        extra_telegram=extra_telegram,
        extra_guard=extra_guard,
    )
    environ = {"GUARDBOT_TELEGRAM_TOKEN": fake.token}
    for name, (acct, _) in accounts.items():
        environ[f"{name.upper()}_KEY"] = acct.api_key
        environ[f"{name.upper()}_SECRET"] = acct.secret
    settings = load_settings(config, environ=environ)
    journal = await Journal.open(settings.storage.path)
    host = Host(settings, journal)
    limits = GuardLimits.from_config(settings.guard, settings.risk)
    try:
        async with telegram_bot(host, policy=policy or FAST, poll_timeout=1) as notifier:
            for account in settings.accounts:
                client = make_client(account, account.credentials(environ), rate_limit=False)
                client.timeout_on_exit = 0  # ccxt sleeps 250 ms on close by default
                session = AccountSession(account, client, TiersCache())
                host.sessions[account.name] = session
                gateway = session.gateway(retry=RetryPolicy(attempts=2, base_delay_s=0.01, max_delay_s=0.02))
                guard = AccountGuard(account.name, session.snapshot, gateway, journal, notifier, limits)
                await guard.start()
                host.guards.append(guard)
            await fake.wait_for("getUpdates")
            yield World(host, notifier, fake, journal, environ)
    finally:
        for session in host.sessions.values():
            await session.close()
        await journal.close()
