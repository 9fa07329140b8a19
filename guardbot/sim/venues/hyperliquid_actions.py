"""Hyperliquid /exchange actions on the engine: order (limit, Ioc "market", trigger with tpsl and
isMarket), cancel, cancelByCloid, updateLeverage, updateIsolatedMargin, approveBuilderFee,
setReferrer; and the order look-ups of /info (orderStatus, historicalOrders).

- A "market" order is what Hyperliquid has: an Ioc limit order whose price caps the slippage; it
  fills at the mark (± the engine's slippage) if its price allows, else it is refused.
- A trigger order waits for the *mark* to cross `triggerPx` ("TP/SL are triggered by mark
  price"); `tpsl` "sl" is a stop, "tp" a take-profit, `isMarket` executes it at market.
- Orders refused inside a batch answer `{"error": msg}` in `statuses`, with Hyperliquid's messages
  (ccxt maps them by text), "... asset=N" appended as Hyperliquid does.
- `cloid` is 0x + 32 hex digits; the emulator treats one as naming one order of the account for
  good (Hyperliquid's order status query by cloid answers one order; the docs do not say a cloid
  may be used again).
- `builder` {b, f} on an order must be approved by the user for at least f (tenths of a basis
  point), as "Builder codes" documents; approvals are kept per account.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from guardbot.domain import MarginMode
from guardbot.sim.book import OrderRequest, SimAccount, SimAlgoOrder, SimOrder
from guardbot.sim.engine import Rejection, SimError, SimExchange
from guardbot.sim.venues import hyperliquid_json as hj
from guardbot.sim.venues.fmt import fmt

CLOID = re.compile(r"^0x[0-9a-fA-F]{32}$")
TIF = {"Gtc": "GTC", "Ioc": "IOC", "Alo": "GTX", "FrontendMarket": "IOC"}
OK_DEFAULT = {"status": "ok", "response": {"type": "default"}}
NOT_FOUND = "Order was never placed, already canceled, or filled."


class HlError(Exception):
    """A refusal as Hyperliquid writes it: `{"status": "err", "response": msg}` with HTTP 200, or a
    body Hyperliquid could not read (HTTP 422, plain text)."""

    def __init__(self, msg: str, status: int = 200) -> None:
        self.msg, self.status = msg, status
        super().__init__(msg)


def message_of(exc: SimError, asset: int | None = None) -> str:
    at = f" asset={asset}" if asset is not None else ""
    f: dict[str, Any] = exc.facts
    match exc.kind:
        case Rejection.INSUFFICIENT_MARGIN | Rejection.ABOVE_LEVERAGE_CAP:
            return f"Insufficient margin to place order.{at}"
        case Rejection.REDUCE_ONLY_REJECTED:
            return f"Reduce only order would increase position.{at}"
        case Rejection.BELOW_MIN_NOTIONAL:
            return f"Order must have minimum value of $10.{at}"
        case Rejection.PRICE_NOT_ON_TICK | Rejection.PRICE_PRECISION:
            return f"Price must be divisible by tick size.{at}"
        case Rejection.QTY_NOT_POSITIVE:
            return f"Order has zero size.{at}"
        case Rejection.QTY_PRECISION | Rejection.QTY_BELOW_MIN | Rejection.QTY_ABOVE_MAX:
            return f"Order has invalid size.{at}"
        case Rejection.WOULD_TRIGGER_IMMEDIATELY:
            return f"Invalid TP/SL price.{at}"
        case Rejection.POST_ONLY_WOULD_TAKE:
            return f"Post only order would have immediately matched, bbo was {f.get('bbo', '')}.{at}"
        case Rejection.DUPLICATE_CLIENT_ID:
            return f"Duplicate cloid {f.get('client_id', '')}.{at}"
        case Rejection.UNKNOWN_ORDER | Rejection.ORDER_NOT_OPEN:
            return f"{NOT_FOUND}{at}"
        case Rejection.INVALID_LEVERAGE:
            return f"Invalid leverage value: {f.get('leverage')} is above the asset's max leverage"
        case Rejection.MARGIN_MODE_POSITION_OPEN:
            return "Cannot switch leverage type with open position."
        case Rejection.MARGIN_MODE_ORDERS_OPEN:
            return "Cannot switch leverage type with open orders."
        case Rejection.NO_ISOLATED_POSITION:
            return "Cannot update margin for a position that is not isolated."
        case Rejection.UNKNOWN_SYMBOL:
            return f"Invalid asset.{at}"
    return f"{exc.kind.value}{at}"


class Actions:
    def __init__(self, engine: SimExchange) -> None:
        self.engine = engine
        self.limit_px: dict[int, float] = {}  # a market trigger order's price (its slippage cap)
        self.builders: dict[tuple[str, str], int] = {}  # (account, builder) -> max fee, 0.1 bp
        self.referrers: dict[str, str] = {}

    # ---- names ----

    def symbol_of(self, asset: Any) -> str:
        ids = list(self.engine.markets)
        if isinstance(asset, bool) or not isinstance(asset, int) or not 0 <= asset < len(ids):
            raise SimError(Rejection.UNKNOWN_SYMBOL)
        return ids[asset]

    def asset_of(self, symbol: str) -> int:
        return list(self.engine.markets).index(symbol)

    def engine_id(self, coin: str) -> str:
        for sym, m in self.engine.markets.items():
            if m.base == coin:
                return sym
        raise HlError(f"Failed to deserialize the JSON body into the target type: unknown coin {coin}", 422)

    def row(self, o: SimOrder | SimAlgoOrder) -> dict[str, Any]:
        px = self.limit_px.get(o.algo_id) if isinstance(o, SimAlgoOrder) else None
        return hj.order_row(self.engine, o, px)

    # ---- look-ups ----

    def historical(self, o: SimOrder | SimAlgoOrder) -> dict[str, Any]:
        status = hj.order_status(self.engine, o)
        return {"order": self.row(o), "status": status, "statusTimestamp": o.update_ms}

    def status_of(self, acct: SimAccount, oid: Any) -> dict[str, Any]:
        for o in self.engine.all_orders(acct.api_key):
            own = o.algo_id if isinstance(o, SimAlgoOrder) else o.order_id
            cid = o.client_algo_id if isinstance(o, SimAlgoOrder) else o.client_order_id
            if (isinstance(oid, int) and oid == own) or (isinstance(oid, str) and oid.lower() == cid.lower()):
                return {"status": "order", "order": self.historical(o)}
        return {"status": "unknownOid"}

    # ---- actions ----

    def run(self, acct: SimAccount, action: Mapping[str, Any]) -> Any:
        kind = action.get("type")
        if kind == "order":
            return self._orders(acct, action)
        if kind in ("cancel", "cancelByCloid"):
            return self._cancels(acct, action)
        if kind == "updateLeverage":
            sym = self.symbol_of(action.get("asset"))
            mode = MarginMode.CROSS if action.get("isCross") else MarginMode.ISOLATED
            if self.engine.margin_type_of(acct, sym) is not mode:
                self.engine.set_margin_type(acct.api_key, sym, mode)
            self.engine.set_leverage(acct.api_key, sym, int(action.get("leverage") or 0))
            return OK_DEFAULT
        if kind == "updateIsolatedMargin":
            sym = self.symbol_of(action.get("asset"))
            amount = int(action.get("ntli") or 0) / 1e6
            self.engine.modify_isolated_margin(acct.api_key, sym, abs(amount), amount > 0)
            return OK_DEFAULT
        if kind == "approveBuilderFee":
            rate = str(action.get("maxFeeRate") or "").rstrip("%")
            try:
                tenths = round(float(rate) / 100 * 100_000)
            except ValueError:
                raise HlError("Invalid max fee rate") from None
            self.builders[(acct.api_key, str(action.get("builder")).lower())] = tenths
            return OK_DEFAULT
        if kind == "setReferrer":
            self.referrers[acct.api_key] = str(action.get("code"))
            return OK_DEFAULT
        raise HlError(f"Action type {kind} is not served by the emulator")

    def _orders(self, acct: SimAccount, action: Mapping[str, Any]) -> Any:
        if action.get("grouping", "na") != "na":
            raise HlError("Only grouping 'na' is served by the emulator")
        builder = action.get("builder")
        if builder is not None:
            approved = self.builders.get((acct.api_key, str(builder.get("b")).lower()))
            if approved is None or int(builder.get("f") or 0) > approved:
                raise HlError("Builder fee has not been approved.")
        statuses: list[Any] = []
        for o in action.get("orders") or []:
            asset = o.get("a") if isinstance(o, Mapping) else None
            try:
                statuses.append(self._order(acct, o))
            except SimError as e:
                statuses.append({"error": message_of(e, asset if isinstance(asset, int) else None)})
            except HlError as e:
                statuses.append({"error": e.msg})
        return {"status": "ok", "response": {"type": "order", "data": {"statuses": statuses}}}

    def _order(self, acct: SimAccount, o: Mapping[str, Any]) -> dict[str, Any]:
        asset = o.get("a")
        sym = self.symbol_of(asset)
        try:
            px, sz = float(o["p"]), float(o["s"])
            kind = o["t"]
        except (KeyError, TypeError, ValueError):
            raise HlError("Failed to deserialize the JSON body into the target type") from None
        cloid = o.get("c")
        if cloid is not None and not (isinstance(cloid, str) and CLOID.match(cloid)):
            raise HlError(f"Invalid cloid {cloid}: expected 0x and 32 hex digits")
        side = "BUY" if o.get("b") else "SELL"
        reduce_only = bool(o.get("r"))
        market = self.engine.market(sym)
        self.engine._check_price(market, px)  # every order's price, a trigger's slippage cap too
        ids: dict[str, Any] = {"cloid": cloid} if cloid else {}
        if "trigger" in kind:
            trig = kind["trigger"]
            is_market = bool(trig.get("isMarket"))
            base = "STOP" if trig.get("tpsl") == "sl" else "TAKE_PROFIT"
            request = OrderRequest(
                sym,
                side,
                base + ("_MARKET" if is_market else ""),
                quantity=sz,
                price=None if is_market else px,
                trigger_price=float(trig.get("triggerPx")),
                reduce_only=reduce_only,
                client_id=cloid,
                working_type="MARK_PRICE",
            )
            algo = self.engine.place_algo_order(acct.api_key, request)
            self.limit_px[algo.algo_id] = px
            return {"resting": {"oid": algo.algo_id, **ids}}
        tif = TIF.get(str((kind.get("limit") or {}).get("tif")))
        if tif is None:
            raise HlError("Failed to deserialize the JSON body into the target type: tif")
        mark = self.engine.marks[sym]
        if abs(px - mark) > 0.8 * mark:
            raise HlError(f"Order price cannot be more than 80% away from the reference price asset={asset}")
        request = OrderRequest(
            sym, side, "LIMIT", sz, px, reduce_only=reduce_only, time_in_force=tif, client_id=cloid
        )
        try:
            order = self.engine.place_order(acct.api_key, request)
        except SimError as e:
            if e.kind is Rejection.POST_ONLY_WOULD_TAKE:
                e.facts["bbo"] = f"({hj.dec(mark)}, {hj.dec(mark)})"
            raise
        if order.status == "FILLED":
            done, avg = fmt(order.executed_qty), hj.dec(order.avg_price)
            filled = {"totalSz": done, "avgPx": avg, "oid": order.order_id}
            return {"filled": {**filled, **ids}}
        if order.status == "EXPIRED":
            return {"error": f"Order could not immediately match against any resting orders. asset={asset}"}
        return {"resting": {"oid": order.order_id, **ids}}

    def _cancels(self, acct: SimAccount, action: Mapping[str, Any]) -> Any:
        statuses: list[Any] = []
        by_cloid = action.get("type") == "cancelByCloid"
        for c in action.get("cancels") or []:
            asset = c.get("asset") if by_cloid else c.get("a")
            try:
                sym = self.symbol_of(asset)
                if by_cloid:
                    self.engine.cancel_any(acct.api_key, sym, None, str(c.get("cloid")))
                else:
                    self.engine.cancel_any(acct.api_key, sym, int(c.get("o")), None)
                statuses.append("success")
            except SimError as e:
                statuses.append({"error": message_of(e, asset if isinstance(asset, int) else None)})
        return {"status": "ok", "response": {"type": "cancel", "data": {"statuses": statuses}}}
