"""`guardbot sim` standalone mode: prints how to connect, and the printed ccxt snippet works, for
each venue the emulator speaks."""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

import pytest
from venue_spec import SPECS, VENUES

from guardbot.sim.runner import serve


def _price(ticker: dict[str, Any]) -> Any:
    return ticker["last"] or ticker["close"]  # Hyperliquid's ticker has no last trade: its mid


@pytest.mark.parametrize("exchange", VENUES)
async def test_serve_prints_connection_details_and_a_working_ccxt_snippet(exchange: str) -> None:
    lines: list[str] = []
    task = asyncio.create_task(serve("calm", 0, 60.0, lines.append, exchange=exchange))
    try:
        for _ in range(200):
            if any("urls" in line and "127.0.0.1" in line for line in lines):
                break
            await asyncio.sleep(0.01)
        text = "\n".join(lines)
        assert re.search(r"http://127\.0\.0\.1:\d+", text) and "scenario: calm" in text
        key = re.search(r"(?:api key|wallet address): (\w+)", text)
        secret = re.search(r"(?:secret|private key):\s+(\w+)", text)
        assert key and secret and key.group(1) in text
        snippet = text[text.index("import ccxt") :]
        namespace: dict[str, Any] = {}
        exec(snippet, namespace)  # the snippet the user copies
        client = namespace["ex"]
        client.timeout_on_exit = 0
        assert client.id == exchange
        try:
            balance = await client.fetch_balance()
            quote = SPECS[exchange].quote
            assert balance[quote]["total"] == 10_000
            symbol = SPECS[exchange].sym("BTC")
            first = _price(await client.fetch_ticker(symbol))
            await asyncio.sleep(0.25)  # the clock runs at 60x: 15 sim seconds
            assert _price(await client.fetch_ticker(symbol)) != first
        finally:
            await client.close()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_serve_refuses_a_venue_it_does_not_speak() -> None:
    with pytest.raises(
        ValueError,
        match="the emulator does not speak 'okx'; expected one of binanceusdm, bybit, aster, hyperliquid",
    ):
        await serve(None, 0, 1.0, print, exchange="okx")
