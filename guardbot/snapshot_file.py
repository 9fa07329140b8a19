"""The snapshot JSON file (schema 1): the account at one instant, as `guardbot snapshot` writes it
and `guardbot analyze` / `guardbot size` read it. Documented in docs/snapshot.md."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from guardbot.domain import (
    REDUCE_MIN_NOTIONAL_VENUES,
    AccountSnapshot,
    Fees,
    MarginMode,
    Market,
    Order,
    Position,
    PositionMode,
    Side,
    Tier,
)
from guardbot.validation import error_lines

SCHEMA_VERSION = 1

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class SnapshotFileError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeesModel(_Model):
    taker: NonNegative = 0.0005
    maker: float = 0.0002


class PositionModel(_Model):
    symbol: str
    side: Literal["long", "short"]
    contracts: Positive
    contract_size: Positive = 1.0
    entry_price: Positive
    mark_price: Positive
    leverage: Positive = 1.0
    margin_mode: Literal["cross", "isolated"] = "cross"
    isolated_margin: NonNegative = 0.0
    exchange_liquidation_price: NonNegative | None = None
    exchange_maintenance_margin: NonNegative | None = None


class TierModel(_Model):
    notional_floor: NonNegative
    notional_cap: Annotated[float, Field(gt=0)]  # may be inf for the top bracket
    maintenance_margin_rate: Annotated[float, Field(ge=0, lt=1)]
    maintenance_amount: NonNegative = 0.0
    max_leverage: Positive

    @model_validator(mode="after")
    def _floor_below_cap(self) -> TierModel:
        if self.notional_cap <= self.notional_floor:
            raise ValueError(
                f"notional_cap {self.notional_cap:g} must be above notional_floor {self.notional_floor:g}"
            )
        return self


class MarketModel(_Model):
    amount_step: NonNegative
    min_amount: NonNegative = 0.0
    min_notional: NonNegative = 0.0
    price_tick: NonNegative = 0.0
    contract_size: Positive = 1.0
    # absent (older files): the venue's fact, min_notional where it binds reducing orders too
    reduce_min_notional: NonNegative | None = None

    def to_domain(self, symbol: str, exchange: str) -> Market:
        fields = self.model_dump()
        if self.reduce_min_notional is None:
            fields["reduce_min_notional"] = (
                self.min_notional if exchange in REDUCE_MIN_NOTIONAL_VENUES else 0.0
            )
        return Market(symbol=symbol, **fields)


class OrderModel(_Model):
    symbol: str
    side: Literal["buy", "sell"]
    type: str
    amount: NonNegative | None = None
    id: str = ""
    client_order_id: str | None = None
    price: NonNegative | None = None
    trigger_price: NonNegative | None = None
    reduce_only: bool = False
    close_position: bool = False
    working_type: Literal["mark", "last"] = "mark"
    position_side: Literal["long", "short"] | None = None


class SnapshotModel(_Model):
    schema_: Literal[1] = Field(alias="schema")
    exchange: Literal["binanceusdm", "aster", "bybit", "hyperliquid"]
    account: str | None = None
    timestamp_ms: int | None = None
    margin_mode: Literal["cross", "isolated"] = "cross"
    position_mode: Literal["one_way", "hedge"] = "one_way"
    settle_currency: str = "USDT"
    wallet_balance: NonNegative
    fees: FeesModel = FeesModel()
    positions: list[PositionModel] = []
    tiers: dict[str, list[TierModel]] = {}
    markets: dict[str, MarketModel] = {}
    mark_prices: dict[str, Positive] = {}
    open_orders: list[OrderModel] = []
    closes: dict[str, list[Positive]] = {}
    closes_timeframe: str | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _consistent(self) -> SnapshotModel:
        problems = []
        for i, p in enumerate(self.positions):
            if p.symbol not in self.tiers:
                problems.append(
                    f"positions[{i}].symbol: no tiers for {p.symbol!r} (every position needs its tiers)"
                )
        for sym, tiers in self.tiers.items():
            if not tiers:
                problems.append(f"tiers.{sym}: empty list (expected at least one bracket)")
                continue
            if tiers[0].notional_floor != 0:
                problems.append(f"tiers.{sym}[0].notional_floor: the first bracket must start at 0")
            for k in range(1, len(tiers)):
                if not math.isclose(tiers[k].notional_floor, tiers[k - 1].notional_cap, rel_tol=1e-9):
                    problems.append(f"tiers.{sym}[{k}].notional_floor: must equal the previous notional_cap")
        if self.position_mode == "one_way":
            seen = set()
            for i, p in enumerate(self.positions):
                if (p.symbol, p.margin_mode) in seen:
                    problems.append(
                        f"positions[{i}]: two {p.symbol} positions in one_way mode (use position_mode hedge)"
                    )
                seen.add((p.symbol, p.margin_mode))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def to_domain(self) -> AccountSnapshot:
        return AccountSnapshot(
            exchange=self.exchange,
            wallet_balance=self.wallet_balance,
            positions=tuple(
                Position(
                    symbol=p.symbol,
                    side=Side(p.side),
                    contracts=p.contracts,
                    entry_price=p.entry_price,
                    mark_price=p.mark_price,
                    contract_size=p.contract_size,
                    leverage=p.leverage,
                    margin_mode=MarginMode(p.margin_mode),
                    isolated_margin=p.isolated_margin,
                    exchange_liquidation_price=p.exchange_liquidation_price,
                    exchange_maintenance_margin=p.exchange_maintenance_margin,
                )
                for p in self.positions
            ),
            tiers={
                s: tuple(
                    Tier(
                        t.notional_floor,
                        t.notional_cap,
                        t.maintenance_margin_rate,
                        t.maintenance_amount,
                        t.max_leverage,
                    )
                    for t in ts
                )
                for s, ts in self.tiers.items()
            },
            markets={s: m.to_domain(s, self.exchange) for s, m in self.markets.items()},
            mark_prices=dict(self.mark_prices),
            fees=Fees(self.fees.taker, self.fees.maker),
            margin_mode=MarginMode(self.margin_mode),
            position_mode=PositionMode(self.position_mode),
            settle_currency=self.settle_currency,
            open_orders=tuple(Order(**o.model_dump()) for o in self.open_orders),
            closes={s: tuple(c) for s, c in self.closes.items()},
            closes_timeframe=self.closes_timeframe,
            timestamp_ms=self.timestamp_ms,
            account=self.account,
        )


def parse_snapshot(data: Any, source: str = "snapshot") -> AccountSnapshot:
    if isinstance(data, dict) and data.get("schema") not in (None, SCHEMA_VERSION):
        raise SnapshotFileError(
            [f"{source}: schema: this guardbot reads schema {SCHEMA_VERSION} (got {data.get('schema')!r})"]
        )
    try:
        return SnapshotModel.model_validate(data).to_domain()
    except ValidationError as err:
        raise SnapshotFileError(error_lines(source, err)) from None


def load_snapshot(path: str | Path) -> AccountSnapshot:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SnapshotFileError([f"{p}: no such file"]) from None
    except OSError as err:
        raise SnapshotFileError([f"{p}: cannot read ({err.strerror})"]) from None
    try:
        # Parsing and validating in one pass in pydantic-core is about twice as fast as json.loads
        # plus validation on a file with thousands of closes. Whatever it refuses takes the path
        # below, which words the error (JSON position, schema version, field) as it always has.
        return SnapshotModel.model_validate_json(text).to_domain()
    except ValidationError:
        pass
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise SnapshotFileError(
            [f"{p}: not valid JSON: {err.msg} at line {err.lineno} column {err.colno}"]
        ) from None
    return parse_snapshot(data, str(p))


def _num(x: float) -> float | str:
    return x if math.isfinite(x) else "Infinity"


def snapshot_to_dict(s: AccountSnapshot) -> dict[str, Any]:
    """The schema-1 JSON object for a snapshot (inverse of parse_snapshot)."""
    out: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "exchange": s.exchange,
        "account": s.account,
        "timestamp_ms": s.timestamp_ms,
        "margin_mode": s.margin_mode.value,
        "position_mode": s.position_mode.value,
        "settle_currency": s.settle_currency,
        "wallet_balance": s.wallet_balance,
        "fees": {"taker": s.fees.taker, "maker": s.fees.maker},
        "positions": [
            {
                "symbol": p.symbol,
                "side": p.side.value,
                "contracts": p.contracts,
                "contract_size": p.contract_size,
                "entry_price": p.entry_price,
                "mark_price": p.mark_price,
                "leverage": p.leverage,
                "margin_mode": p.margin_mode.value,
                "isolated_margin": p.isolated_margin,
                "exchange_liquidation_price": p.exchange_liquidation_price,
                "exchange_maintenance_margin": p.exchange_maintenance_margin,
            }
            for p in s.positions
        ],
        "tiers": {
            sym: [
                {
                    "notional_floor": t.notional_floor,
                    "notional_cap": _num(t.notional_cap),
                    "maintenance_margin_rate": t.maintenance_margin_rate,
                    "maintenance_amount": t.maintenance_amount,
                    "max_leverage": t.max_leverage,
                }
                for t in tiers
            ]
            for sym, tiers in s.tiers.items()
        },
        "markets": {
            sym: {
                "amount_step": m.amount_step,
                "min_amount": m.min_amount,
                "min_notional": m.min_notional,
                "price_tick": m.price_tick,
                "contract_size": m.contract_size,
                "reduce_min_notional": m.reduce_min_notional,
            }
            for sym, m in s.markets.items()
        },
        "mark_prices": dict(s.mark_prices),
        "open_orders": [
            {
                "symbol": o.symbol,
                "side": o.side,
                "type": o.type,
                "amount": o.amount,
                "id": o.id,
                "client_order_id": o.client_order_id,
                "price": o.price,
                "trigger_price": o.trigger_price,
                "reduce_only": o.reduce_only,
                "close_position": o.close_position,
                "working_type": o.working_type,
                "position_side": o.position_side,
            }
            for o in s.open_orders
        ],
    }
    if s.closes:
        out["closes"] = {sym: list(c) for sym, c in s.closes.items()}
        out["closes_timeframe"] = s.closes_timeframe
    return out


def write_snapshot(s: AccountSnapshot, path: str | Path) -> None:
    Path(path).write_text(json.dumps(snapshot_to_dict(s), indent=1) + "\n", encoding="utf-8")
