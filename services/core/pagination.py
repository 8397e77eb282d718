"""Keyset pagination: an opaque cursor holding the last row's sort key, never an offset.

Offsets skip or repeat rows while others write; a key does not.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import Select, Uuid
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.core.errors import field_error

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` back as ``cursor`` for the next one."""

    items: list[T]
    next_cursor: str | None = Field(description="Absent on the last page.")


def encode_cursor(key: list[Any]) -> str:
    """Opaque cursor for a sort key."""
    return base64.urlsafe_b64encode(json.dumps(key, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    """The sort key inside a cursor; a cursor we did not make is a 422 on ``query.cursor``."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise field_error("query.cursor", "not a cursor this API issued") from exc
    if not isinstance(key, list):
        raise field_error("query.cursor", "not a cursor this API issued")
    return key


async def paginate(
    db: AsyncSession, stmt: Select[R], *, key: InstrumentedAttribute[Any], cursor: str | None, limit: int
) -> tuple[list[R], str | None]:
    """One page of ``stmt`` ordered by the unique column ``key``, after the row the cursor names.

    Id order (UUIDs) or a natural unique key (a path, a username): either is stable while others write.
    """
    after = decode_cursor(cursor)
    if after is not None:
        try:
            if len(after) != 1 or not isinstance(after[0], str):
                raise ValueError("cursor shape")
            value: Any = uuid.UUID(after[0]) if isinstance(key.type, Uuid) else after[0]
        except ValueError as exc:
            raise field_error("query.cursor", "not a cursor this API issued") from exc
        stmt = stmt.where(key > value)
    rows = list((await db.scalars(stmt.order_by(key).limit(limit + 1))).all())
    next_cursor = encode_cursor([str(getattr(rows[limit - 1], key.key))]) if len(rows) > limit else None
    return rows[:limit], next_cursor
