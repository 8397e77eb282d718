"""Safe retries of creates with a client-chosen id: same id and same content is the same record."""

from __future__ import annotations

from typing import Any, TypeVar

from services.core.errors import Conflict

T = TypeVar("T")


def same_or_conflict(existing: T, expected: dict[str, Any]) -> T:
    """``existing`` when every expected attribute matches; 409 naming it otherwise."""
    for key, value in expected.items():
        if value is None:
            continue  # an omitted optional field (a default) does not make a retry different
        if getattr(existing, key) != value:
            ident = getattr(existing, "id", None)
            raise Conflict(
                f"{ident} already exists with different content ({key})",
                existing_id=str(ident),
            )
    return existing
