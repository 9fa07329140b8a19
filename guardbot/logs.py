"""Log lines: text for a terminal, or one JSON object per line for a log shipper, and never a
secret in either (ccxt's errors quote signed request URLs).

A line logged while a guard cycle runs carries the account and the cycle id (the cycle's timestamp
in epoch ms, which is also the `ts` of the journal rows it wrote), so the lines of one cycle of one
account can be picked out of a daemon guarding many: `account=… cycle=…` in text, `"account"` and
`"cycle"` keys in JSON. They travel in contextvars, so concurrent cycles of different accounts (each
an asyncio task with its own context) never mix them up."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import io
import json
import logging
import sys
import time
from collections.abc import Iterator

from guardbot.redaction import redact

LOG_ACCOUNT: contextvars.ContextVar[str | None] = contextvars.ContextVar("log_account", default=None)
LOG_CYCLE: contextvars.ContextVar[str | None] = contextvars.ContextVar("log_cycle", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(log_context)s%(message)s"


@contextlib.contextmanager
def cycle_context(account: str, cycle_ts_ms: int) -> Iterator[None]:
    """Lines logged inside carry `account` and the cycle id; the previous values come back after."""
    tokens = (LOG_ACCOUNT.set(account), LOG_CYCLE.set(str(cycle_ts_ms)))
    try:
        yield
    finally:
        LOG_CYCLE.reset(tokens[1])
        LOG_ACCOUNT.reset(tokens[0])


class ContextFilter(logging.Filter):
    """Copies the cycle's account and id onto the record (`account`, `cycle`, and `log_context`,
    the text format's ready-made prefix, empty outside a cycle)."""

    def filter(self, record: logging.LogRecord) -> bool:
        account, cycle = LOG_ACCOUNT.get(), LOG_CYCLE.get()
        record.account, record.cycle = account, cycle
        parts = [f"account={account}"] if account else []
        parts += [f"cycle={cycle}"] if cycle else []
        record.log_context = " ".join(parts) + " " if parts else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, `account` and `cycle` inside a guard cycle,
    and `exc` (the traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("account", "cycle"):
            value = getattr(record, key, None)
            if value is not None:
                data[key] = value
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
    handler.addFilter(ContextFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, "%Y-%m-%dT%H:%M:%SZ"))
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
