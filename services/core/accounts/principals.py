"""Who is behind a token, kept for at most a second per process instead of read on every request.

Resolving a bearer token to a ``Principal`` reads the login (``auth_session``), the account and
its grants. The answer is kept in a small per-process cache for ``auth_cache_seconds`` (at most one
second), measured both on ``core.clock`` and on the process's monotonic clock, and never past the
next instant one of the account's grants starts or ends. Every change to a login, an account or a
grant made through ``core.accounts`` bumps a process-wide marker (``changed()``) that drops every
entry at once; a change made by another process is seen within the bound. So a revoked token is
refused within one second everywhere, and at once by the process that revoked it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.core import clock
from services.core.security.principal import Principal

_marker = 0


def changed() -> None:
    """A login, an account or a grant changed: forget every principal this process keeps."""
    global _marker  # noqa: PLW0603 - one marker per process, by design
    _marker += 1


def marker() -> int:
    """The current value of the process-wide revocation marker."""
    return _marker


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    marker: int
    loaded_at: datetime
    fresh_until: datetime
    monotonic_until: float


class PrincipalCache:
    """Principals by access token (so a kept one skips the signature check too), each kept at most
    ``seconds`` and never past the token's expiry; bounded, least recently used out first."""

    def __init__(self, *, seconds: float, max_entries: int = 10_000) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> Principal | None:
        """The principal kept for this access token, when it is still fresh."""
        key = token
        entry = self._entries.get(key)
        if entry is None:
            return None
        now = clock.now()
        if (
            entry.marker != _marker
            or not entry.loaded_at <= now < entry.fresh_until
            or time.monotonic() >= entry.monotonic_until
        ):
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.principal

    def put(self, token: str, principal: Principal, *, loaded_marker: int, next_change: datetime | None) -> None:
        """Keep ``principal`` (read while the marker was ``loaded_marker``) until the bound or ``next_change``
        (the token's expiry, or the next instant one of its grants starts or ends), whichever comes first."""
        if self.seconds <= 0 or loaded_marker != _marker:
            return
        now = clock.now()
        fresh_until = now + timedelta(seconds=self.seconds)
        if next_change is not None:
            fresh_until = min(fresh_until, next_change)
        if fresh_until <= now:
            return
        key = token
        self._entries[key] = _Entry(principal, loaded_marker, now, fresh_until, time.monotonic() + self.seconds)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
