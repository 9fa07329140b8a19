"""One message per event (guardbot/messages.py): a halt is one message, not three; a cycle's clears
are one line; the orders a rule sent come under the alert that says why."""

from __future__ import annotations

from test_guard_support import BTC, ETH, MIN, T0, book, cycles, pos, protect, quiet

from guardbot.domain import Side
from guardbot.exchange.gateway import ActionResult
from guardbot.guard import Decision
from guardbot.messages import compose

LIM = quiet(drawdown_halt_pct=10, drawdown_reduce_pct=15, drawdown_flatten_pct=20)


def _filled(d: Decision) -> ActionResult:
    return ActionResult(
        "reduce",
        "main",
        d.symbol or "",
        d.order_side,
        d.quantity,
        None,
        None,
        "gb-x",
        "confirmed",
        exchange_order_id="1",
        order_state="filled",
    )


def test_a_drawdown_halt_with_its_cuts_is_one_message() -> None:
    b, e = pos(BTC, Side.LONG, 1, 50_000), pos(ETH, Side.LONG, 10, 3_000)
    _, st = cycles(book(10_000, b, e, orders=[protect(b), protect(e)]), 2, LIM)
    lower = book(10_000, b.at_mark(48_400), e, orders=[protect(b), protect(e)])  # -1,600: 16 %
    out, _ = cycles(lower, 2, LIM, state=st, start=T0 + MIN)
    decisions = out[-1]
    results = [[_filled(d)] if d.kind == "reduce" else [] for d in decisions]
    [message] = compose(decisions, results)
    lines = message.text.splitlines()
    assert message.level == "critical"
    assert lines[0].startswith("ACTIVE → HALTED: drawdown 16.0% ≥ reduce 15%")
    assert "entry orders cancelled" not in lines[0]  # there were none
    assert sum(line.startswith("  → reduce-only market sell") for line in lines) == 2
    assert all("[filled]" in line for line in lines if line.startswith("  →"))


def test_clears_of_one_cycle_are_one_line() -> None:
    clears = [
        Decision(
            "stop",
            "alert",
            "main",
            "cleared (on): no longer present",
            f"e{i}",
            symbol=f"S{i}",
            details={"transition": "clear"},
        )
        for i in range(13)
    ]
    clears.append(
        Decision(
            "leverage",
            "alert",
            "main",
            "cleared (warn): effective leverage 3.10x",
            "l",
            details={"transition": "clear"},
        )
    )
    [message] = compose(clears, [[] for _ in clears])
    assert (
        message.text
        == "cleared: effective leverage 3.10x (was warn); 13 condition(s) ended with their positions"
    )
    assert message.level == "info"
