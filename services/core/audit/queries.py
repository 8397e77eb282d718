"""Reading the audit trail, for auditors, scoped like everything else.

An event is in an auditor's scope when the org path it was recorded with (its subject's org
unit at the time: a resident's grid, a team's unit, an account's home unit) lies under one of
the auditor's grants: ``scope_clause`` on ``audit_event.org_path``, the same rule as every other
row. Who acted is a filter (``actor_id``), not a scope. The trail joins no domain table, so a
new kind of subject needs no change here: its call sites pass the path.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.audit.models import AuditEvent
from services.core.errors import field_error
from services.core.pagination import paginate
from services.core.security.principal import Principal, scope_clause
from services.core.security.roles import Permission


def in_scope(principal: Principal) -> ColumnElement[bool]:
    """Events about something in the principal's audit scope."""
    return scope_clause(principal, Permission.AUDIT_READ, AuditEvent.org_path)


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
    stmt = select(AuditEvent).where(in_scope(principal))
    if actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    if subject_id is not None:
        stmt = stmt.where(AuditEvent.subject_id == subject_id)
    if occurred_from is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= occurred_from)
    if occurred_before is not None:
        stmt = stmt.where(AuditEvent.occurred_at < occurred_before)
    return await paginate(db, stmt, keys=[(AuditEvent.id, "desc")], cursor=cursor, limit=limit)
