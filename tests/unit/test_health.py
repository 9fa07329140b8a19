"""/healthz before any account is set up (the Docker HEALTHCHECK's start period covers it): 503,
never a 200 for a daemon that guards nothing yet."""

from __future__ import annotations

from guardbot.ops.health import health_check


def test_healthz_is_503_until_an_account_is_guarded() -> None:
    assert health_check([], 1_760_097_600_000) == (503, "starting: no account is guarded yet")
