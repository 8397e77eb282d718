"""The questions the network answers: who is responsible for a grid at T, where the gaps
are, and which sentinels a team member is paired with.

All set-based SQL on indexed ``(unit, starts_at)`` columns: ``responsible_for`` runs on
every sentinel report, ``coverage_gaps`` over a district of thousands of grids.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.core.assignments import repository
from services.core.assignments.models import CommunityRole, CommunityRoleKind, Pairing, PairingKind, Responsibility
from services.core.assignments.schemas import (
    CommunityRoleRead,
    CoverageGaps,
    MemberBrief,
    MemberSentinels,
    PairedSentinel,
    PersonBrief,
    PersonRoles,
    ResponsibleRead,
    SentinelBrief,
    SentinelGap,
    TeamBrief,
    UnitBrief,
)
from services.core.errors import NotFound
from services.core.org.models import OrgUnit, OrgUnitKind
from services.core.periods import active_at
from services.core.security.principal import Principal, scope_clause
from services.core.security.roles import Permission
from services.core.teams.models import (
    Discipline,
    InstitutionSteward,
    MemberRole,
    Person,
    Team,
    TeamMember,
    TeamStatus,
)
from services.core.teams.schemas import MemberRead, StewardRead


def _unit(unit: OrgUnit) -> UnitBrief:
    return UnitBrief(id=unit.id, code=unit.code, name=unit.name)


_BRIEF = (OrgUnit.id, OrgUnit.code, OrgUnit.name)


def _briefs(rows: Any) -> list[UnitBrief]:
    return [UnitBrief(id=i, code=c, name=n) for i, c, n in rows]


async def responsible_for(db: AsyncSession, *, grid_id: uuid.UUID, at: datetime) -> ResponsibleRead:
    """Team, leader, members, paired sentinels, community steward and grid leader of a grid at ``at``.

    Unscoped (callers check the grid is in scope): sentinel-report routing calls it per report.
    Four indexed queries whatever the size of the district.
    """
    grid = await db.get(OrgUnit, grid_id)
    if grid is None or grid.kind != OrgUnitKind.GRID:
        raise NotFound(f"grid {grid_id} not found")
    assignment = await repository.responsibility_at(db, grid_id=grid.id, at=at)
    team: Team | None = None
    members: list[MemberBrief] = []
    if assignment is not None:
        team = await db.get(Team, assignment.team_id)
        rows = await db.execute(
            select(TeamMember, Person)
            .join(Person, Person.id == TeamMember.person_id)
            .where(TeamMember.team_id == assignment.team_id, active_at(TeamMember, at))
            .order_by(TeamMember.role, Person.name)
        )
        members = [
            MemberBrief(
                record_id=m.id,
                person_id=p.id,
                name=p.name,
                mobile_masked=p.mobile_masked,
                role=MemberRole(m.role),
                discipline=Discipline(m.discipline),
            )
            for m, p in rows
        ]
    # The grid's roles and the village's steward, with each sentinel's member pairings, in one query.
    paired = (
        select(Pairing.team_member_id)
        .where(
            Pairing.community_role_id == CommunityRole.id,
            Pairing.kind == PairingKind.MEMBER_SENTINEL.value,
            active_at(Pairing, at),
        )
        .correlate(CommunityRole)
    )
    rows2 = await db.execute(
        select(CommunityRole, Person, func.array(paired.scalar_subquery()))
        .join(Person, Person.id == CommunityRole.person_id)
        .where(
            CommunityRole.org_unit_id.in_([grid.id, grid.parent_id]),
            active_at(CommunityRole, at),
        )
        .order_by(CommunityRole.role, Person.name)
    )
    steward: PersonBrief | None = None
    grid_leader: PersonBrief | None = None
    sentinels: list[SentinelBrief] = []
    for role, person, member_ids in rows2:
        brief = {
            "record_id": role.id,
            "person_id": person.id,
            "name": person.name,
            "mobile_masked": person.mobile_masked,
        }
        if role.role == CommunityRoleKind.COMMUNITY_STEWARD and role.org_unit_id == grid.parent_id:
            steward = PersonBrief(**brief)
        elif role.role == CommunityRoleKind.GRID_LEADER and role.org_unit_id == grid.id:
            grid_leader = PersonBrief(**brief)
        elif role.role == CommunityRoleKind.SENTINEL and role.org_unit_id == grid.id:
            sentinels.append(SentinelBrief(**brief, paired_member_ids=list(member_ids or [])))
    leader = next((m for m in members if m.role is MemberRole.LEADER), None)
    return ResponsibleRead(
        grid=_unit(grid),
        at=at,
        assignment_id=assignment.id if assignment else None,
        assigned_via=assignment.unit_kind if assignment else None,
        team=TeamBrief(
            id=team.id,
            name=team.name,
            institution_id=team.institution_id,
            status=TeamStatus(team.status),
            service_phone=team.service_phone,
        )
        if team
        else None,
        leader=leader,
        members=members,
        sentinels=sentinels,
        community_steward=steward,
        grid_leader=grid_leader,
    )


async def coverage_gaps(db: AsyncSession, *, unit: OrgUnit, at: datetime) -> CoverageGaps:
    """Grids without an active sentinel or a responsible team, sentinels without a paired
    member, villages without a community steward — under ``unit`` at ``at``, four set-based queries."""
    under = OrgUnit.path.startswith(unit.path)
    grid = and_(OrgUnit.kind == OrgUnitKind.GRID.value, under)

    has_sentinel = exists().where(
        CommunityRole.org_unit_id == OrgUnit.id,
        CommunityRole.role == CommunityRoleKind.SENTINEL.value,
        active_at(CommunityRole, at),
    )
    grid_assigned = exists().where(Responsibility.org_unit_id == OrgUnit.id, active_at(Responsibility, at))
    village_assigned = exists().where(Responsibility.org_unit_id == OrgUnit.parent_id, active_at(Responsibility, at))
    has_steward = exists().where(
        CommunityRole.org_unit_id == OrgUnit.id,
        CommunityRole.role == CommunityRoleKind.COMMUNITY_STEWARD.value,
        active_at(CommunityRole, at),
    )
    # Columns, not entities: thousands of rows, and nothing here needs the identity map.
    no_sentinel = await db.execute(select(*_BRIEF).where(grid, ~has_sentinel).order_by(OrgUnit.path))
    no_team = await db.execute(select(*_BRIEF).where(grid, ~grid_assigned, ~village_assigned).order_by(OrgUnit.path))
    no_steward = await db.execute(
        select(*_BRIEF).where(OrgUnit.kind == OrgUnitKind.VILLAGE.value, under, ~has_steward).order_by(OrgUnit.path)
    )
    sentinel = aliased(CommunityRole)
    has_member = exists().where(
        Pairing.community_role_id == sentinel.id,
        Pairing.kind == PairingKind.MEMBER_SENTINEL.value,
        active_at(Pairing, at),
    )
    unpaired = await db.execute(
        select(sentinel.id, Person.id, Person.name, *_BRIEF)
        .join(OrgUnit, OrgUnit.id == sentinel.org_unit_id)
        .join(Person, Person.id == sentinel.person_id)
        .where(
            sentinel.role == CommunityRoleKind.SENTINEL.value,
            active_at(sentinel, at),
            under,
            ~has_member,
        )
        .order_by(OrgUnit.path, Person.name)
    )
    return CoverageGaps(
        org_unit_id=unit.id,
        at=at,
        grids_without_sentinel=_briefs(no_sentinel),
        grids_without_team=_briefs(no_team),
        sentinels_without_member=[
            SentinelGap(
                community_role_id=role_id,
                person_id=person_id,
                name=name,
                grid=UnitBrief(id=grid_id, code=code, name=grid_name),
            )
            for role_id, person_id, name, grid_id, code, grid_name in unpaired
        ],
        villages_without_steward=_briefs(no_steward),
    )


async def member_sentinels(
    db: AsyncSession, *, member: TeamMember, at: datetime, principal: Principal
) -> MemberSentinels:
    """The sentinels a team member is paired with at ``at``, with their grids, within the caller's scope.

    A team may serve several towns (or sit above the caller's): only sentinels whose grid the
    caller may read are listed.
    """
    rows = await db.execute(
        select(Pairing.id, CommunityRole.id, Person, OrgUnit)
        .join(CommunityRole, CommunityRole.id == Pairing.community_role_id)
        .join(Person, Person.id == CommunityRole.person_id)
        .join(OrgUnit, OrgUnit.id == CommunityRole.org_unit_id)
        .where(
            Pairing.team_member_id == member.id,
            Pairing.kind == PairingKind.MEMBER_SENTINEL.value,
            active_at(Pairing, at),
            scope_clause(principal, Permission.ASSIGNMENTS_READ, OrgUnit.path),
        )
        .order_by(OrgUnit.path, Person.name)
    )
    return MemberSentinels(
        team_member_id=member.id,
        at=at,
        sentinels=[
            PairedSentinel(
                pairing_id=pairing_id,
                community_role_id=role_id,
                person_id=person.id,
                name=person.name,
                mobile_masked=person.mobile_masked,
                grid=_unit(unit),
            )
            for pairing_id, role_id, person, unit in rows
        ],
    )


async def roles_of(db: AsyncSession, *, person: Person) -> PersonRoles:
    """Every membership, stewardship and community role of a person, oldest first (three indexed queries)."""
    members = await db.scalars(
        select(TeamMember).where(TeamMember.person_id == person.id).order_by(TeamMember.starts_at)
    )
    stewards = await db.scalars(
        select(InstitutionSteward)
        .where(InstitutionSteward.person_id == person.id)
        .order_by(InstitutionSteward.starts_at)
    )
    community = await db.scalars(
        select(CommunityRole).where(CommunityRole.person_id == person.id).order_by(CommunityRole.starts_at)
    )
    return PersonRoles(
        person_id=person.id,
        memberships=[MemberRead.model_validate(m) for m in members],
        stewardships=[StewardRead.model_validate(s) for s in stewards],
        community_roles=[CommunityRoleRead.model_validate(c) for c in community],
    )
