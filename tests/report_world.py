"""A grid with its whole network for sentinel-report tests: a responsible team (leader, a member
paired with the sentinel, an unpaired member), the institution's steward, the village's
community steward, the town supervisor, the district commission, a sentinel and a resident.
Every person has an account (``person.user_id``) and the matching role grant."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.accounts.models import User
from services.core.assignments.models import Pairing
from services.core.security.principal import Grant, Principal
from services.core.security.roles import Role
from services.core.teams.models import InstitutionSteward, Person
from tests.factories import (
    make_assignment,
    make_child,
    make_community_role,
    make_district,
    make_institution,
    make_member,
    make_resident,
    make_staff,
    make_team,
    make_user,
    make_worker,
    snapshot,
)


@dataclass
class ReportWorld:
    district: Any
    town: Any
    village: Any
    grid: Any
    bare_grid: Any  # a grid of another village with no responsible team
    institution: Any
    team: Any
    leader: Any
    paired: Any
    unpaired: Any
    steward: Any
    community: Any
    supervisor: Any
    commission: Any
    sentinel: Any
    other_sentinel: Any
    bare_sentinel: Any  # the sentinel of the grid without a team
    resident: Any


async def linked(db: AsyncSession, person: Any, user: User) -> None:
    """Tie a person to an account."""
    await db.execute(update(Person).where(Person.id == person.id).values(user_id=user.id))


async def build_report_world(db: AsyncSession, *, at: datetime) -> ReportWorld:
    """The network, every period starting at ``at``."""
    district = await make_district(db)
    town = await make_child(db, district, number=1)
    village = await make_child(db, town, number=1)
    grid = await make_child(db, village, number=1)
    bare_village = await make_child(db, town, number=2)
    bare_grid = await make_child(db, bare_village, number=1)
    institution = await make_institution(db, town)
    team = await make_team(db, institution)
    await make_assignment(db, team, village, starts_at=at)

    async def staff(role: Role, member_role: str | None) -> tuple[User, Any, Any]:
        person = await make_staff(db, institution)
        user = await make_user(db, role, town)
        await linked(db, person, user)
        member = await make_member(db, team, person, role=member_role, starts_at=at) if member_role else None
        return user, person, member

    leader, _, _ = await staff(Role.TEAM_LEADER, "leader")
    paired, _, paired_member = await staff(Role.TEAM_MEMBER, "member")
    unpaired, _, _ = await staff(Role.TEAM_MEMBER, "member")
    steward, steward_person, _ = await staff(Role.INSTITUTION_STEWARD, None)
    db.add(
        InstitutionSteward(
            institution_id=institution.id, person_id=steward_person.id, starts_at=at, district_id=district.id
        )
    )

    async def community_person(role: Role, unit: Any, kind: str) -> tuple[User, Any]:
        worker = await make_worker(db, unit)
        user = await make_user(db, role, unit)
        await linked(db, worker, user)
        community_role = await make_community_role(db, kind, unit, worker, starts_at=at)
        return user, community_role

    community, _ = await community_person(Role.COMMUNITY_STEWARD, village, "community_steward")
    sentinel, sentinel_role = await community_person(Role.SENTINEL, grid, "sentinel")
    other_sentinel, _ = await community_person(Role.SENTINEL, grid, "sentinel")
    bare_sentinel, _ = await community_person(Role.SENTINEL, bare_grid, "sentinel")
    db.add(
        Pairing(
            kind="member_sentinel",
            team_member_id=paired_member.id,
            community_role_id=sentinel_role.id,
            org_unit_id=grid.id,
            starts_at=at,
            district_id=district.id,
        )
    )
    supervisor = await make_user(db, Role.TOWN_SUPERVISOR, town)
    commission = await make_user(db, Role.DISTRICT_COMMISSION, district)
    resident = await make_resident(db, grid)
    await db.flush()
    return ReportWorld(
        district=snapshot(district),
        town=snapshot(town),
        village=snapshot(village),
        grid=snapshot(grid),
        bare_grid=snapshot(bare_grid),
        institution=institution,
        team=team,
        leader=snapshot(leader),
        paired=snapshot(paired),
        unpaired=snapshot(unpaired),
        steward=snapshot(steward),
        community=snapshot(community),
        supervisor=snapshot(supervisor),
        commission=snapshot(commission),
        sentinel=snapshot(sentinel),
        other_sentinel=snapshot(other_sentinel),
        bare_sentinel=snapshot(bare_sentinel),
        resident=snapshot(resident),
    )


def sentinel_principal(user_id: uuid.UUID, grid: Any) -> Principal:
    """A sentinel's principal for calling the service directly."""
    return Principal(
        user_id=user_id,
        username="sentinel",
        kind="person",
        session_id=uuid.uuid4(),
        grants=(Grant(uuid.uuid4(), Role.SENTINEL, grid.id, grid.path),),
    )


def health_need(grid_id: uuid.UUID, resident_id: uuid.UUID | None, **over: Any) -> dict[str, Any]:
    """A valid health-need report body."""
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "grid_id": str(grid_id),
        "resident_id": str(resident_id) if resident_id else None,
        "details": {"category": "health_need", "needs": ["home_visit"], "description": "腿脚不便，希望上门随访"},
    }
    body.update(over)
    return body


def urgent_risk(grid_id: uuid.UUID, resident_id: uuid.UUID, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "grid_id": str(grid_id),
        "resident_id": str(resident_id),
        "details": {
            "category": "urgent_risk",
            "signs": ["stopped_medication", "threatens_others"],
            "happening_now": True,
            "description": "停药一周，情绪激动，扬言伤人",
        },
    }
    body.update(over)
    return body
