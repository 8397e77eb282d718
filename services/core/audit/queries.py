"""Reading the audit trail, for auditors, scoped like everything else.

An event is in an auditor's scope when its subject (a resident, an org unit, an
account) or its actor's home unit lies under one of the auditor's grants: the trail
itself has no org column, so the scope is found through what it points at, in SQL.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.accounts.models import User
from services.core.audit.models import AuditEvent
from services.core.errors import field_error
from services.core.org.models import OrgUnit
from services.core.pagination import paginate
from services.core.residents.models import Resident
from services.core.security.principal import Principal, scope_clause
from services.core.security.roles import Permission


def in_scope(principal: Principal) -> ColumnElement[bool]:
    """Events whose subject or actor lies in the principal's audit scope."""
    scope = scope_clause(principal, Permission.AUDIT_READ, OrgUnit.path)
    resident = (
        select(Resident.id)
        .join(OrgUnit, OrgUnit.id == Resident.grid_id)
        .where(Resident.id == AuditEvent.subject_id, scope)
        .exists()
    )
    unit = select(OrgUnit.id).where(OrgUnit.id == AuditEvent.subject_id, scope).exists()
    user = (
        select(User.id)
        .join(OrgUnit, OrgUnit.id == User.org_unit_id)
        .where(User.id == AuditEvent.subject_id, scope)
        .exists()
    )
    actor = (
        select(User.id)
        .join(OrgUnit, OrgUnit.id == User.org_unit_id)
        .where(User.id == AuditEvent.actor_id, scope)
        .exists()
    )
    return or_(
        (AuditEvent.subject_type == "resident") & resident,
        (AuditEvent.subject_type == "org_unit") & unit,
        (AuditEvent.subject_type == "user") & user,
        actor,
    )


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
