"""Half-open periods ``[starts_at, ends_at)``; ``ends_at`` null means open-ended.

Every assignment, role and pairing uses these, so "active at T" and "overlaps"
mean the same thing everywhere (and are plain indexed comparisons in SQL), and
every end changes through ``change_end`` with one ``period_overlap`` answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.errors import PeriodOverlap, field_error
from services.core.replay import Created, Same, insert_once
from services.core.versioning import check_version


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


class Dated(Protocol):
    """A record with a period and an optimistic version (memberships, assignments, roles, pairings)."""

    id: Any
    starts_at: datetime
    ends_at: datetime | None
    version: int


P = TypeVar("P", bound=Dated)


@dataclass(frozen=True)
class Exclusive:
    """A rule "no two rows of ``model`` matching ``conditions`` overlap in time".

    One declaration serves both the create and the change of end, so the two cannot
    drift apart; ``names`` is the problem member naming the row already there.
    """

    model: Any
    conditions: tuple[ColumnElement[bool], ...]
    message: str
    names: str
    error: type[PeriodOverlap] = PeriodOverlap


async def check_exclusive(
    db: AsyncSession,
    rules: Sequence[Exclusive],
    *,
    starts_at: datetime,
    ends_at: datetime | None,
    exclude_id: uuid.UUID | None,
) -> None:
    """409 ``period_overlap`` (or the rule's own subclass) naming the first row that overlaps.

    ``exclude_id`` is the record itself: its own old period, or on a create the client's id,
    so that a concurrent identical create is a replay rather than an overlap with itself.
    The caller holds the parent row lock, which makes check-then-write one step.
    """
    for rule in rules:
        clash = await first_overlap(
            db, rule.model, *rule.conditions, starts_at=starts_at, ends_at=ends_at, exclude_id=exclude_id
        )
        if clash is not None:
            raise rule.error(f"{rule.message} ({clash})", **{rule.names: str(clash)})


async def create_exclusive(
    db: AsyncSession,
    record: P,
    *,
    same: Same[P],
    rules: Sequence[Exclusive],
    lock: Callable[[], Awaitable[object]] | None = None,
    audit: Callable[[P], Awaitable[object]] | None = None,
) -> Created[P]:
    """Create a period record: the one way every period is born.

    Under ``lock`` (the parent row; omit it when the caller already holds that row
    ``FOR UPDATE``), 409 ``period_overlap`` against ``rules`` excluding the record's own
    id (a concurrent twin is a replay, not an overlap), then ``replay.insert_once`` with
    ``same``; ``audit`` runs on the persistent row only when this call created it.
    ``record`` carries the resolved period (``resolve``) and is never added to the session.
    """
    if lock is not None:
        await lock()
    await check_exclusive(db, rules, starts_at=record.starts_at, ends_at=record.ends_at, exclude_id=record.id)
    result = await insert_once(db, record, same=same)
    if result.created and audit is not None:
        await audit(result.record)
    return result


async def change_end(
    db: AsyncSession,
    row: P,
    *,
    ends_at: datetime | None,
    expected_version: int,
    rules: Sequence[Exclusive],
    lock: Callable[[], Awaitable[object]] | None = None,
    on_end: Callable[[datetime], Awaitable[Sequence[uuid.UUID]]] | None = None,
) -> P:
    """End a period, move its end, or reopen it (``ends_at`` null): the one way every period changes.

    Order: 412 on a stale If-Match, 422 on an empty period, then under ``lock`` 409
    ``period_overlap`` against ``rules``; ``on_end`` closes what depends on the period
    (pairings) and returns the ids that would only start after the new end, refused with
    409 ``period_overlap`` naming ``conflicting_pairing_id``.
    """
    check_version(row.version, expected_version)
    resolve(row.starts_at, ends_at)
    if lock is not None:
        await lock()
    await check_exclusive(db, rules, starts_at=row.starts_at, ends_at=ends_at, exclude_id=row.id)
    if ends_at is not None and on_end is not None:
        later = await on_end(ends_at)
        if later:
            raise PeriodOverlap(
                "a pairing of this record starts after the new end; end or move it first",
                conflicting_pairing_id=str(later[0]),
            )
    row.ends_at = ends_at
    await db.flush()
    return row
