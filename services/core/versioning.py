"""Optimistic concurrency: updates name the version they were based on (``If-Match``)."""

from __future__ import annotations

from services.core.errors import PreconditionFailed


def check_version(current: int, expected: int) -> None:
    """412 when the record moved on since the client read it."""
    if current != expected:
        raise PreconditionFailed(
            f"the record is at version {current}, not {expected}; re-read it and retry",
            current_version=current,
        )
