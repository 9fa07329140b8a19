"""The alert value and the one method every notifier implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from guardbot.redaction import redact

Level = Literal["info", "warning", "critical"]
Delivery = Literal["sent", "failed", "console", "pending"]


@dataclass(frozen=True, slots=True)
class Alert:
    level: Level
    account: str
    key: str  # dedup key: the rule and subject that produced it
    text: str
    dry_run: bool = False
    alert_id: int | None = None  # its journal row, so a queued send can record the outcome later

    def render(self) -> str:
        mark = {"info": "ℹ", "warning": "⚠", "critical": "🚨"}[self.level]
        dry = " [DRY-RUN]" if self.dry_run else ""
        return f"{mark} {self.account}{dry}: {redact(self.text)}"


class Notifier(Protocol):
    async def send(self, alert: Alert) -> Delivery:
        """Deliver (or queue) an alert; never raises, never blocks the guard for long."""
        ...
