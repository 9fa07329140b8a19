"""Injected faults: what fails, how often, for which path and which account.

A fault with count N fails exactly N client requests. One wrinkle of real clients is handled here:
aiohttp (under ccxt) resends an idempotent request (GET, PUT, DELETE, ...) once, at once, when its
connection drops before the answer (RFC 9112 §9.3.1.1). That resend is the same request, so a
dropped idempotent request expects one byte-identical resend within `RESEND_WINDOW_S` and fails it
too; the expectation is then gone. A dropped POST expects none (clients never resend it).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

# kinds that do not take a venue code; a venue's rejection kind ("error" and the venue's own name)
# comes from its wire module
BASE_KINDS = ("timeout", "timeout_after", "drop", "drop_after", "latency", "429", "5xx")
STALLING = ("timeout", "timeout_after")
PROCESSED = ("timeout_after", "drop_after")  # the request takes effect; the client hears nothing
IDEMPOTENT = ("GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE")
RESEND_WINDOW_S = 2.0

Fingerprint = tuple[str, str, str, tuple[tuple[str, str], ...]]


@dataclass(slots=True)
class Fault:
    kind: str
    count: int = 1
    path: str | None = None
    code: int | None = None
    msg: str | None = None
    status: int | None = None  # HTTP status of a "429", "5xx" or numeric kind
    seconds: float | None = None  # latency: the delay; timeout / timeout_after: how long to stall
    account: str | None = None  # only requests of this account (api key or account name)

    def matches(self, path: str, api_key: str | None, name: str | None) -> bool:
        if self.count <= 0 or (self.path is not None and not path.startswith(self.path)):
            return False
        return self.account is None or self.account in (api_key, name)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "count": self.count,
            "path": self.path,
            "code": self.code,
            "msg": self.msg,
            "seconds": self.seconds,
            "account": self.account,
        }


def make_fault(
    kind: Any,
    *,
    error_kinds: Iterable[str],
    count: Any = 1,
    path: Any = None,
    code: Any = None,
    msg: Any = None,
    seconds: Any = None,
    account: Any = None,
    known_account: Callable[[str], bool] = lambda _: True,
) -> Fault:
    """A validated fault; anything wrong is a ValueError whose message is one line."""
    kind = str(kind)
    errors = tuple(error_kinds)
    status: int | None = None
    if re.fullmatch(r"\d{3}", kind):
        status = int(kind)
        if status != 429 and not 500 <= status <= 599:
            raise ValueError(
                f"fault kind {kind!r}: only 429 and 5xx statuses are faults; "
                f"a venue rejection is kind {errors[0]!r} with a code"
            )
    elif kind == "5xx":
        status = 503
    elif kind not in BASE_KINDS and kind not in errors:
        raise ValueError(
            f"unknown fault kind {kind!r}; expected one of {', '.join((*BASE_KINDS, *errors))} "
            "or a status (429, 500-599)"
        )
    if isinstance(count, bool) or not isinstance(count, int | str):
        raise ValueError(f"fault count must be a whole number >= 1, got {count!r}")
    try:
        n = int(count)
    except ValueError:
        raise ValueError(f"fault count must be a whole number >= 1, got {count!r}") from None
    if n < 1:
        raise ValueError(f"fault count must be a whole number >= 1, got {count!r}")
    if path is not None and (not isinstance(path, str) or not path.startswith("/")):
        raise ValueError(f"fault path {path!r} must start with '/' (a path prefix such as /fapi/v1/order)")
    if kind in errors:
        if code is None or isinstance(code, bool):
            raise ValueError(f"fault kind {kind!r} needs a code (the venue's error code)")
        try:
            code = int(code)
        except (TypeError, ValueError):
            raise ValueError(f"fault code must be a whole number, got {code!r}") from None
    elif code is not None:
        raise ValueError(f"fault code applies to kind {errors[0]!r} only, not {kind!r}")
    delay: float | None = None
    if seconds is not None:
        if kind not in ("latency", *STALLING):
            raise ValueError(f"fault seconds apply to latency, timeout and timeout_after, not {kind!r}")
        try:
            delay = float(seconds)
        except (TypeError, ValueError):
            raise ValueError(f"fault seconds must be a number > 0, got {seconds!r}") from None
        if not (math.isfinite(delay) and delay > 0):
            raise ValueError(f"fault seconds must be a number > 0, got {seconds!r}")
    elif kind == "latency":
        raise ValueError("fault kind 'latency' needs seconds (the delay before the normal answer)")
    who: str | None = None
    if account is not None:
        who = str(account)
        if not known_account(who):
            raise ValueError(f"fault account {who!r}: no account has that api key or name")
    return Fault(kind, n, path, code, None if msg is None else str(msg), status, delay, who)


@dataclass(slots=True)
class FaultBook:
    """Pending faults, in injection order, and the resends a dropped request still expects."""

    faults: list[Fault] = field(default_factory=list)
    _resends: dict[Fingerprint, float] = field(default_factory=dict)

    def add(self, fault: Fault) -> None:
        self.faults.append(fault)

    def clear(self) -> None:
        self.faults.clear()
        self._resends.clear()

    def take(self, path: str, api_key: str | None, name: str | None) -> Fault | None:
        """The first pending fault for this request, one of its count used up."""
        for f in self.faults:
            if f.matches(path, api_key, name):
                f.count -= 1
                if f.count <= 0:
                    self.faults.remove(f)
                return f
        return None

    def expect_resend(self, method: str, fingerprint: Fingerprint, window_s: float = RESEND_WINDOW_S) -> None:
        if method in IDEMPOTENT:
            self._resends[fingerprint] = time.monotonic() + window_s

    def is_resend(self, fingerprint: Fingerprint) -> bool:
        """Is this the client's automatic resend of a request just dropped? (Then it fails too,
        without using up a fault.) Each dropped request expects at most one resend."""
        now = time.monotonic()
        for fp, deadline in list(self._resends.items()):
            if deadline < now:
                del self._resends[fp]
        return self._resends.pop(fingerprint, None) is not None
