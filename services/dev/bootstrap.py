"""The development district: Yubei (500112) with its 30 towns, a demo roster imported
through the roster import (services/dev/demo_roster.py), and one demo login per role.

Runs only when the database holds no district, so a second ``make run`` changes nothing.
"""

from __future__ import annotations

import csv
import functools
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.accounts import users
from services.core.accounts.models import User
from services.core.accounts.schemas import GrantCreate
from services.core.accounts.service import active_grants
from services.core.assignments.models import CommunityRoleKind
from services.core.audit import service as audit
from services.core.org import service as org_service
from services.core.org.models import OrgUnit, OrgUnitCategory, OrgUnitKind
from services.core.roster import service as roster_service
from services.core.roster import workbook
from services.core.security.passwords import hash_secret
from services.core.security.pii import PiiCipher
from services.core.security.principal import Principal
from services.core.security.roles import Role
from services.core.socialwork.models import SocialWorkDepartment
from services.core.teams import people as people_service
from services.core.teams.models import Institution, Person
from services.core.volunteers import common as volunteer_calendar
from services.core.volunteers.models import Volunteer
from services.dev.demo_roster import DEMO_TOWNS, demo_roster

TOWNS_CSV = Path(__file__).parent / "data" / "yubei-towns.csv"
DEMO_PASSWORD = "gridcare-demo-2026"  # noqa: S105 - printed demo login, dev only


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    where: str


async def bootstrap_demo(db: AsyncSession, *, pii: PiiCipher) -> list[DemoLogin]:
    """Create the demo district if the database has none; return the demo logins."""
    if await db.scalar(select(OrgUnit.id).where(OrgUnit.kind == OrgUnitKind.DISTRICT).limit(1)):
        return []
    district = await org_service.create_district(db, code="500112", name="渝北区")
    towns: dict[str, OrgUnit] = {}
    with TOWNS_CSV.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            code = row["code"] + "000"
            category = OrgUnitCategory.SUBDISTRICT if row["name"].endswith("街道") else OrgUnitCategory.TOWN
            town = OrgUnit(
                kind=OrgUnitKind.TOWN,
                category=category,
                code=code,
                name=row["name"],
                parent_id=district.id,
                district_id=district.id,
                path=f"{district.path}{code}/",
            )
            db.add(town)
            towns[row["code"]] = town
    await db.flush()
    admin = await _login(db, "admin", "渝北区卫健委 管理员", Role.DISTRICT_ADMIN, district)
    principal = Principal(
        user_id=admin.id,
        username="admin",
        kind="person",
        session_id=uuid.uuid4(),
        grants=tuple(await active_grants(db, user_id=admin.id)),
    )
    roster = demo_roster({code: town.name for code, town in towns.items()})
    content = workbook.write(roster, title="渝北区(演示)")
    await roster_service.import_roster(db, principal=principal, target=district, content=content, pii=pii)

    town = towns[DEMO_TOWNS[0]]
    centre = roster.institutions[5]  # the first town's health centre
    team_leader, team_member = roster.members[12], roster.members[13]  # its first team
    village = next(c for c in roster.community if c.role is CommunityRoleKind.COMMUNITY_STEWARD)
    grid_leader = next(c for c in roster.community if c.role is CommunityRoleKind.GRID_LEADER)
    sentinel = next(c for c in roster.community if c.role is CommunityRoleKind.SENTINEL)
    institution = await db.scalar(select(Institution).where(Institution.credit_code == centre.credit_code))
    # The district people's hospital: its referral desk (转诊办) and its HIS, bound to it.
    hospital_row = roster.institutions[0]
    hospital = await db.scalar(select(Institution).where(Institution.credit_code == hospital_row.credit_code))
    hospital_id = hospital.id if hospital else None
    if hospital is not None:  # its social-work department (社会工作部), with a social worker and a supervisor
        db.add(
            SocialWorkDepartment(
                institution_id=hospital.id,
                name="社会工作部",
                org_unit_id=hospital.org_unit_id,
                district_id=hospital.district_id,
                created_by=admin.id,
            )
        )
    units = {u.code: u for u in (await db.scalars(select(OrgUnit).where(OrgUnit.district_id == district.id))).all()}
    logins: list[tuple[str, Role, str, OrgUnit, str | None, uuid.UUID | None]] = [
        ("commission", Role.DISTRICT_COMMISSION, "渝北区卫健委 督导", district, None, None),
        ("auditor", Role.AUDITOR, "数据安全审计员", district, None, None),
        ("town1", Role.TOWN_SUPERVISOR, f"{town.name} 督导", town, None, None),
        ("town2", Role.TOWN_SUPERVISOR, f"{towns[DEMO_TOWNS[1]].name} 督导", towns[DEMO_TOWNS[1]], None, None),
        (
            "steward",
            Role.INSTITUTION_STEWARD,
            f"{centre.name} 家医管家",
            town,
            centre.steward_mobile,
            institution.id if institution else None,
        ),
        ("leader", Role.TEAM_LEADER, f"{team_leader.team_name} 团队长", town, team_leader.mobile, None),
        ("member", Role.TEAM_MEMBER, f"{team_member.team_name} 成员", town, team_member.mobile, None),
        ("cstew", Role.COMMUNITY_STEWARD, "社区健康管家", units[village.unit_code], village.mobile, None),
        ("gridlead", Role.GRID_LEADER, "网格长", units[grid_leader.unit_code], grid_leader.mobile, None),
        ("sentinel", Role.SENTINEL, "健康哨兵", units[sentinel.unit_code], sentinel.mobile, None),
        ("desk", Role.REFERRAL_DESK, f"{hospital_row.name} 转诊办", district, None, hospital_id),
        ("his", Role.HIS_CLIENT, f"{hospital_row.name} HIS", district, None, hospital_id),
        ("sw", Role.SOCIAL_WORKER, f"{hospital_row.name} 社会工作部 社工", district, None, hospital_id),
        ("swsup", Role.SOCIAL_WORK_SUPERVISOR, f"{hospital_row.name} 社会工作部 督导", district, None, hospital_id),
        ("volunteer", Role.VOLUNTEER, f"{hospital_row.name} 志愿者", district, None, hospital_id),
    ]
    out = [DemoLogin(username="admin", role=Role.DISTRICT_ADMIN.value, where=district.name)]
    for username, role, name, unit, mobile, institution_id in logins:
        user = await _login(db, username, name, role, unit, institution_id=institution_id)
        if mobile is not None:
            person = await db.scalar(
                select(Person).where(
                    Person.district_id == district.id, Person.mobile_bidx == people_service.mobile_index(pii, mobile)
                )
            )
            if person is not None:
                person.user_id = user.id
                name = f"{person.name}, {name}"
        place = unit.name
        if unit.kind == OrgUnitKind.GRID:
            village_of = next((u for u in units.values() if u.id == unit.parent_id), None)
            place = f"{village_of.name if village_of else ''}{unit.name} {unit.code}"
        out.append(DemoLogin(username=username, role=role.value, where=f"{place} ({name})"))
    await db.flush()
    await _demo_volunteer(db, hospital)
    return out


