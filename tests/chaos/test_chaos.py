"""Chaos: random books, prices, a trader's own moves, faults of every kind, SIGKILL and SIGTERM at
random points — against `guardbot run` as a process and the emulator — and then the invariants.

`make test` runs a short budget; `make chaos` a long one (CHAOS_EXAMPLES, CHAOS_STEPS), and with
CHAOS_REPORT=path it writes what was done (runs, faults by kind, kills, violations) as JSON.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from harness import World, settle, trader, wait_cycles
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule
from invariants import violations

EXAMPLES = int(os.environ.get("CHAOS_EXAMPLES", "2"))
STEPS = int(os.environ.get("CHAOS_STEPS", "6"))
REPORT = os.environ.get("CHAOS_REPORT")
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
PATHS = (None, "/fapi/v1/order", "/fapi/v1/algoOrder", "/fapi/v3/positionRisk", "/fapi/v3/account")
KINDS = ("timeout", "timeout_after", "drop", "drop_after", "429", "5xx", "latency", "binance")
TOTALS: Counter[str] = Counter()


class Chaos(RuleBasedStateMachine):
    world: World

    @initialize(
        hedge=st.booleans(),
        book=st.lists(
            st.tuples(st.sampled_from(SYMBOLS), st.booleans(), st.integers(2_000, 30_000)),
            min_size=1,
            max_size=4,
        ),
    )
    def start(self, hedge: bool, book: list[tuple[str, bool, int]]) -> None:
        self.world = World.make(Path(tempfile.mkdtemp(prefix="chaos-")), hedge)
        for symbol, long, notional in book:  # a book before the guard starts (one-way: nets)
            self._open(symbol, long, notional)
        self.world.daemon.start()
        TOTALS["runs"] += 1
        TOTALS["hedge runs" if hedge else "one-way runs"] += 1

    def _open(self, symbol: str, long: bool, notional: int) -> None:
        emu = self.world.emu
        mark = emu.server.engine.marks[symbol]
        step = emu.server.engine.markets[symbol].step
        qty = round(max(step, round(notional / mark / step) * step), 6)
        made = emu.ctl(
            "POST",
            "positions",
            {
                "api_key": self.world.acct.api_key,
                "symbol": symbol,
                "side": "long" if long else "short",
                "qty": qty,
                "leverage": 10,
            },
        )
        TOTALS["positions opened" if "error" not in made else "positions refused"] += 1

    def _let_it_run(self, cycles: int = 2) -> None:
        if self.world.daemon.running:
            wait_cycles(self.world.db, cycles, timeout=8)

    @rule(symbol=st.sampled_from(SYMBOLS), long=st.booleans(), notional=st.integers(2_000, 30_000))
    def open_position(self, symbol: str, long: bool, notional: int) -> None:
        self._open(symbol, long, notional)
        self._let_it_run()

    @rule(symbol=st.sampled_from(SYMBOLS), pct=st.floats(-12, 12))
    def move(self, symbol: str, pct: float) -> None:
        self.world.emu.ctl("POST", "shock", {"symbol": symbol, "pct": pct, "beta_follow": 1.0})
        TOTALS["price moves"] += 1
        self._let_it_run()

    @rule()
    def trader_cancels_a_guard_stop(self) -> None:
        ex = trader(self.world.emu.base_url, self.world.acct)
        try:
            ours = [
                o
                for o in ex.fetch_open_orders(None, None, None, {"trigger": True})
                if str(o.get("clientOrderId") or "").startswith("gb-")
            ]
            if ours:
                ex.cancel_order(ours[0]["id"], ours[0]["symbol"], {"trigger": True})
                TOTALS["trader cancels"] += 1
        except Exception:  # a fault meant for the guard may hit the trader too: the world goes on
            pass
        self._let_it_run()

    @rule(amount=st.integers(100, 3_000), out=st.booleans(), recorded=st.booleans())
    def cash(self, amount: int, out: bool, recorded: bool) -> None:
        self.world.emu.ctl(
            "POST",
            "withdraw" if out else "deposit",
            {"api_key": self.world.acct.api_key, "amount": amount, "record": recorded},
        )
        TOTALS["withdrawals" if out else "deposits"] += 1
        self._let_it_run()

    @rule(kind=st.sampled_from(KINDS), path=st.sampled_from(PATHS), count=st.integers(1, 4))
    def fault(self, kind: str, path: str | None, count: int) -> None:
        body: dict[str, object] = {"kind": kind, "count": count}
        if path:
            body["path"] = path
        if kind == "binance":
            body["code"] = -1001
        if kind == "latency":
            body["seconds"] = 0.5
        self.world.emu.ctl("POST", "faults", body)
        TOTALS[f"fault {kind}"] += count
        self._let_it_run(3)

    @rule(seconds=st.floats(0.5, 5.0))
    def outage(self, seconds: float) -> None:
        start = time.time()
        self.world.emu.ctl("POST", "faults", {"kind": "5xx", "count": 100_000})
        time.sleep(seconds)
        self.world.emu.ctl("DELETE", "faults")
        self.world.outages.append((start, time.time()))
        TOTALS["outages"] += 1

    @rule(how=st.sampled_from(["term", "kill"]), early=st.booleans())
    def restart(self, how: str, early: bool) -> None:
        d = self.world.daemon
        if not d.running:
            d.start()
        if early:
            time.sleep(0.3)  # during start-up
        d.stop(how)
        TOTALS[f"SIG{how.upper()}{' at start-up' if early else ''}"] += 1
        d.start()
        self._let_it_run()

    def teardown(self) -> None:
        world = getattr(self, "world", None)
        if world is None:
            return
        try:
            settle(world)
            world.daemon.stop("term")
            found = violations(world)
        finally:
            if world.daemon.running:
                world.daemon.stop("kill")
            world.emu.stop()
        TOTALS["violations"] += len(found)
        TOTALS["positions at the end"] += len(world.acct.positions)
        TOTALS["liquidations"] += len(world.emu.server.engine.liquidations)
        TOTALS["guard orders sent"] += sum(
            1
            for r in world.emu.server.request_log
            if r.method == "POST"
            and str(r.params.get("newClientOrderId") or r.params.get("clientAlgoId") or "").startswith("gb-")
        )
        if REPORT:
            Path(REPORT).write_text(json.dumps(dict(sorted(TOTALS.items())), indent=2) + "\n")
        assert not found, "\n".join(found)


Chaos.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=EXAMPLES <= 2,
)
TestChaos = Chaos.TestCase
