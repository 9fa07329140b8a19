from guardbot.domain import AccountSnapshot, Side
from guardbot.risk.sizing import SizingLimits, SizingRequest, size_trade
from strategies.example_breakout import breakout


def test_breakout_intent_is_sized_by_guardbot() -> None:
    closes = [100.0] * 20 + [104.0]
    intent = breakout("SOL/USDT:USDT", closes)
    assert intent is not None and intent.side is Side.LONG
    assert intent.stop < intent.entry  # type: ignore[operator]
    assert breakout("SOL/USDT:USDT", [100.0] * 21) is None  # no break, no intent

    from pathlib import Path

    from guardbot.snapshot_file import load_snapshot

    snap: AccountSnapshot = load_snapshot(Path(__file__).parents[2] / "guardbot/examples/alt-book.json")
    req = SizingRequest("SOL/USDT:USDT", intent.side, stop=intent.stop, entry=intent.entry, risk_amount=100)
    result = size_trade(snap, req, SizingLimits(max_leverage=20))
    assert result.risk_at_stop <= 100
