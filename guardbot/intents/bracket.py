"""Sending a checked plan as one bracket through the account's gateway.

1. the entry: market, or a limit at the intent's entry price;
2. with it, the reduce-only stop for the whole new position, on the mark price (also when the
   entry's fate is unknown: a reduce-only stop can never open a position, a missing one can lose
   the account);
3. the take-profits, reduce-only, each its share of the new position.

If the entry went out but its stop could not be placed, the entry is undone at once (a resting
limit cancelled, a filled one closed reduce-only): a position never waits for a guard cycle to get
its stop. Every order goes through the gateway: dry-run gate, precision rounded down, our client
order ids (account, rule, symbol, episode, tag), a journal row before each request.
"""

from __future__ import annotations

from dataclasses import dataclass

from guardbot.domain import Order
from guardbot.exchange.gateway import ActionResult, OrderGateway
from guardbot.execution import describe_action
from guardbot.intents.checks import Plan


@dataclass(frozen=True, slots=True)
class BracketResult:
    entry: ActionResult
    stop: ActionResult | None  # None: the entry surely did not go out, so no stop either
    take_profits: tuple[ActionResult, ...] = ()
    unwind: ActionResult | None = None  # the cancel or close sent because the stop failed

    @property
    def protected(self) -> bool:
        return self.stop is not None and self.stop.status in ("sent", "confirmed", "dry_run", "unknown")

    @property
    def resting(self) -> bool:
        """A limit entry waiting on the book (with its stop)."""
        return self.entry.price is not None and self.entry.order_state == "open"

    def actions(self) -> list[ActionResult]:
        out = [self.entry]
        if self.stop is not None:
            out.append(self.stop)
        out += self.take_profits
        if self.unwind is not None:
            out.append(self.unwind)
        return out

    def lines(self) -> list[str]:
        return [describe_action(a) for a in self.actions()]


async def place_bracket(gateway: OrderGateway, plan: Plan, *, rule: str, episode: str) -> BracketResult:
    r = plan.sizing
    cs = plan.market.contract_size or 1.0
    entry, stop = await gateway.place_entry(
        plan.symbol,
        r.side,
        r.quantity / cs,
        stop_price=r.stop,
        rule=rule,
        episode=episode,
        price=plan.limit,
        mark_price=plan.mark,
        stop_amount=r.opens / cs,
    )
    if entry.status == "unknown" and stop is None:
        # the entry may be on the exchange: its stop goes out now all the same (reduce-only)
        stop = await gateway.place_stop(
            plan.symbol,
            r.side,
            r.opens / cs,
            r.stop,
            rule=rule,
            episode=episode,
            mark_price=plan.mark,
            tag="stop",
        )
    if not (entry.ok or entry.status == "unknown"):
        return BracketResult(entry, stop)
    if stop is None or stop.status in ("rejected", "failed"):
        return BracketResult(entry, stop, (), await _unwind(gateway, plan, entry, rule, episode))
    tps = []
    for i, tp in enumerate(plan.take_profits, 1):
        tps.append(
            await gateway.place_take_profit(
                plan.symbol,
                r.side,
                tp.quantity / cs,
                tp.price,
                rule=rule,
                episode=episode,
                mark_price=plan.mark,
                tag=f"tp{i}",
            )
        )
    return BracketResult(entry, stop, tuple(tps))


async def _unwind(
    gateway: OrderGateway, plan: Plan, entry: ActionResult, rule: str, episode: str
) -> ActionResult:
    """The stop could not be placed: take the entry back rather than leave it unprotected."""
    r = plan.sizing
    if entry.price is not None and entry.order_state == "open" and entry.exchange_order_id:
        order = Order(
            plan.symbol,
            entry.side or "",
            "limit",
            entry.amount,
            id=entry.exchange_order_id,
            client_order_id=entry.client_order_id,
            price=entry.price,
        )
        return await gateway.cancel(order, rule=rule)
    cs = plan.market.contract_size or 1.0
    return await gateway.reduce(plan.symbol, r.side, r.opens / cs, rule=rule, episode=episode, tag="unwind")
