"""What must hold after any chaos run, checked from the exchange's side and from the journal."""

from __future__ import annotations

from collections import Counter

from harness import MAX_SNAPSHOT_AGE_S, World

from guardbot.store import JournalReader
from guardbot.store.rows import ActionStatus, AlertRow

ORDER, ALGO = "/fapi/v1/order", "/fapi/v1/algoOrder"
_STATES = {
    "NEW": "open",
    "FILLED": "filled",
    "FINISHED": "filled",
    "CANCELED": "canceled",
    "EXPIRED": "expired",
}


def violations(world: World) -> list[str]:
    """Every broken invariant, one line each (empty: the run is clean)."""
    out: list[str] = []
    out += _no_duplicate_live_ids(world)
    out += _guard_orders_only_reduce(world)
    out += _every_position_protected(world)
    out += _journal_matches_the_exchange(world)
    out += _blind_alerts_in_time(world)
    out += _clean_exits(world)
    return out


def _no_duplicate_live_ids(world: World) -> list[str]:
    a = world.acct
    live = [o.client_order_id for o in a.open_orders()] + [o.client_algo_id for o in a.open_algo_orders()]
    return [f"two live orders carry client id {c}" for c, n in Counter(live).items() if c and n > 1]


def _guard_orders_only_reduce(world: World) -> list[str]:
    out = []
    for r in world.emu.server.request_log:
        if r.method != "POST" or r.path not in (ORDER, ALGO):
            continue
        p = r.params
        cid = p.get("newClientOrderId") or p.get("clientAlgoId") or ""
        if not cid.startswith("gb-"):
            continue
        exit_leg = (p.get("positionSide"), p.get("side")) in (("LONG", "SELL"), ("SHORT", "BUY"))
        if not (p.get("reduceOnly") == "true" or p.get("closePosition") == "true" or exit_leg):
            out.append(f"guard order {cid} could add exposure: {p}")
    return out


def _every_position_protected(world: World) -> list[str]:
    out = []
    a = world.acct
    stops = [o for o in a.open_algo_orders() if o.order_type in ("STOP_MARKET", "STOP") and o.closing]
    for (symbol, pside), pos in a.positions.items():
        exit_side = "SELL" if pos.amount > 0 else "BUY"
        mine = [
            o
            for o in stops
            if o.symbol == symbol
            and o.side == exit_side
            and o.position_side == pside
            and (o.close_position or o.quantity >= pos.qty - 1e-12)
        ]
        if not mine:
            out.append(f"{symbol} {pside} {pos.amount} has no stop covering it once settled")
    return out


def _journal_matches_the_exchange(world: World) -> list[str]:
    out = []
    a = world.acct
    plain = {str(o.order_id): o for o in a.orders.values()}
    algos = {str(o.algo_id): o for o in a.algo_orders.values()}
    with JournalReader(world.db) as r:
        rows = r.actions_for("main", 0)
        still_open = r.pending_actions("main")
    out += [f"action {x.client_order_id} still {x.status} after two clean cycles" for x in still_open]
    journaled = {x.client_order_id for x in rows}
    for x in rows:
        if (
            x.status is not ActionStatus.CONFIRMED
            or x.kind.value not in ("stop", "reduce", "close")
            or x.dry_run
        ):
            continue
        order = (
            algos.get(x.exchange_order_id or "")
            if x.kind.value == "stop"
            else plain.get(x.exchange_order_id or "")
        )
        if order is None:
            out.append(
                f"confirmed {x.kind} {x.client_order_id}: order {x.exchange_order_id} unknown to the exchange"
            )
            continue
        cid = order.client_algo_id if x.kind.value == "stop" else order.client_order_id
        qty = order.quantity if x.kind.value == "stop" else order.orig_qty
        trigger = order.trigger_price if x.kind.value == "stop" else None
        if cid != x.client_order_id or (x.quantity is not None and qty and abs(qty - x.quantity) > 1e-9):
            out.append(
                f"row {x.client_order_id} ({x.quantity}) is not order {x.exchange_order_id} ({cid}, {qty})"
            )
        if x.kind.value == "stop" and trigger != x.trigger_price:
            out.append(f"row {x.client_order_id} trigger {x.trigger_price} != the exchange's {trigger}")
        state = _STATES.get(order.status)
        if x.order_state is not None and state is not None and x.order_state.value != state:
            out.append(f"row {x.client_order_id} says {x.order_state.value}, the exchange {order.status}")
    # nothing the guard sent is missing from the journal (no row lost across restarts)
    sent = {o.client_algo_id for o in a.algo_orders.values()} | {
        o.client_order_id
        for o in a.orders.values()
        if o.client_order_id not in {g.client_algo_id for g in a.algo_orders.values()}
    }
    out += [
        f"order {c} on the exchange has no journal row"
        for c in sorted(sent)
        if c.startswith("gb-") and c not in journaled
    ]
    return out


def _blind_alerts_in_time(world: World) -> list[str]:
    out = []
    with JournalReader(world.db) as r:
        rows = [h.row for h in r.history(0, account="main", kinds=["alert"])]
    alerts = [a for a in rows if isinstance(a, AlertRow) and a.key.startswith("blind")]
    for start, end in world.outages:
        if end - start < MAX_SNAPSHOT_AGE_S + 3:
            continue  # too short to owe an alert
        bound = (start + MAX_SNAPSHOT_AGE_S + 5) * 1000
        if not any(start * 1000 <= a.ts <= bound for a in alerts):
            out.append(
                f"outage at {start:.1f} ({end - start:.1f}s): no blind alert in {MAX_SNAPSHOT_AGE_S + 5:g}s"
            )
    return out


def _clean_exits(world: World) -> list[str]:
    out = []
    for how, code, tail in world.daemon.exits:
        if how.startswith("term") and code != 0:
            out.append(f"SIGTERM exit code {code}: {tail[-300:]}")
        if how.startswith("term") and "Traceback" in tail:
            out.append(f"a traceback on SIGTERM: {tail[-500:]}")
    return out
