"""Failed-login throttling: after too many wrong secrets for one account, refuse for a while.

Counts live in Redis with an expiry (a fixed window). Redis is a convenience here, not the
record: when it is unreachable the throttle stays open (logged) rather than locking everyone out.
"""

from __future__ import annotations

import logging
from typing import Any

from services.core.config import Settings
from services.core.errors import DomainError

log = logging.getLogger("gridcare.api")


class TooManyAttempts(DomainError):
    status, code, title = 429, "too_many_attempts", "Too many failed attempts"


def _key(account: str) -> str:
    return f"gridcare:login-failures:{account.strip().lower()}"


async def refuse_if_locked(redis: Any, settings: Settings, account: str) -> None:
    """429 (with Retry-After) while the account has used up its failed attempts."""
    if redis is None:
        return
    try:
        failures = int(await redis.get(_key(account)) or 0)
        if failures < settings.login_failures_allowed:
            return
        remaining = int(await redis.ttl(_key(account)))
    except Exception:  # noqa: BLE001 - fail open: the throttle is a convenience
        log.warning("login throttle unavailable", exc_info=True)
        return
    raise TooManyAttempts(
        "too many failed attempts for this account; wait and try again",
        retry_after_seconds=max(remaining, 1),
    )


async def record_failure(redis: Any, settings: Settings, account: str) -> None:
    """Count one failed attempt; the window starts at the first failure."""
    if redis is None:
        return
    try:
        key = _key(account)
        if await redis.incr(key) == 1:
            await redis.expire(key, settings.login_lockout_seconds)
    except Exception:  # noqa: BLE001
        log.warning("login throttle unavailable", exc_info=True)
