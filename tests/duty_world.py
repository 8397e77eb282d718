"""A small district for the duties: two towns, two primary teams with leaders who have accounts, the
district hospitals with stewards, signed residents; built at ``at`` (China time matters: see the tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.accounts.models import User
from services.core.org.models import OrgUnit
from services.core.security.roles import Role
from services.core.teams.models import InstitutionKind, InstitutionSteward, Person
from tests.factories import (
    make_assignment,
    make_child,
    make_district,
    make_institution,
    make_member,
    make_staff,
    make_team,
    make_user,
    snapshot,
)


@dataclass
class DutyWorld:
    district: OrgUnit
    town: OrgUnit
    other_town: OrgUnit
    village: OrgUnit  # team A's
    grid: OrgUnit  # in team A's village
    other_village: OrgUnit
    other_grid: OrgUnit  # team B's
    institution: Any  # the town's health centre
    team_a: Any
    team_b: Any
    leader_a: User
    member_a: User
    leader_b: User
    hospital: Any  # district level
    tcm_hospital: Any  # district level
    hospital_steward: User
    tcm_steward: User
    centre_steward: User  # the town's health centre
    admin: User
    supervisor: User  # of the town
    other_supervisor: User  # of the other town


async def _account(db: AsyncSession, person: Any, role: Role, unit: Any) -> User:
    user = await make_user(db, role, unit)
    await db.execute(update(Person).where(Person.id == person.id).values(user_id=user.id))
    return user


async def _steward(db: AsyncSession, institution: Any, unit: Any) -> Any:
    person = await make_staff(db, institution)
    db.add(
        InstitutionSteward(
            institution_id=institution.id, person_id=person.id, starts_at=clock.now(), district_id=unit.district_id
        )
    )
    return snapshot(await _account(db, person, Role.INSTITUTION_STEWARD, unit))


async def build_duty_world(db: AsyncSession, *, at: datetime) -> DutyWorld:
    clock.freeze(at)
    district = await make_district(db)
    town = await make_child(db, district, number=1, name="两路街道")
    other_town = await make_child(db, district, number=2, name="龙溪街道")
    village = await make_child(db, town, number=1, name="空港社区")
    grid = await make_child(db, village, number=1, name="第一网格")
    other_village = await make_child(db, town, number=2, name="双凤桥社区")
    other_grid = await make_child(db, other_village, number=1, name="第二网格")
    institution = await make_institution(db, town)
    team_a = await make_team(db, institution)
    team_b = await make_team(db, institution)
    leader_a_person = await make_staff(db, institution)
    member_a_person = await make_staff(db, institution, discipline="nurse")
    leader_b_person = await make_staff(db, institution)
    await make_member(db, team_a, leader_a_person, role="leader")
    await make_member(db, team_a, member_a_person)
    await make_member(db, team_b, leader_b_person, role="leader")
    await make_assignment(db, team_a, village)
    await make_assignment(db, team_b, other_grid)
    hospital = await make_institution(db, district, kind=InstitutionKind.DISTRICT_HOSPITAL)
    tcm_hospital = await make_institution(db, district, kind=InstitutionKind.TCM_HOSPITAL)
    world = DutyWorld(
        district=district,
        town=town,
        other_town=other_town,
        village=village,
        grid=grid,
        other_village=other_village,
        other_grid=other_grid,
        institution=institution,
        team_a=team_a,
        team_b=team_b,
        leader_a=await _account(db, leader_a_person, Role.TEAM_LEADER, town),
        member_a=await _account(db, member_a_person, Role.TEAM_MEMBER, town),
        leader_b=await _account(db, leader_b_person, Role.TEAM_LEADER, town),
        hospital=hospital,
        tcm_hospital=tcm_hospital,
        hospital_steward=await _steward(db, hospital, district),
        tcm_steward=await _steward(db, tcm_hospital, district),
        centre_steward=await _steward(db, institution, town),
        admin=await make_user(db, Role.DISTRICT_ADMIN, district),
        supervisor=await make_user(db, Role.TOWN_SUPERVISOR, town),
        other_supervisor=await make_user(db, Role.TOWN_SUPERVISOR, other_town),
    )
    await db.flush()
    # Detached copies: a request that fails rolls the shared session back and would expire the rows.
    for name, value in vars(world).items():
        if isinstance(value, (OrgUnit, User)):
            setattr(world, name, snapshot(value))
    return world