async def _demo_volunteer(db: AsyncSession, hospital: Institution | None) -> None:
    """The volunteer login's record in the hospital's social-work department, paired with its social worker."""
    department = await db.scalar(
        select(SocialWorkDepartment).where(SocialWorkDepartment.institution_id == (hospital.id if hospital else None))
    )
    if department is None:
        return
    accounts = dict(
        (await db.execute(select(User.username, User.id).where(User.username.in_(("sw", "volunteer"))))).all()
    )
    db.add(
        Volunteer(
            name="志愿者 小周",
            skills=["guidance", "accompaniment"],
            availability=["sat_am", "sat_pm"],
            paired_user_id=accounts.get("sw"),
            user_id=accounts.get("volunteer"),
            registered_on=volunteer_calendar.today(),
            department_id=department.id,
            institution_id=department.institution_id,
            org_unit_id=department.org_unit_id,
            district_id=department.district_id,
        )
    )
    await db.flush()


async def _login(
    db: AsyncSession, username: str, name: str, role: Role, unit: OrgUnit, *, institution_id: uuid.UUID | None = None
) -> User:
    """A demo account with one grant. Every demo login shares one argon2 hash of the printed demo
    password (hashing is deliberately slow; twelve of them would make up most of ``make run``'s start)."""
    user = User(
        username=username,
        display_name=name,
        kind="system" if role is Role.HIS_CLIENT else "person",
        secret_hash=_demo_hash(),
        org_unit_id=unit.id,
    )
    db.add(user)
    await db.flush()
    await users.add_grant(
        db, None, user, GrantCreate(role=role, org_unit_id=unit.id, institution_id=institution_id), field="grants.0"
    )
    await audit.record(
        db,
        actor_id=None,
        action="user.created",
        subject_type="user",
        subject_id=user.id,
        org_path=unit.path,
        details={"username": username, "kind": user.kind},
    )
    return user


@functools.cache
def _demo_hash() -> str:
    return hash_secret(DEMO_PASSWORD)
