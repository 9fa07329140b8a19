"""Error types of the exchange layer and the retryable / final sorting of ccxt errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TypeVar

import ccxt.async_support as ccxt

from guardbot.redaction import redact


class ExchangeSetupError(ValueError):
    """A client cannot be built as configured (unsupported environment, missing credentials)."""


class SnapshotError(RuntimeError):
    """A snapshot could not be read completely. The message is one line: which call, and why."""

    def __init__(self, account: str, call: str, reason: str) -> None:
        self.account = account
        self.call = call
        self.reason = reason
        super().__init__(f"snapshot of {account}: {call} failed: {reason}")


_T = TypeVar("_T")


async def snapshot_call(account: str, name: str, fn: Callable[[], Awaitable[_T]]) -> _T:
    """`fn()`, any failure raised as the `SnapshotError` of the call `name`."""
    try:
        return await fn()
    except SnapshotError:
        raise
    except Exception as exc:
        raise SnapshotError(account, name, describe(exc)) from exc


class ErrorClass(StrEnum):
    RETRYABLE = "retryable"  # nothing happened, or it is safe to ask again
    FINAL = "final"  # the exchange said no; asking again gets the same answer


# ccxt's OperationFailed family: NetworkError (timeouts, dropped connections, 5xx, 429, maintenance,
# timestamp drift) and BadResponse (an unreadable reply), plus Binance's -1001 "Internal error;
# unable to process your request. Please try again." Everything else (ExchangeError and its
# subclasses: InvalidOrder, InsufficientFunds, BadRequest, AuthenticationError, ...) is final.
_RETRYABLE: tuple[type[BaseException], ...] = (ccxt.OperationFailed,)

# After a network failure the request may have reached the exchange and been executed: look the
# order up before sending it again. ccxt reports a dropped connection as ExchangeNotAvailable (the
# same class as an HTTP 503), so only an explicit rate-limit refusal counts as "surely not executed".
_DEFINITELY_NOT_SENT: tuple[type[BaseException], ...] = (ccxt.DDoSProtection, ccxt.RateLimitExceeded)


def classify(exc: BaseException) -> ErrorClass:
    return ErrorClass.RETRYABLE if isinstance(exc, _RETRYABLE) else ErrorClass.FINAL


def is_ambiguous(exc: BaseException) -> bool:
    """The request may have been executed although no answer arrived."""
    return isinstance(exc, ccxt.OperationFailed) and not isinstance(exc, _DEFINITELY_NOT_SENT)


def describe(exc: BaseException, limit: int = 300) -> str:
    """One line for a user: the error class and the exchange's own message, without newlines.

    Redacted before it is cut: ccxt's text carries the signed URL, and a cut could leave half of
    a signature that `redact` no longer recognises."""
    text = " ".join(redact(str(exc)).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
