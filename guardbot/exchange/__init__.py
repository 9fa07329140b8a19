"""Exchange adapter: ccxt client factory, snapshot reader, order gateway (the dry-run gate)."""

from guardbot.exchange.cache import TiersCache
from guardbot.exchange.client import build_client, make_client
from guardbot.exchange.errors import ExchangeSetupError, SnapshotError
from guardbot.exchange.gateway import ActionResult, OrderGateway, RetryPolicy
from guardbot.exchange.ids import client_order_id, is_ours
from guardbot.exchange.reader import fetch_snapshot_for, read_snapshot

__all__ = [
    "ActionResult",
    "ExchangeSetupError",
    "OrderGateway",
    "RetryPolicy",
    "SnapshotError",
    "TiersCache",
    "build_client",
    "client_order_id",
    "fetch_snapshot_for",
    "is_ours",
    "make_client",
    "read_snapshot",
]
