"""The webhook's inputs: its settings (`[[strategies]] name = "webhook"` parameters) and the signal
JSON a chart alert sends. `Signal`'s JSON schema is published in docs/webhook-signal.schema.json
(`python -m guardbot.webhook.signal` prints it; a test keeps the file in step) and served at
`GET /schema`.

Numbers may come as JSON numbers or as numeric strings ("58000.5"), because a TradingView
placeholder inside quotes stays valid JSON whatever it expands to. The symbol may be a ccxt symbol
(`BTC/USDT:USDT`), a base asset (`BTC`) or a TradingView ticker (`BINANCE:BTCUSDT.P`).
"""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from guardbot.config.fields import EnvVarName
from guardbot.intents.model import Intent, TakeProfit
from guardbot.strategies_runtime.contract import StrategyParams

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
Number = Annotated[float, Field(gt=0)]


class WebhookParams(StrategyParams):
    bind: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8787  # 0: any free port
    secret_env: EnvVarName = "GUARDBOT_WEBHOOK_SECRET"
    max_body_bytes: Annotated[int, Field(ge=256, le=1_048_576)] = 4096
    rate_limit_per_minute: Annotated[float, Field(gt=0)] = 30.0
    rate_limit_burst: Annotated[int, Field(ge=1)] = 10
    trust_forwarded_for: bool = False  # behind a local TLS proxy: the source is X-Forwarded-For
    reply_within_s: Annotated[float, Field(ge=0, le=30)] = 2.0


class SignalTakeProfit(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    price: Number = Field(description="trigger price (mark) of a reduce-only take-profit")
    fraction: Annotated[float, Field(gt=0, le=1)] = Field(description="share of the new position it closes")


class Signal(BaseModel):
    """A trade signal. guardbot sizes it from `stop` and the risk, checks it against the account's
    limits and sends it as a bracket (entry, reduce-only stop, take-profits), or refuses it."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        title="guardbot signal",
        json_schema_extra={"$schema": JSON_SCHEMA_DIALECT},
    )

    secret: str | None = Field(
        None, description="the shared secret (or send it in the X-Guardbot-Secret header)", max_length=256
    )
    id: str = Field(
        min_length=1,
        max_length=128,
        description="signal id: a signal with an id already received is ignored (a duplicate)",
    )
    symbol: str = Field(
        min_length=1,
        max_length=64,
        description="BTC/USDT:USDT, BTC, BTCUSDT or a TradingView ticker BINANCE:BTCUSDT.P",
    )
    side: str = Field(
        description="long or short (buy or sell); flat (a strategy's exit) is answered ignored",
        examples=["long", "short", "buy", "sell"],
    )
    stop: Number = Field(description="stop-loss price: the size is computed from it")
    entry: Number | None = Field(None, description="limit entry price; absent: at market")
    take_profits: list[SignalTakeProfit] = Field(default_factory=list, max_length=8)
    risk: Number | None = Field(
        None, description="loss at the stop, in the settle currency (default: configured)"
    )
    risk_pct: Annotated[float, Field(gt=0, le=100)] | None = Field(
        None, description="loss at the stop, % of equity"
    )
    account: str | None = Field(None, description="one of the webhook's accounts (default: all of them)")
    comment: str = Field("", max_length=300, description="free text, journaled with the intent")

    def intent(self) -> Intent:
        """The intent it proposes (raises pydantic's ValidationError on a wrong side or take-profit)."""
        return Intent(
            symbol=self.symbol,
            side=self.side,  # Intent accepts long/short/buy/sell
            stop=self.stop,
            entry=self.entry,
            take_profits=tuple(TakeProfit(price=tp.price, fraction=tp.fraction) for tp in self.take_profits),
            risk=self.risk,
            risk_pct=self.risk_pct,
            reason=self.comment,
            id=self.id,
        )


def signal_schema() -> str:
    """The published JSON schema of a signal (docs/webhook-signal.schema.json)."""
    return json.dumps(Signal.model_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(signal_schema(), end="")
