"""Reading the audit trail, for auditors, scoped like everything else.

An event is in an auditor's scope when the org path it was recorded with (its subject's org
unit at the time) lies under one of the auditor's grants — ``scope_clause`` on
``audit_event.org_path``, the same rule as every other row — or when its actor's home unit
does (what the area's own accounts did, wherever). A new kind of subject needs no change here:
its call sites pass the path.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.audit.models import AuditEvent
from services.core.errors import field_error
from services.core.org.models import OrgUnit
from services.core.pagination import decode_cursor, encode_cursor
from services.core.security.models import User
from services.core.security.principal import Principal, scope_clause
from services.core.security.roles import Permission


def in_scope(principal: Principal) -> ColumnElement[bool]:
    """Events about something in the principal's audit scope, or done by an account homed there."""
    actor = (
        select(User.id)
        .join(OrgUnit, OrgUnit.id == User.org_unit_id)
        .where(User.id == AuditEvent.actor_id, scope_clause(principal, Permission.AUDIT_READ, OrgUnit.path))
        .exists()
    )
    return or_(scope_clause(principal, Permission.AUDIT_READ, AuditEvent.org_path), actor)


async def list_events(
    db: AsyncSession,
    principal: Principal,
    *,
    actor_id: uuid.UUID | None,
    subject_id: uuid.UUID | None,
    occurred_from: datetime | None,
    occurred_before: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[AuditEvent], str | None]:
    """Newest first, filtered by actor, subject and a half-open time range, a page at a time."""
    if occurred_from and occurred_before and occurred_before <= occurred_from:
        raise field_error("query.occurred_before", "must be later than occurred_from")
    stmt = select(AuditEvent).where(in_scope(principal)).order_by(AuditEvent.id.desc()).limit(limit + 1)
    if actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    if subject_id is not None:
        stmt = stmt.where(AuditEvent.subject_id == subject_id)
    if occurred_from is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= occurred_from)
    if occurred_before is not None:
        stmt = stmt.where(AuditEvent.occurred_at < occurred_before)
    after = decode_cursor(cursor)
    if after is not None:
        if len(after) != 1 or not isinstance(after[0], int) or isinstance(after[0], bool):
            raise field_error("query.cursor", "not a cursor this API issued")
        stmt = stmt.where(AuditEvent.id < after[0])
    rows = list((await db.scalars(stmt)).all())
    next_cursor = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
    return rows[:limit], next_cursor
