"""Streaming mode for the daemon: a `StreamGuard` per account whose `[accounts.stream]` is
enabled, each on its own ccxt.pro client (the REST session's client keeps doing the polling)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from guardbot.config import Settings
from guardbot.cycle import AccountGuard
from guardbot.exchange.client import build_client
from guardbot.stream.runner import StreamGuard
from guardbot.stream.venue_streams import prepare_user_stream

log = logging.getLogger("guardbot.stream")


class StreamService:
    def __init__(self, settings: Settings, guards: Sequence[AccountGuard]) -> None:
        self.settings = settings
        self.guards = guards
        self.streams: dict[str, StreamGuard] = {}

    async def start(self) -> None:
        for guard in self.guards:
            account = self.settings.account(guard.name)
            if not account.stream.enabled:
                continue
            client = build_client(
                account.exchange,
                account=account.name,
                environment=account.environment,
                base_url=account.base_url,
                credentials=account.credentials(self.settings.environ),
                pro=True,
            )
            # positions come from ACCOUNT_UPDATE events only: the guard's own cycle reads the book
            client.options["watchPositions"] = {"fetchPositionsSnapshot": False}
            prepare_user_stream(client)  # a listenKey kept alive, a new one if it expires anyway
            stream = StreamGuard(guard, client, account.stream)
            self.streams[guard.name] = stream
            await stream.start()
            log.info("%s: streaming mode on (trigger levels %s)", guard.name, stream.levels)

    async def stop(self) -> None:
        """Stop every stream (idempotent): no streamed cycle starts after this."""
        streams, self.streams = list(self.streams.values()), {}
        for stream in streams:
            await stream.stop()
