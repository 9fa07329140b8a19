"""`[accounts.stream]`: streaming mode of one account (websocket streams that trigger a guard cycle
at once when the risk crosses a level; the polling cycle stays on as the safety net)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from guardbot.config.fields import Problem

if TYPE_CHECKING:
    from guardbot.config.account import AccountConfig

# ccxt.pro streams guardbot subscribes to and the emulator serves, per venue
STREAMING_EXCHANGES = ("binanceusdm", "bybit", "aster", "hyperliquid")


class StreamConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    enabled: bool = False
    margin_ratio_levels: list[Annotated[float, Field(gt=0, lt=1)]] = []
    liquidation_levels_pct: list[Annotated[float, Field(gt=0, lt=100)]] = []
    fallback_after_s: Annotated[float, Field(gt=0)] = 30.0
    reconnect_max_s: Annotated[float, Field(gt=0)] = 30.0

    @field_validator("margin_ratio_levels", "liquidation_levels_pct")
    @classmethod
    def _distinct(cls, value: list[float]) -> list[float]:
        if len(set(value)) != len(value):
            raise ValueError("must not list the same level twice")
        return sorted(value)


def stream_problems(accounts: Sequence[AccountConfig]) -> list[Problem]:
    """Streaming asked of a venue guardbot has no streams for: one line naming the account."""
    return [
        (
            ("accounts", i, "stream", "enabled"),
            f"streaming is available on {', '.join(STREAMING_EXCHANGES)} only, not {a.exchange}; "
            "set enabled = false (the account is still guarded by polling)",
            True,
            (),
        )
        for i, a in enumerate(accounts)
        if a.stream.enabled and a.exchange not in STREAMING_EXCHANGES
    ]
