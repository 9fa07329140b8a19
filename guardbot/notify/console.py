"""Alerts to the log, for runs without Telegram (and the demo)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from guardbot.notify.base import Alert, Delivery

log = logging.getLogger("guardbot.alerts")
_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.CRITICAL}


class ConsoleNotifier:
    def __init__(self, out: Callable[[str], None] | None = None) -> None:
        self._out = out

    async def send(self, alert: Alert) -> Delivery:
        if self._out is not None:
            self._out(alert.render())
        else:
            log.log(_LEVELS[alert.level], alert.render())
        return "console"
