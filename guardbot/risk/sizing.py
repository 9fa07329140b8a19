"""Size a new order backward from the loss the trader accepts at the stop.

quantity = R / (|E - S| + f·E + f·S + s·E + s·S)   (f taker fee, s slippage fraction)

so the loss at the stop, both fees and slippage included, is at most R. Then the quantity is
capped by every account limit, the binding cap is named, and the account after the trade is
checked: a stop that sits beyond the post-trade liquidation price would never fire.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from guardbot.domain import AccountSnapshot, MarginMode, Market, Position, PositionMode, Side
from guardbot.risk.account import loss_side_liquidation_price, measure_account
from guardbot.risk.correlation import Cluster
from guardbot.risk.exposure import in_sector
from guardbot.risk.margin import MarginModel, model_for, tier_for
from guardbot.risk.precision import round_down


class SizingError(ValueError):
    """The request is wrong or the trade must be refused; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class SizingRequest:
    symbol: str
    side: Side
    stop: float
    entry: float | None = None  # default: the symbol's mark
    risk_amount: float | None = None
    risk_pct: float | None = None  # % of equity, used when risk_amount is None
    leverage: float | None = None  # default: SizingLimits.default_leverage


@dataclass(frozen=True, slots=True)
class SizingLimits:
    """The [risk] settings that bound a new trade (defaults mirror guardbot/config/schema.py)."""

    max_leverage: float = 5.0
    default_leverage: float = 5.0
    max_position_pct: float = 150.0
    taker_fee: float | None = None  # None: the snapshot's fee
    slippage_pct: float = 0.05
    stop_buffer_pct: float = 1.0
    max_cluster_pct: float = 300.0
    sectors: Mapping[str, Sequence[str]] = field(default_factory=dict)
    sector_caps: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Projection:
    margin_ratio: float
    effective_leverage: float
    liquidation_price: float | None
    liquidation_distance_pct: float | None


@dataclass(frozen=True, slots=True)
class SizingResult:
    symbol: str
    side: Side
    entry: float
    stop: float
    leverage: float
    risk_budget: float
    quantity: float
    notional: float
    risk_at_stop: float
    initial_margin: float
    binding_constraint: str  # "risk" when no cap bound, else the cap's name
    caps: Mapping[str, float]  # each cap as a max quantity, for the curious
    projected: Projection
    warnings: tuple[str, ...] = ()
    # one-way mode against an opposite position: the order first closes it (base units), and only
    # `quantity - closes_opposite` opens the new position the stop protects
    closes_opposite: float = 0.0

    @property
    def opens(self) -> float:
        """Base units of the position that exists after the fill (what the stop must cover)."""
        return self.quantity - self.closes_opposite


def loss_per_unit(entry: float, stop: float, fee: float, slippage: float) -> float:
    """Loss of one unit of base from entry to stop, fees and slippage on both fills."""
    return abs(entry - stop) + (fee + slippage) * (entry + stop)


def _validate(req: SizingRequest, snapshot: AccountSnapshot, equity: float) -> tuple[float, float]:
    """(entry, risk budget) or SizingError."""
    if req.symbol not in snapshot.tiers:
        known = ", ".join(sorted(snapshot.tiers)) or "none"
        raise SizingError(f"unknown symbol {req.symbol!r}: the snapshot has tiers for {known}")
    entry = req.entry if req.entry is not None else snapshot.mark(req.symbol)
    if entry is None:
        raise SizingError(f"no mark price for {req.symbol}: pass --entry or add it to mark_prices")
    if not (math.isfinite(entry) and entry > 0):
        raise SizingError(f"entry must be a positive price (got {entry})")
    if not (math.isfinite(req.stop) and req.stop > 0):
        raise SizingError(f"stop must be a positive price (got {req.stop})")
    if req.stop == entry:
        raise SizingError(f"stop {req.stop:g} equals entry: zero distance means unlimited size")
    if req.side is Side.LONG and req.stop > entry:
        raise SizingError(f"stop {req.stop:g} is above entry {entry:g}: a long's stop must be below entry")
    if req.side is Side.SHORT and req.stop < entry:
        raise SizingError(f"stop {req.stop:g} is below entry {entry:g}: a short's stop must be above entry")
    if req.risk_amount is not None:
        if not (math.isfinite(req.risk_amount) and req.risk_amount > 0):
            raise SizingError(f"risk must be a positive amount (got {req.risk_amount})")
        budget = req.risk_amount
    elif req.risk_pct is not None:
        if not (math.isfinite(req.risk_pct) and 0 < req.risk_pct <= 100):
            raise SizingError(f"risk percent must be in (0, 100] (got {req.risk_pct})")
        budget = equity * req.risk_pct / 100
    else:
        raise SizingError("give a risk amount or a risk percent of equity")
    if budget <= 0:
        raise SizingError(f"equity is {equity:.2f}: no risk budget left")
    return entry, budget


