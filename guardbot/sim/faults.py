"""Injected faults: what fails, how often, and for which path."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# kinds that do not take a venue code; a venue's rejection kind (its own name) comes from its
# wire module
BASE_KINDS = ("timeout", "timeout_after", "drop", "drop_after", "429", "5xx")

Fingerprint = tuple[str, str, str]


@dataclass(slots=True)
class Fault:
    kind: str
    count: int = 1
    path: str | None = None
    code: int | None = None
    msg: str | None = None
    status: int | None = None

    def matches(self, path: str) -> bool:
        return self.count > 0 and (self.path is None or path.startswith(self.path))

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "count": self.count, "path": self.path, "code": self.code, "msg": self.msg}


def make_fault(
    kind: Any,
    *,
    error_kinds: Iterable[str],
    count: int = 1,
    path: str | None = None,
    code: int | None = None,
    msg: str | None = None,
) -> Fault:
    kind = str(kind)
    errors = tuple(error_kinds)
    status: int | None = None
    if re.fullmatch(r"[45]\d\d", kind):
        status = int(kind)
    elif kind == "5xx":
        status = 503
    elif kind not in BASE_KINDS and kind not in errors:
        raise ValueError(
            f"unknown fault kind {kind!r}; expected one of {', '.join((*BASE_KINDS, *errors))} or a status"
        )
    if kind in errors and code is None:
        raise ValueError(f"fault kind {kind!r} needs a code (e.g. -2019)")
    if count < 1:
        raise ValueError("fault count must be >= 1")
    return Fault(kind, count, path, code, msg, status)


@dataclass(slots=True)
class FaultBook:
    faults: list[Fault] = field(default_factory=list)
    _dropped: set[Fingerprint] = field(default_factory=set)

    def add(self, fault: Fault) -> None:
        self.faults.append(fault)

    def clear(self) -> None:
        self.faults.clear()

    def take(self, path: str) -> Fault | None:
        for f in self.faults:
            if f.matches(path):
                f.count -= 1
                if f.count <= 0:
                    self.faults.remove(f)
                return f
        return None

    def expect_resend(self, fingerprint: Fingerprint) -> None:
        self._dropped.add(fingerprint)

    def is_resend(self, fingerprint: Fingerprint) -> bool:
        # aiohttp silently resends an idempotent request once when a reused keep-alive
        # connection drops; the byte-identical resend is the same request, so it fails too.
        if fingerprint in self._dropped:
            self._dropped.discard(fingerprint)
            return True
        return False
