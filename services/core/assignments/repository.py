"""SQL for responsibility, community roles and pairings: scoped by the village or grid they concern."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.assignments.models import CommunityRole, Pairing, Responsibility
from services.core.errors import NotFound
from services.core.org.models import OrgUnit
from services.core.periods import active_at
from services.core.security.principal import Principal, scope_clause
from services.core.security.roles import Permission

_Dated = TypeVar("_Dated", Responsibility, CommunityRole, Pairing)


def _in_units_in_scope(model: type[_Dated], principal: Principal, permission: Permission) -> Select[_Dated]:
    """Rows of ``model`` whose org unit (village or grid) lies in the principal's scope."""
    return (
        select(model)
        .join(OrgUnit, OrgUnit.id == model.org_unit_id)
        .where(scope_clause(principal, permission, OrgUnit.path))
    )


async def _one(db: AsyncSession, stmt: Select[_Dated], noun: str, ident: uuid.UUID) -> _Dated:
    """The row ``stmt`` finds; 404 naming the ``noun`` and ``ident`` otherwise."""
    found = await db.scalar(stmt)
    if found is None:
        raise NotFound(f"{noun} {ident} not found")
    return found


def readable_responsibilities(
    principal: Principal, permission: Permission = Permission.ASSIGNMENTS_READ
) -> Select[Responsibility]:
    """Responsibility records for villages and grids in scope."""
    return _in_units_in_scope(Responsibility, principal, permission)


def readable_community_roles(
    principal: Principal, permission: Permission = Permission.ASSIGNMENTS_READ
) -> Select[CommunityRole]:
    """Community roles on villages and grids in scope."""
    return _in_units_in_scope(CommunityRole, principal, permission)


def readable_pairings(principal: Principal, permission: Permission = Permission.ASSIGNMENTS_READ) -> Select[Pairing]:
    """Pairings whose community side lies in scope."""
    return _in_units_in_scope(Pairing, principal, permission)


async def get_responsibility(
    db: AsyncSession, principal: Principal, ident: uuid.UUID, permission: Permission = Permission.ASSIGNMENTS_READ
) -> Responsibility:
    """One responsibility record in scope; 404 otherwise."""
    stmt = readable_responsibilities(principal, permission).where(Responsibility.id == ident)
    return await _one(db, stmt, "assignment", ident)


async def get_community_role(
    db: AsyncSession, principal: Principal, ident: uuid.UUID, permission: Permission = Permission.ASSIGNMENTS_READ
) -> CommunityRole:
    """One community role in scope; 404 otherwise."""
    stmt = readable_community_roles(principal, permission).where(CommunityRole.id == ident)
    return await _one(db, stmt, "community role", ident)


async def get_pairing(
    db: AsyncSession, principal: Principal, ident: uuid.UUID, permission: Permission = Permission.ASSIGNMENTS_READ
) -> Pairing:
    """One pairing in scope; 404 otherwise."""
    stmt = readable_pairings(principal, permission).where(Pairing.id == ident)
    return await _one(db, stmt, "pairing", ident)


async def responsibility_at(db: AsyncSession, *, grid_id: uuid.UUID, at: datetime) -> Responsibility | None:
    """The record making a team responsible for a grid at ``at``: the grid's own, else its village's.

    One indexed query (``(org_unit_id, starts_at)``): cheap enough to run per sentinel report.
    """
    village = select(OrgUnit.parent_id).where(OrgUnit.id == grid_id).scalar_subquery()
    stmt = (
        select(Responsibility)
        .where(
            or_(Responsibility.org_unit_id == grid_id, Responsibility.org_unit_id == village),
            active_at(Responsibility, at),
        )
        .order_by(case((Responsibility.unit_kind == "grid", 0), else_=1))
        .limit(1)
    )
    found: Responsibility | None = await db.scalar(stmt)
    return found


async def lock_unit(db: AsyncSession, unit_id: uuid.UUID) -> None:
    """Row lock on an org unit: every period check for the unit runs under it, so two
    concurrent writers cannot both see "no overlap" and both insert."""
    await db.execute(select(OrgUnit.id).where(OrgUnit.id == unit_id).with_for_update())


async def close_pairings(db: AsyncSession, *conditions: ColumnElement[bool], at: datetime) -> list[uuid.UUID]:
    """End at ``at`` the pairings matching ``conditions`` that run past it (a side's period ended).

    Returns the ids of pairings that would only *start* at or after ``at``: they cannot be
    ended without becoming empty, so the caller refuses the change and names them.
    """
    later = list(
        (
            await db.scalars(select(Pairing.id).where(*conditions, Pairing.starts_at >= at).order_by(Pairing.starts_at))
        ).all()
    )
    if later:
        return later
    await db.execute(
        update(Pairing)
        .where(*conditions, Pairing.starts_at < at, or_(Pairing.ends_at.is_(None), Pairing.ends_at > at))
        .values(ends_at=at, version=Pairing.version + 1, updated_at=clock.now())
        .execution_options(synchronize_session="fetch")
    )
    return []