def _merge(snapshot: AccountSnapshot, new: Position) -> AccountSnapshot:
    """The account right after the fill: the new position merged into an existing one if any."""
    positions = list(snapshot.positions)
    for i, p in enumerate(positions):
        if p.symbol != new.symbol or p.margin_mode is not MarginMode.CROSS:
            continue
        if p.side is new.side:
            size = p.size + new.size
            entry = (p.size * p.entry_price + new.size * new.entry_price) / size
            positions[i] = Position(
                p.symbol,
                p.side,
                size / p.contract_size,
                entry,
                new.mark_price,
                p.contract_size,
                new.leverage,
                p.margin_mode,
            )
            break
        if snapshot.position_mode is PositionMode.ONE_WAY:
            # one-way: the order nets against the opposite position
            net = p.size - new.size
            if net > 0:
                positions[i] = p.with_contracts(net / p.contract_size).at_mark(new.mark_price)
            elif net < 0:
                positions[i] = Position(
                    p.symbol,
                    new.side,
                    -net / p.contract_size,
                    new.entry_price,
                    new.mark_price,
                    p.contract_size,
                    new.leverage,
                )
            else:
                del positions[i]
            break
    else:
        positions.append(new)
    moved = snapshot.with_positions(tuple(positions))
    return moved.with_marks({new.symbol: new.mark_price})


def _opposite(snapshot: AccountSnapshot, req: SizingRequest) -> Position | None:
    """In one-way mode an order against an open position first reduces it."""
    if snapshot.position_mode is not PositionMode.ONE_WAY:
        return None
    for p in snapshot.positions:
        if p.symbol == req.symbol and p.side is not req.side and p.margin_mode is MarginMode.CROSS:
            return p
    return None


def _closed(snapshot: AccountSnapshot, p: Position, price: float, fee: float) -> AccountSnapshot:
    """The account once `p` is closed at `price`: its PnL realized into the wallet, the fee paid."""
    rest = tuple(q for q in snapshot.positions if q is not p)
    wallet = snapshot.wallet_balance + p.pnl_at(price) - p.size * price * fee
    return snapshot.with_positions(rest).with_wallet(wallet)


def _caps(
    req: SizingRequest,
    snapshot: AccountSnapshot,
    model: MarginModel,
    entry: float,
    leverage: float,
    fee: float,
    limits: SizingLimits,
    cluster: Cluster | None,
) -> dict[str, tuple[float, str]]:
    """Each cap as (max quantity, what it is), so a refusal can say which limit left no room."""
    figures = measure_account(snapshot)
    equity = figures.equity
    tiers = snapshot.tiers[req.symbol]
    same = sum(p.notional for p in snapshot.positions if p.key == (req.symbol, req.side))
    caps: dict[str, tuple[float, str]] = {}
    caps["max_leverage"] = (
        max(0.0, limits.max_leverage * equity - figures.gross_notional) / entry,
        f"account effective leverage {figures.effective_leverage:.2f}x of max {limits.max_leverage:g}x",
    )
    caps["available_margin"] = (
        figures.available_margin / (entry / leverage + entry * fee),
        f"available margin {figures.available_margin:,.2f} at {leverage:g}x",
    )
    tier_cap = model.max_notional_for_leverage(tiers, leverage)
    caps["tier_max_notional"] = (
        max(0.0, tier_cap - same) / entry,
        f"the exchange allows {tier_cap:,.0f} notional at {leverage:g}x",
    )
    caps["max_position_pct"] = (
        max(0.0, limits.max_position_pct / 100 * equity - same) / entry,
        f"one position at most {limits.max_position_pct:g}% of equity",
    )
    if cluster is not None and req.symbol in cluster.symbols:
        # oriented like exposure.py: anti-correlated members count with their sign, so a long A plus
        # a short of something that moves against A is one bet, not a hedge
        own = cluster.sign_of(req.symbol)
        signed = sum(
            cluster.sign_of(p.symbol) * p.signed_notional
            for p in snapshot.positions
            if p.symbol in cluster.symbols
        )
        room = limits.max_cluster_pct / 100 * equity - own * req.side.sign * signed
        caps["correlation_cluster"] = (
            max(0.0, room) / entry,
            f"correlated cluster {', '.join(cluster.symbols)} at most {limits.max_cluster_pct:g}% of equity",
        )
    for sector, members in limits.sectors.items():
        if in_sector(req.symbol, members) and sector in limits.sector_caps:
            gross = sum(p.notional for p in snapshot.positions if in_sector(p.symbol, members))
            cap_pct = limits.sector_caps[sector]
            caps[f"sector:{sector}"] = (
                max(0.0, cap_pct / 100 * equity - gross) / entry,
                f"sector {sector} at most {cap_pct:g}% of equity (now {gross:,.0f})",
            )
    return caps


