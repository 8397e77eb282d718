"""Half-open periods ``[starts_at, ends_at)``; ``ends_at`` null means open-ended.

Every assignment, role and pairing uses these, so "active at T" and "overlaps"
mean the same thing everywhere (and are plain indexed comparisons in SQL).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.errors import field_error


def active_at(model: Any, at: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """Rows of ``model`` whose period contains the instant ``at``."""
    return and_(model.starts_at <= at, or_(model.ends_at.is_(None), model.ends_at > at))


def overlapping(model: Any, starts_at: datetime, ends_at: datetime | None) -> ColumnElement[bool]:
    """Rows of ``model`` whose period intersects ``[starts_at, ends_at)``."""
    ends_after_we_start = or_(model.ends_at.is_(None), model.ends_at > starts_at)
    if ends_at is None:
        return ends_after_we_start
    return and_(ends_after_we_start, model.starts_at < ends_at)


def resolve(
    starts_at: datetime | None, ends_at: datetime | None, *, field: str = "body"
) -> tuple[datetime, datetime | None]:
    """Default ``starts_at`` to now and check the period is not empty (422 on ``<field>.ends_at``)."""
    start = starts_at or clock.now()
    if ends_at is not None and ends_at <= start:
        raise field_error(f"{field}.ends_at", "must be after starts_at")
    return start, ends_at


def contains(starts_at: datetime, ends_at: datetime | None, at: datetime) -> bool:
    """Whether ``at`` lies in ``[starts_at, ends_at)``."""
    return starts_at <= at and (ends_at is None or at < ends_at)


async def first_overlap(
    db: AsyncSession,
    model: Any,
    *conditions: ColumnElement[bool],
    starts_at: datetime,
    ends_at: datetime | None,
    exclude_id: uuid.UUID | None = None,
) -> uuid.UUID | None:
    """The id of a ``model`` row matching ``conditions`` whose period overlaps the given one.

    Call it while holding a lock on the parent row (unit, team, institution): without
    an exclusion constraint, that lock is what makes check-then-insert safe.
    """
    stmt = select(model.id).where(*conditions, overlapping(model, starts_at, ends_at))
    if exclude_id is not None:
        stmt = stmt.where(model.id != exclude_id)
    found: uuid.UUID | None = await db.scalar(stmt.order_by(model.starts_at).limit(1))
    return found
