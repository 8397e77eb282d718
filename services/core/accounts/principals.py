"""Who is behind a token, kept per process instead of read on every request, behind a revocation marker.

Resolving a bearer token to a ``Principal`` reads the login (``auth_session``), the account and its
grants. An API process keeps the answer, by token, for as long as nothing it depends on can have
changed: never past the token's expiry or the next instant one of its grants starts or ends (nor
``MAX_AGE``), and only while the revocation marker stands still. The marker is ``auth_marker.seq``,
which PostgreSQL bumps in the same transaction as any revocation, account change or grant change,
whoever makes it (triggers, migration 0015). A process reads it at most once per ``seconds`` (one
small read for all its requests) and forgets every principal when it moved; a change made through
this process's own services (``changed()``) forgets them at once. So a revoked token is refused
within a second everywhere, and no request reads the login tables.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.core import clock
from services.core.security.principal import Principal

# However quiet the marker, a principal is read again after this long (belt and braces).
MAX_AGE = timedelta(minutes=5)

_generation = 0


def changed() -> None:
    """A login, an account or a grant changed through this process: forget every principal it keeps."""
    global _generation  # noqa: PLW0603 - one counter per process, by design
    _generation += 1


def generation() -> int:
    """This process's own count of changes (``changed()``)."""
    return _generation


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    generation: int
    loaded_at: datetime
    fresh_until: datetime


class PrincipalCache:
    """Principals by access token (a kept one skips the signature check too); bounded, least recently used
    out first. ``seconds``: how stale the revocation marker may be (0: keep nothing, read every time)."""

    def __init__(self, *, seconds: float, max_entries: int = 10_000) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._marker: int | None = None
        self._marker_clock: datetime | None = None
        self._marker_monotonic = 0.0
        self.reading = False  # one request reads the marker; the others go on with the last value meanwhile

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def enabled(self) -> bool:
        return self.seconds > 0

    def marker_fresh(self) -> bool:
        """Whether the marker was read within ``seconds`` (by the injected clock and by the process's own)."""
        if self._marker_clock is None:
            return False
        now = clock.now()
        within = timedelta(seconds=self.seconds)
        return (
            self._marker_clock <= now < self._marker_clock + within
            and time.monotonic() < self._marker_monotonic + self.seconds
        )

    def saw_marker(self, value: int) -> None:
        """The marker as just read: when it moved, every kept principal is forgotten."""
        if value != self._marker:
            self._entries.clear()
        self._marker = value
        self._marker_clock = clock.now()
        self._marker_monotonic = time.monotonic()

    def get(self, token: str) -> Principal | None:
        """The principal kept for this access token, when nothing it depends on can have changed."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        if entry.generation != _generation or not entry.loaded_at <= clock.now() < entry.fresh_until:
            del self._entries[token]
            return None
        self._entries.move_to_end(token)
        return entry.principal

    def put(self, token: str, principal: Principal, *, loaded_generation: int, until: datetime | None) -> None:
        """Keep ``principal`` (read while this process's count was ``loaded_generation``) until ``until`` (the
        token's expiry, or the next instant one of its grants starts or ends) or ``MAX_AGE``."""
        if not self.enabled or loaded_generation != _generation or self._marker is None:
            return
        now = clock.now()
        fresh_until = now + MAX_AGE if until is None else min(now + MAX_AGE, until)
        if fresh_until <= now:
            return
        self._entries[token] = _Entry(principal, loaded_generation, now, fresh_until)
        self._entries.move_to_end(token)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
