"""Where each configured strategy stands, and pausing or resuming one: shared by Telegram's
/strategies and `guardbot strategies`. The pause lives in the journal (`strategy_state`), which a
strategy's runner reads before each run, so a resume from the command line reaches a running
daemon at the strategy's next run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from guardbot.config import Settings
from guardbot.errors import UserError
from guardbot.store.intents import StrategyStateRow


@dataclass(frozen=True, slots=True)
class StrategyStatus:
    name: str
    accounts: tuple[str, ...]
    schedule: str
    state: str  # "running", "paused", "off", "not started", "configured" (no daemon to ask)
    why: str = ""  # the pause's reason, or why it did not start

    def line(self) -> str:
        where = ", ".join(self.accounts)
        when = "" if self.name == "webhook" else f", {self.schedule}"
        text = f"{self.name} ({where}{when}): {self.state}"
        return f"{text}: {self.why}" if self.why else text


def strategy_status(
    settings: Settings,
    states: Mapping[str, StrategyStateRow],
    *,
    started: set[str] | None = None,
    problems: Mapping[str, str] | None = None,
) -> list[StrategyStatus]:
    """Every [[strategies]] table. `started`/`problems` come from a running daemon (None: unknown)."""
    out = []
    for c in settings.strategies:
        state, why = "configured", ""
        paused = states.get(c.name)
        if not c.enabled:
            state, why = "off", "enabled = false"
        elif problems and c.name in problems:
            state, why = "not started", problems[c.name]
        elif paused is not None and paused.paused:
            state, why = "paused", paused.reason or "by hand"
        elif started is not None:
            state = "running" if c.name in started else "not started"
        out.append(StrategyStatus(c.name, tuple(c.accounts), c.schedule, state, why))
    return out


def check_name(settings: Settings, name: str) -> str:
    known = [c.name for c in settings.strategies]
    if name not in known:
        shown = ", ".join(known) or "none (add a [[strategies]] table)"
        raise UserError(f"unknown strategy {name!r}; configured: {shown}")
    return name
