"""`guardbot sim` standalone mode: prints how to connect, and the printed ccxt snippet works."""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

from guardbot.sim.runner import serve


async def test_serve_prints_connection_details_and_a_working_ccxt_snippet() -> None:
    lines: list[str] = []
    task = asyncio.create_task(serve("calm", 0, 60.0, lines.append))
    try:
        for _ in range(200):
            if any("exceptions" in line for line in lines):
                break
            await asyncio.sleep(0.01)
        text = "\n".join(lines)
        assert re.search(r"http://127\.0\.0\.1:\d+", text) and "scenario: calm" in text
        key = re.search(r"api key: (\w+)", text)
        secret = re.search(r"secret:\s+(\w+)", text)
        assert key and secret and key.group(1) in text
        snippet = text[text.index("import ccxt") :]
        namespace: dict[str, Any] = {}
        exec(snippet, namespace)  # the snippet the user copies
        client = namespace["ex"]
        client.timeout_on_exit = 0
        try:
            balance = await client.fetch_balance()
            assert balance["USDT"]["total"] == 10_000
            first = (await client.fetch_mark_price("BTC/USDT:USDT"))["markPrice"]
            await asyncio.sleep(0.25)  # the clock runs at 60x: 15 sim seconds
            assert (await client.fetch_mark_price("BTC/USDT:USDT"))["markPrice"] != first
        finally:
            await client.close()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
