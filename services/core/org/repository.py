"""SQL for org units; every read starts from ``readable``."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.errors import NotFound
from services.core.org.models import OrgUnit
from services.core.security.principal import Principal, scope_clause
from services.core.security.roles import Permission


def readable(principal: Principal, permission: Permission = Permission.ORG_READ) -> Select[OrgUnit]:
    """Org units the principal may see (or act on, for another permission)."""
    return select(OrgUnit).where(scope_clause(principal, permission, OrgUnit.path))


async def get_in_scope(
    db: AsyncSession,
    principal: Principal,
    unit_id: uuid.UUID,
    permission: Permission = Permission.ORG_READ,
) -> OrgUnit:
    """One org unit within scope; 404 when it is missing or outside it."""
    unit = await db.scalar(readable(principal, permission).where(OrgUnit.id == unit_id))
    if unit is None:
        raise NotFound(f"org unit {unit_id} not found")
    return unit


async def path_of(db: AsyncSession, unit_id: uuid.UUID) -> str:
    """The path of an org unit known to exist (a foreign key points at it): what audit events are scoped by.

    From the session's identity map when the unit is loaded (a path never changes: codes are a unit's
    identity), so auditing a bulk import costs no query per row."""
    unit = await db.get(OrgUnit, unit_id)
    if unit is None:
        raise NotFound(f"org unit {unit_id} not found")
    return unit.path
