"""Where alerts go: the console log by default, Telegram when configured."""

from __future__ import annotations

from guardbot.notify.base import Alert, Notifier
from guardbot.notify.console import ConsoleNotifier

__all__ = ["Alert", "ConsoleNotifier", "Notifier"]
