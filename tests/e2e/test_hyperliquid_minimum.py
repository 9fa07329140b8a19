"""Hyperliquid's $10 minimum order value, reduce-only orders included, end to end: the guard's cut
that restores the margin ratio would be worth about $6; the guard sends one worth more than $10
(valued at the price the order carries, as the venue values it), the emulator fills it, nothing is
rejected, and the account's margin ratio on the emulator's books improves."""

from __future__ import annotations

import pytest

from guardbot.sim import SimExchange

from .conftest import GuardRig, RigFactory, limits

pytestmark = pytest.mark.parametrize("exchange", ["hyperliquid"], indirect=True)

XRP_QTY = 1_000.0  # $2,200 of XRP at the mark 2.2: maintenance 2.5 %, $55
MARGIN = {
    "margin_ratio_warn": 0.5,
    "margin_ratio_reduce": 0.75,
    "margin_ratio_flatten": 0.9,
    "margin_ratio_target": 0.749,
}


def _ratio(engine: SimExchange, key: str) -> float:
    return engine.account_figures(key).margin_ratio


def _xrp_long_at_ratio(rig: GuardRig, ratio: float) -> None:
    """One XRP long bought higher, its entry chosen so the account's margin ratio is `ratio`."""
    lo, hi = 2.2, 3.2
    for _ in range(50):  # on a scratch exchange of the same venue
        mid = (lo + hi) / 2
        scratch = SimExchange(exchange=rig.engine.exchange)
        key = scratch.create_account(rig.acct.wallet).api_key
        scratch.open_position(key, "XRPUSDT", "long", XRP_QTY, leverage=20, entry_price=mid)
        if _ratio(scratch, key) < ratio:
            lo = mid
        else:
            hi = mid
    rig.engine.open_position(rig.acct.api_key, "XRPUSDT", "long", XRP_QTY, leverage=20, entry_price=lo)


async def test_a_cut_worth_less_than_ten_dollars_is_sized_up_to_the_minimum_and_filled(
    make_rig: RigFactory,
) -> None:
    rig = make_rig(limits(**MARGIN), wallet=1_000.0)
    _xrp_long_at_ratio(rig, 0.751)
    before = _ratio(rig.engine, rig.acct.api_key)
    assert 0.75 < before < 0.752
    # the smallest cut that reaches 0.749 is 2.7 XRP: $5.94 at the mark, below the minimum
    await rig.start()
    await rig.cycles(3)

    (sent,) = rig.orders_sent()
    price = float(sent.raw["action"]["orders"][0]["p"])  # the Ioc limit: the mark less 5 %
    assert sent.side == "SELL" and sent.reduce_only and sent.qty is not None
    assert sent.qty * price >= 10.0  # what the venue checks
    assert sent.qty * 2.2 < 12.0  # sized to the minimum, not far past it
    actions = [a for a in rig.actions() if a.rule == "margin_ratio"]
    assert [(a.kind.value, a.status.value) for a in actions] == [("reduce", "confirmed")]
    assert rig.qty("XRPUSDT") == pytest.approx(XRP_QTY - sent.qty)
    after = _ratio(rig.engine, rig.acct.api_key)
    assert after <= 0.749 < before
