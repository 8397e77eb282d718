"""SQL for institutions, people and teams; every read starts from a ``readable`` statement.

Reads of institutions and teams also see those sitting *above* a grant (district-level
hospitals and the four departments serve every town); people only within the subtree.
Writes use the plain subtree scope.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.errors import NotFound, field_error
from services.core.org.models import OrgUnit
from services.core.security.principal import (
    Principal,
    institution_scope_clause,
    scope_clause,
    scope_or_ancestor_clause,
)
from services.core.security.roles import Permission
from services.core.teams import hooks
from services.core.teams.models import Institution, Person, Team

T = TypeVar("T")

_READS = {Permission.TEAMS_READ, Permission.ASSIGNMENTS_READ}


def _where(principal: Principal, permission: Permission, path: Any, institution: Any) -> Any:
    """Reads: the subtree and what sits above it. Writes: the subtree, narrowed to one
    institution for a grant that names it (an institution steward's)."""
    if permission in _READS:
        return scope_or_ancestor_clause(principal, permission, path)
    return institution_scope_clause(principal, permission, path, institution)


def readable_institutions(principal: Principal, permission: Permission = Permission.TEAMS_READ) -> Select[Institution]:
    """Institutions whose org unit is in scope (for reads: or above it)."""
    return (
        select(Institution)
        .join(OrgUnit, OrgUnit.id == Institution.org_unit_id)
        .where(_where(principal, permission, OrgUnit.path, Institution.id))
    )


def readable_people(principal: Principal, permission: Permission = Permission.TEAMS_READ) -> Select[Person]:
    """People whose home unit is in scope (for writes by an institution's steward: its staff only)."""
    where = (
        scope_clause(principal, permission, OrgUnit.path)
        if permission in _READS
        else institution_scope_clause(principal, permission, OrgUnit.path, Person.institution_id)
    )
    return select(Person).join(OrgUnit, OrgUnit.id == Person.org_unit_id).where(where)


def readable_teams(principal: Principal, permission: Permission = Permission.TEAMS_READ) -> Select[Team]:
    """Teams based in scope; for reads also teams above it and those a later domain's hook widens to
    (``hooks.widen_team_reads``: assignments adds teams ever responsible for an area in scope)."""
    stmt = select(Team).join(OrgUnit, OrgUnit.id == Team.org_unit_id)
    if permission not in _READS:
        return stmt.where(institution_scope_clause(principal, permission, OrgUnit.path, Team.institution_id))
    widened = hooks.team_read_scopes(principal, permission)
    return stmt.where(or_(scope_or_ancestor_clause(principal, permission, OrgUnit.path), *widened))


async def get_institution(
    db: AsyncSession,
    principal: Principal,
    institution_id: uuid.UUID,
    permission: Permission = Permission.TEAMS_READ,
    *,
    field: str | None = None,
) -> Institution:
    """One institution in scope; 404 (or 422 on ``field``) otherwise."""
    found = await db.scalar(readable_institutions(principal, permission).where(Institution.id == institution_id))
    return _found(found, "institution", institution_id, field)


async def get_person(
    db: AsyncSession,
    principal: Principal,
    person_id: uuid.UUID,
    permission: Permission = Permission.TEAMS_READ,
    *,
    field: str | None = None,
) -> Person:
    """One person in scope; 404 (or 422 on ``field``) otherwise."""
    found = await db.scalar(readable_people(principal, permission).where(Person.id == person_id))
    return _found(found, "person", person_id, field)


async def get_team(
    db: AsyncSession,
    principal: Principal,
    team_id: uuid.UUID,
    permission: Permission = Permission.TEAMS_READ,
    *,
    field: str | None = None,
    for_update: bool = False,
) -> Team:
    """One team in scope; 404 (or 422 on ``field``) otherwise. ``for_update`` locks its row."""
    stmt = readable_teams(principal, permission).where(Team.id == team_id)
    if for_update:
        stmt = stmt.with_for_update(of=Team)
    found = await db.scalar(stmt)
    return _found(found, "team", team_id, field)


def _found(found: T | None, what: str, ident: uuid.UUID, field: str | None) -> T:
    """The row, or 404 (422 naming ``field`` when the id came in a body)."""
    if found is None:
        if field is not None:
            raise field_error(field, f"no {what} {ident} in your scope")
        raise NotFound(f"{what} {ident} not found")
    return found
