"""What assignments attach to team records (``core/teams/hooks.py``); imported by this package's ``__init__``.

A team is readable where it is (or was) responsible for an area; ending a steward or a member ends
the pairings that name them; a team still responsible for an area is not dissolved.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.assignments import repository
from services.core.assignments.models import Pairing, Responsibility
from services.core.errors import IllegalTransition
from services.core.org.models import OrgUnit
from services.core.security.principal import Principal, scope_clause
from services.core.security.roles import Permission
from services.core.teams import hooks
from services.core.teams.models import InstitutionSteward, Team, TeamMember


@hooks.widen_team_reads("assignments.serves_an_area_in_scope")
def serves_in_scope(principal: Principal, permission: Permission) -> ColumnElement[bool]:
    """SQL: the team has ever been responsible for an area in scope."""
    served = OrgUnit.__table__.alias("served")
    return exists(
        select(Responsibility.id)
        .join(served, served.c.id == Responsibility.org_unit_id)
        .where(Responsibility.team_id == Team.id, scope_clause(principal, permission, served.c.path))
    )


@hooks.on_steward_end("assignments.close_pairings")
async def close_steward_pairings(db: AsyncSession, steward: InstitutionSteward, at: datetime) -> Sequence[uuid.UUID]:
    """End the pairings naming the steward at ``at``; those starting later are returned."""
    return await repository.close_pairings(db, Pairing.institution_steward_id == steward.id, at=at)


@hooks.on_member_end("assignments.close_pairings")
async def close_member_pairings(db: AsyncSession, member: TeamMember, at: datetime) -> Sequence[uuid.UUID]:
    """End the pairings naming the member at ``at``; those starting later are returned."""
    return await repository.close_pairings(db, Pairing.team_member_id == member.id, at=at)


@hooks.guard_dissolve("assignments.no_current_responsibility")
async def not_responsible_now(db: AsyncSession, team: Team) -> None:
    """A team still responsible for an area cannot be dissolved: 409 naming the assignment."""
    now = clock.now()
    current = await db.scalar(
        select(Responsibility.id)
        .where(
            Responsibility.team_id == team.id,
            or_(Responsibility.ends_at.is_(None), Responsibility.ends_at > now),
        )
        .limit(1)
    )
    if current is not None:
        raise IllegalTransition(
            "the team is still responsible for an area; end its assignments first",
            conflicting_assignment_id=str(current),
        )
