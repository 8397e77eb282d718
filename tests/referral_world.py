"""A district for referral tests: a town's primary institution with a team responsible for a village
(leader and member with accounts), its steward, a signed resident; the district people's hospital with
its referral desk, its steward and its HIS client; a second hospital with its own HIS; the commission."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.accounts.models import RoleGrant, User
from services.core.security.roles import Role
from services.core.signing.service import today
from services.core.teams.models import InstitutionKind, InstitutionSteward
from tests.factories import (
    make_assignment,
    make_child,
    make_district,
    make_institution,
    make_member,
    make_resident,
    make_signing,
    make_staff,
    make_team,
    make_user,
    snapshot,
)
from tests.report_world import linked


@dataclass
class ReferralWorld:
    district: Any
    town: Any
    village: Any
    grid: Any
    centre: Any  # the town's health centre (primary)
    team: Any
    leader: Any
    member: Any
    centre_steward: Any
    hospital: Any  # 区人民医院
    desk: Any
    hospital_steward: Any
    his: Any
    other_hospital: Any
    other_his: Any
    commission: Any
    resident: Any


async def bound_user(db: AsyncSession, role: Role, unit: Any, institution: Any, *, kind: str = "person") -> User:
    """An account whose one grant names ``institution`` (a desk, a HIS client)."""
    user = await make_user(db, Role.TEAM_MEMBER, unit, kind=kind)  # the factory's grant, replaced below
    grant = await db.get(RoleGrant, (await _grant_id(db, user)))
    assert grant is not None
    grant.role, grant.institution_id = role.value, institution.id
    await db.flush()
    return user


async def _grant_id(db: AsyncSession, user: User) -> Any:
    from sqlalchemy import select

    return await db.scalar(select(RoleGrant.id).where(RoleGrant.user_id == user.id))


async def build_referral_world(db: AsyncSession, *, at: datetime | None = None) -> ReferralWorld:
    """The network, every period starting at ``at`` (default now)."""
    at = at or clock.now()
    district = await make_district(db)
    town = await make_child(db, district, number=1)
    village = await make_child(db, town, number=1)
    grid = await make_child(db, village, number=1)
    centre = await make_institution(db, town)
    team = await make_team(db, centre)
    await make_assignment(db, team, village, starts_at=at)

    async def staff(role: Role, member_role: str | None, institution: Any, unit: Any) -> User:
        person = await make_staff(db, institution)
        user = await make_user(db, role, unit)
        await linked(db, person, user)
        if member_role:
            await make_member(db, team, person, role=member_role, starts_at=at)
        return user

    leader = await staff(Role.TEAM_LEADER, "leader", centre, town)
    member = await staff(Role.TEAM_MEMBER, "member", centre, town)
    centre_steward = await staff(Role.INSTITUTION_STEWARD, None, centre, town)
    hospital = await make_institution(db, district, kind=InstitutionKind.DISTRICT_HOSPITAL)
    other = await make_institution(db, district, kind=InstitutionKind.TCM_HOSPITAL)
    hospital_steward_person = await make_staff(db, hospital)
    hospital_steward = await make_user(db, Role.INSTITUTION_STEWARD, district)
    await linked(db, hospital_steward_person, hospital_steward)
    from sqlalchemy import select

    from services.core.teams.models import Person

    for institution, user in ((hospital, hospital_steward), (centre, centre_steward)):
        person_id = await db.scalar(select(Person.id).where(Person.user_id == user.id))
        db.add(
            InstitutionSteward(
                institution_id=institution.id, person_id=person_id, starts_at=at, district_id=district.id
            )
        )
    desk = await bound_user(db, Role.REFERRAL_DESK, district, hospital)
    his = await bound_user(db, Role.HIS_CLIENT, district, hospital, kind="system")
    other_his = await bound_user(db, Role.HIS_CLIENT, district, other, kind="system")
    commission = await make_user(db, Role.DISTRICT_COMMISSION, district)
    resident = await make_resident(db, grid)
    await make_signing(db, resident, team, signed_by=member.id, starts_on=today())
    await db.flush()
    return ReferralWorld(
        district=snapshot(district),
        town=snapshot(town),
        village=snapshot(village),
        grid=snapshot(grid),
        centre=centre,
        team=team,
        leader=snapshot(leader),
        member=snapshot(member),
        centre_steward=snapshot(centre_steward),
        hospital=hospital,
        desk=snapshot(desk),
        hospital_steward=snapshot(hospital_steward),
        his=snapshot(his),
        other_hospital=other,
        other_his=snapshot(other_his),
        commission=snapshot(commission),
        resident=snapshot(resident),
    )


def consent(at: datetime | None = None) -> dict[str, Any]:
    return {"given_by": "patient", "method": "written", "given_at": (at or clock.now()).isoformat()}


def upward_body(world: ReferralWorld, **over: Any) -> dict[str, Any]:
    body = {
        "direction": "upward",
        "resident_id": str(world.resident.id),
        "to_institution_id": str(world.hospital.id),
        "to_department": "心内科",
        "department_kind": "chronic_disease",
        "urgency": "routine",
        "reason": "血压控制不佳,需专科评估",
        "clinical_summary": "高血压 10 年,三药联合仍 170/100",
        "consent": consent(),
    }
    return body | over


def downward_body(world: ReferralWorld, **over: Any) -> dict[str, Any]:
    body = {
        "direction": "downward",
        "resident_id": str(world.resident.id),
        "reason": "术后康复,需社区继续护理",
        "clinical_summary": "PCI 术后第 5 天出院",
        "consent": consent(),
    }
    return body | over
