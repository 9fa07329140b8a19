"""Accounts are spread over the interval, each at a stable slot (not one burst every interval)."""

from __future__ import annotations

import itertools

from guardbot.daemon import SPREAD_WINDOW_S, spread_offset


def test_each_account_keeps_its_slot_across_restarts() -> None:
    assert spread_offset("binance-main", 10.0) == spread_offset("binance-main", 10.0)
    assert spread_offset("binance-main", 10.0) != spread_offset("binance-sub1", 10.0)


def test_two_hundred_accounts_are_spread_over_the_window() -> None:
    offsets = sorted(spread_offset(f"acct-{i}", SPREAD_WINDOW_S) for i in range(200))
    assert all(0 <= o < SPREAD_WINDOW_S for o in offsets)
    # no burst: at most 1/5 of the accounts in any tenth of the window (uniform would be 1/10)
    for k in range(10):
        lo, hi = k * SPREAD_WINDOW_S / 10, (k + 1) * SPREAD_WINDOW_S / 10
        assert sum(lo <= o < hi for o in offsets) <= 40
    assert max(b - a for a, b in itertools.pairwise(offsets)) < SPREAD_WINDOW_S / 10
