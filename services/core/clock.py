"""The one source of "now".

Nothing else in the code calls ``datetime.now()``: deadlines, token expiry and
history rows all ask this module, so tests move time instead of sleeping and a
48-hour SLA is checked in milliseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_frozen: datetime | None = None


def now() -> datetime:
    """The current instant, timezone-aware UTC."""
    return _frozen if _frozen is not None else datetime.now(UTC)


def freeze(at: datetime) -> None:
    """Stop time at ``at`` (tests only)."""
    global _frozen
    if at.tzinfo is None:
        raise ValueError("freeze() needs an aware datetime")
    _frozen = at.astimezone(UTC)


def advance(by: timedelta) -> datetime:
    """Move frozen time forward (tests only); freezes at the real now first if needed."""
    freeze(now() + by)
    return now()


def unfreeze() -> None:
    """Let time run again."""
    global _frozen
    _frozen = None
