"""What every rule's end-to-end test checks: the rule's actions confirmed in the journal, and cuts
sent as reduce-only market sells on the lot step."""

from __future__ import annotations

from venue_spec import Sent

from guardbot.exchange.ids import is_ours
from guardbot.sim import default_markets

from .conftest import GuardRig, is_multiple

STEP = {s: default_markets()[s].step for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT")}  # lot steps


def assert_confirmed(rig: GuardRig, rule: str, kinds: set[str]) -> None:
    """Every action of `rule` went through and is journaled as confirmed, with its decision."""
    acts = [a for a in rig.actions() if a.rule == rule]
    assert acts, f"no {rule} action journaled"
    assert {a.kind.value for a in acts} == kinds
    for a in acts:
        assert a.status.value == "confirmed", (a.client_order_id, a.status, a.reply)
        assert a.exchange_order_id and not a.dry_run
        assert a.decision_id is not None
    decided = {d.id for d in rig.decisions(rule)}
    assert {a.decision_id for a in acts} <= decided


def assert_reduce_only_sells(sent: list[Sent]) -> None:
    for s in sent:
        assert (s.type, s.side, s.reduce_only) == ("MARKET", "SELL", True), s
        assert s.qty is not None and is_multiple(s.qty, STEP[s.symbol]), s
        assert is_ours(s.client_id), s.client_id
