"""SQL for residents; every read starts from ``readable``.

Scope follows the resident's grid: the grid's materialised ``path`` must lie under one
of the caller's grants for the permission (``scope_clause``). Rows come back with that
path, which the identity policy needs.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services.core.errors import NotFound
from services.core.org.models import OrgUnit
from services.core.residents.models import Resident, ResidentTag
from services.core.security.principal import Principal, scope_clause
from services.core.security.roles import Permission


def readable(principal: Principal, permission: Permission = Permission.RESIDENTS_READ) -> Select[Resident, str]:
    """Residents (with their grid's path) whose grid lies in the caller's scope for ``permission``."""
    return (
        select(Resident, OrgUnit.path)
        .join(OrgUnit, OrgUnit.id == Resident.grid_id)
        .where(scope_clause(principal, permission, OrgUnit.path))
    )


async def get_in_scope(
    db: AsyncSession,
    principal: Principal,
    resident_id: uuid.UUID,
    permission: Permission = Permission.RESIDENTS_READ,
    *,
    with_tags: bool = True,
) -> tuple[Resident, str]:
    """One resident and its grid path within scope; 404 when missing or outside it."""
    stmt = readable(principal, permission).where(Resident.id == resident_id)
    if with_tags:
        stmt = stmt.options(selectinload(Resident.tags))
    row = (await db.execute(stmt)).first()
    if row is None:
        raise NotFound(f"resident {resident_id} not found")
    return row[0], row[1]


async def grid_in_scope(db: AsyncSession, principal: Principal, grid_id: uuid.UUID, permission: Permission) -> OrgUnit:
    """A grid the caller may act on; 404 when it is missing, outside scope or not a grid."""
    unit = await db.scalar(
        select(OrgUnit).where(
            OrgUnit.id == grid_id, OrgUnit.kind == "grid", scope_clause(principal, permission, OrgUnit.path)
        )
    )
    if unit is None:
        raise NotFound(f"grid {grid_id} not found")
    return unit


async def id_holder(db: AsyncSession, district_id: uuid.UUID, id_bidx: bytes) -> uuid.UUID | None:
    """The resident of the district holding this identity number (by blind index), if any."""
    return await db.scalar(
        select(Resident.id).where(Resident.district_id == district_id, Resident.id_number_bidx == id_bidx)
    )


async def grid_path(db: AsyncSession, resident_id: uuid.UUID) -> str | None:
    """The path of the resident's grid (for an audit event about a resident outside the caller's scope)."""
    return await db.scalar(
        select(OrgUnit.path).join(Resident, Resident.grid_id == OrgUnit.id).where(Resident.id == resident_id)
    )


async def is_readable(db: AsyncSession, principal: Principal, resident_id: uuid.UUID) -> bool:
    """Whether the resident lies within the caller's read scope."""
    found = await db.scalar(select(readable(principal).where(Resident.id == resident_id).exists()))
    return bool(found)


async def possible_duplicates(db: AsyncSession, grid_id: uuid.UUID, name: str, birth_on: object) -> list[uuid.UUID]:
    """Residents of the grid with the same name and birth date."""
    rows = await db.scalars(
        select(Resident.id)
        .where(Resident.grid_id == grid_id, Resident.name == name, Resident.birth_on == birth_on)
        .order_by(Resident.id)
        .limit(10)
    )
    return list(rows.all())


async def tag_in_scope(
    db: AsyncSession, principal: Principal, resident_id: uuid.UUID, tag_id: uuid.UUID, permission: Permission
) -> tuple[Resident, str, ResidentTag]:
    """A tag of a resident in scope; 404 otherwise."""
    resident, path = await get_in_scope(db, principal, resident_id, permission)
    for tag in resident.tags:
        if tag.id == tag_id:
            return resident, path, tag
    raise NotFound(f"tag {tag_id} not found")