def size_trade(
    snapshot: AccountSnapshot,
    req: SizingRequest,
    limits: SizingLimits = SizingLimits(),
    *,
    cluster: Cluster | None = None,
    model: MarginModel | None = None,
) -> SizingResult:
    """Quantity for `req` under `limits`, or SizingError naming why the trade is refused.

    `cluster` is the correlation cluster holding req.symbol, if any (from correlation.py).
    """
    model = model or model_for(snapshot.exchange)
    equity = measure_account(snapshot, model).equity
    entry, budget = _validate(req, snapshot, equity)
    tiers = snapshot.tiers[req.symbol]
    leverage = req.leverage if req.leverage is not None else limits.default_leverage
    top_leverage = max(t.max_leverage for t in tiers)
    if not (0 < leverage <= top_leverage):
        raise SizingError(f"leverage must be in (0, {top_leverage:g}] for {req.symbol} (got {leverage:g})")
    fee = limits.taker_fee if limits.taker_fee is not None else snapshot.fees.taker
    slippage = limits.slippage_pct / 100
    market = snapshot.markets.get(req.symbol) or Market(req.symbol, amount_step=0.0)
    warnings: list[str] = []
    if req.symbol not in snapshot.markets:
        warnings.append(
            f"no market precision for {req.symbol} in the snapshot: quantity not rounded to a lot step"
        )

    # One-way mode against an opposite position: the order is a close, then (beyond it) a flip.
    # The risk budget sizes the position that exists after the fill; every cap and the
    # liquidation check look at the book with the opposite position already closed.
    opposite = _opposite(snapshot, req)
    book = snapshot if opposite is None else _closed(snapshot, opposite, entry, fee)
    raw = budget / loss_per_unit(entry, req.stop, fee, slippage)
    caps = _caps(req, book, model, entry, leverage, fee, limits, cluster)
    binding, quantity = "risk", raw
    for name, (cap, _) in caps.items():
        if cap < quantity:
            binding, quantity = name, cap
    quantity = round_down(quantity, market.amount_step)
    why = "the risk budget" if binding == "risk" else f"the {binding} cap ({caps[binding][1]})"

    if quantity <= 0 or quantity < market.min_amount:
        raise SizingError(
            f"{why} allows {quantity:g} {req.symbol}, below the minimum amount {market.min_amount:g}: "
            "refusing rather than rounding up"
        )
    if quantity * entry < market.min_notional:
        raise SizingError(
            f"{why} allows a notional of {quantity * entry:.2f}, below the minimum {market.min_notional:g}: "
            "refusing rather than rounding up"
        )
    # the bracket's stop closes this quantity at the stop price: where the venue's minimum binds
    # reducing orders too (Hyperliquid), a stop worth less would be refused after the entry filled
    if quantity * req.stop < market.reduce_min_notional:
        raise SizingError(
            f"{why} allows {quantity:g} {req.symbol}, whose stop would be worth {quantity * req.stop:.2f} "
            f"at {req.stop:g}, below the venue's minimum order value {market.reduce_min_notional:g} "
            "(stops included): refusing rather than leaving the position without its stop"
        )

    new = Position(
        req.symbol, req.side, quantity / market.contract_size, entry, entry, market.contract_size, leverage
    )
    after = _merge(book, new)
    projected_figures = measure_account(after, model)
    pf = next(p for p in projected_figures.positions if p.position.key == (req.symbol, req.side))
    projection = Projection(
        projected_figures.margin_ratio,
        projected_figures.effective_leverage,
        pf.liquidation_price,
        pf.liquidation_distance_pct,
    )
    # the stop must fire before the liquidation on the new position's own loss side (in hedge mode
    # the shared price may lie on the other side, where a fall does not hurt)
    liq = loss_side_liquidation_price(after, pf.position, model)
    if liq is not None:
        buffer = limits.stop_buffer_pct / 100 * entry
        never_fires = req.stop - liq < buffer if req.side is Side.LONG else liq - req.stop < buffer
        if never_fires:
            raise SizingError(
                f"stop {req.stop:g} is beyond the post-trade liquidation price {liq:.6g} "
                f"(buffer {limits.stop_buffer_pct:g}%): the stop would never fire; "
                "use a closer stop, less risk or lower leverage"
            )
    if binding != "risk":
        warnings.append(f"size cut from {raw:.6g} to {quantity:g} by {binding}")
    if projection.margin_ratio >= 0.5:
        warnings.append(f"margin ratio after the trade would be {projection.margin_ratio:.1%}")

    closes = 0.0
    if opposite is not None:
        closes = opposite.size
        realized = opposite.pnl_at(entry) + 0.0  # never "-0.00"
        warnings.append(
            f"one-way mode: this order first closes your {opposite.side.value} {closes:g} "
            f"(realizing {realized:+,.2f}), then opens {req.side.value} {quantity:g}: "
            f"send {closes + quantity:g} in all"
        )
    notional = quantity * entry
    tier = tier_for(tiers, notional, req.symbol)
    if leverage > tier.max_leverage:
        warnings.append(f"{leverage:g}x exceeds the {tier.max_leverage:g}x allowed at this notional")
    im = model.initial_margin(new, tiers, snapshot.fees)
    return SizingResult(
        symbol=req.symbol,
        side=req.side,
        entry=entry,
        stop=req.stop,
        leverage=leverage,
        risk_budget=budget,
        quantity=quantity + closes,
        notional=notional,
        risk_at_stop=quantity * loss_per_unit(entry, req.stop, fee, slippage),
        initial_margin=im,
        binding_constraint=binding,
        caps={name: cap for name, (cap, _) in caps.items()},
        projected=projection,
        warnings=tuple(warnings),
        closes_opposite=closes,
    )
