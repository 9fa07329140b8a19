"""Log lines: text for a terminal, or one JSON object per line for a log shipper, and never a
secret in either (ccxt's errors quote signed request URLs)."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import logging
import sys
import time

from guardbot.redaction import redact


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, and `exc` (the traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            data["exc"] = self.formatStack(record.stack_info)
        return json.dumps(data)


class RedactFilter(logging.Filter):
    """No signed request URL reaches a log line (ccxt's errors carry them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:  # a traceback's last line quotes the error
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def setup_logging(fmt: str = "text", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%Y-%m-%dT%H:%M:%SZ")
        )
        logging.Formatter.converter = time.gmtime
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("apscheduler", "httpx", "telegram", "ccxt"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # "skipped: maximum number of running instances" / "missed by": one line per tick while a
    # cycle is slow; the watchdog says it once, as an alert naming the account (daemon._watchdog)
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)


def dump_tasks() -> None:
    """`kill -USR1 <pid>`: log where every task of the running daemon waits (a hung cycle shows
    the await it is stuck on, which a thread dump of an idle event loop cannot)."""
    log = logging.getLogger("guardbot.tasks")
    tasks = asyncio.all_tasks()
    log.warning("SIGUSR1: %d task(s)", len(tasks))
    for task in tasks:
        out = io.StringIO()
        task.print_stack(limit=12, file=out)
        log.warning("%s\n%s", task.get_name(), out.getvalue())
