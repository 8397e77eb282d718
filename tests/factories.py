"""Plain async factories: ``await make_town(db, district)`` and friends."""

from __future__ import annotations

import base64
import itertools
import uuid
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

import httpx
from argon2 import PasswordHasher
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.cn import ric, uscc

from services.core import clock
from services.core.accounts.models import RoleGrant, User
from services.core.assignments.models import CommunityRole, Responsibility
from services.core.org import service as org_service
from services.core.org.models import OrgUnit, OrgUnitKind
from services.core.residents.models import KeyPopulation, Resident, ResidentTag
from services.core.residents.service import seal_id_number, seal_phone
from services.core.security.pii import PiiCipher
from services.core.security.roles import Role
from services.core.signing.models import Signing
from services.core.socialwork.models import CLIENT_NAME, CaseWorker, SocialWorkCase, SocialWorkDepartment
from services.core.teams import people as people_service
from services.core.teams.models import (
    LEVEL_OF_KIND,
    Institution,
    InstitutionKind,
    Person,
    Team,
    TeamMember,
)

PASSWORD = "correct-horse-battery"
# Argon2id at its lowest cost. A hash carries its own parameters, so the product's unchanged verification
# checks these fixture accounts in microseconds instead of ~0.17 s of CPU on four threads per login (the
# production parameters are what the product hashes new secrets with; tests/core/test_passwords.py).
_PASSWORD_HASH = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
_counter = itertools.count(1)
_id_numbers = itertools.count(1)


async def make_district(db: AsyncSession, code: str = "500112", name: str = "渝北区") -> OrgUnit:
    """A district, as the CLI creates one."""
    return await org_service.create_district(db, code=code, name=name)


async def make_child(
    db: AsyncSession, parent: OrgUnit, *, number: int | None = None, name: str | None = None
) -> OrgUnit:
    """A town, village or grid under ``parent`` with a well-formed code."""
    n = number or next(_counter) % 900 + 1
    kind = {"district": OrgUnitKind.TOWN, "town": OrgUnitKind.VILLAGE, "village": OrgUnitKind.GRID}[parent.kind]
    if kind is OrgUnitKind.TOWN:
        code = f"{parent.code}{n:03d}000"
    elif kind is OrgUnitKind.VILLAGE:
        code = f"{parent.code[:9]}{n:03d}"
    else:
        code = f"{parent.code}{n:03d}"
    unit = OrgUnit(
        kind=kind,
        category=kind.value,
        code=code,
        name=name or f"{kind.value} {code}",
        parent_id=parent.id,
        district_id=parent.district_id,
        path=f"{parent.path}{code}/",
    )
    db.add(unit)
    await db.flush()
    return unit


async def make_user(db: AsyncSession, role: Role, unit: OrgUnit, *, kind: str = "person") -> User:
    """An account with one active grant of ``role`` over ``unit``; password ``PASSWORD``."""
    user = User(
        username=f"user{next(_counter)}-{uuid.uuid4().hex[:6]}",
        display_name=f"{role.value} test",
        kind=kind,
        secret_hash=_PASSWORD_HASH,
        org_unit_id=unit.id,
    )
    db.add(user)
    await db.flush()
    db.add(RoleGrant(user_id=user.id, role=role.value, org_unit_id=unit.id, starts_at=clock.now()))
    await db.flush()
    return user


async def login(client: httpx.AsyncClient, user: User, password: str = PASSWORD) -> dict[str, str]:
    """Log in over the API; returns the token response."""
    grant = "client_credentials" if user.kind == "system" else "password"
    form = {"grant_type": grant}
    form.update(
        {"client_id": user.username, "client_secret": password}
        if user.kind == "system"
        else {"username": user.username, "password": password}
    )
    response = await client.post("/oauth/token", data=form)
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


async def auth_headers(client: httpx.AsyncClient, user: User) -> dict[str, str]:
    """``Authorization`` headers for ``user``."""
    tokens = await login(client, user)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def snapshot(row: Any) -> Any:
    """A detached copy of a row's columns: a failed API request rolls the shared session back,
    which expires ORM objects, and a test must still be able to read the ids it made."""
    return SimpleNamespace(**{attr.key: getattr(row, attr.key) for attr in inspect(row).mapper.column_attrs})


def credit_code(n: int | None = None) -> str:
    """A valid unified social credit code (GB 32100), different for each ``n``."""
    body = f"12500112{n if n is not None else next(_counter):09d}"
    return body + uscc.calc_check_digit(body + "0")


def mobile() -> str:
    """A well-formed mainland mobile number."""
    return f"139{next(_counter):08d}"


async def make_institution(
    db: AsyncSession, unit: Any, *, kind: InstitutionKind = InstitutionKind.TOWNSHIP_HEALTH_CENTER
) -> Any:
    row = Institution(
        name=f"institution {next(_counter)}",
        kind=kind,
        level=LEVEL_OF_KIND[kind],
        credit_code=credit_code(),
        org_unit_id=unit.id,
        district_id=unit.district_id,
    )
    db.add(row)
    await db.flush()
    return snapshot(row)


async def make_staff(db: AsyncSession, institution: Any, *, discipline: str = "doctor") -> Any:
    row = Person(
        name=f"staff {next(_counter)}",
        kind="staff",
        discipline=discipline,
        id=uuid.uuid4(),
        institution_id=institution.id,
        org_unit_id=institution.org_unit_id,
        district_id=institution.district_id,
    )
    people_service.seal_mobile(row, TEST_PII, mobile())
    db.add(row)
    await db.flush()
    return snapshot(row)


async def make_worker(db: AsyncSession, unit: Any) -> Any:
    row = Person(
        name=f"worker {next(_counter)}",
        kind="community_worker",
        discipline=None,
        id=uuid.uuid4(),
        org_unit_id=unit.id,
        district_id=unit.district_id,
    )
    people_service.seal_mobile(row, TEST_PII, mobile())
    db.add(row)
    await db.flush()
    return snapshot(row)


async def make_team(db: AsyncSession, institution: Any, *, level: str = "village") -> Any:
    row = Team(
        institution_id=institution.id,
        name=f"team {next(_counter)}",
        kind="primary",
        level=level,
        status="active",
        org_unit_id=institution.org_unit_id,
        district_id=institution.district_id,
    )
    db.add(row)
    await db.flush()
    return snapshot(row)


async def make_member(
    db: AsyncSession, team: Any, person: Any, *, role: str = "member", starts_at: datetime | None = None
) -> Any:
    row = TeamMember(
        team_id=team.id,
        person_id=person.id,
        role=role,
        discipline=person.discipline or "other",
        starts_at=starts_at or clock.now(),
        ends_at=None,
        district_id=team.district_id,
    )
    db.add(row)
    await db.flush()
    return snapshot(row)


async def make_assignment(
    db: AsyncSession, team: Any, unit: Any, *, starts_at: datetime | None = None, ends_at: datetime | None = None
) -> Any:
    row = Responsibility(
        team_id=team.id,
        org_unit_id=unit.id,
        unit_kind=unit.kind,
        starts_at=starts_at or clock.now(),
        ends_at=ends_at,
        district_id=unit.district_id,
    )
    db.add(row)
    await db.flush()
    return snapshot(row)


async def make_community_role(
    db: AsyncSession, role: str, unit: Any, person: Any | None = None, *, starts_at: datetime | None = None
) -> Any:
    person = person or await make_worker(db, unit)
    row = CommunityRole(
        role=role,
        person_id=person.id,
        org_unit_id=unit.id,
        starts_at=starts_at or clock.now(),
        ends_at=None,
        district_id=unit.district_id,
    )
    db.add(row)
    await db.flush()
    return snapshot(row)


# ---------------------------------------------------------------- residents

TEST_PII = PiiCipher(
    keys={1: base64.b64decode("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")}, blind_key=b"test-blind-index-key"
)


def resident_id_number(birth: date = date(1980, 5, 17), *, male: bool = True, region: str = "500112") -> str:
    """A valid 18-digit resident ID (right check character) for ``birth``."""
    # A counter of its own and the whole sequence range (500 per sex): a module sharing one world across its
    # tests (tests/shared_world.py) makes many residents of one birth date and district in one transaction.
    seq = next(_id_numbers) % 500 * 2 + (1 if male else 0)
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


async def make_resident(
    db: AsyncSession,
    grid: OrgUnit,
    *,
    name: str = "张三",
    id_number: str | None = None,
    phone: str | None = "13812345678",
    birth_on: date = date(1980, 5, 17),
    sex: str = "male",
    tags: tuple[KeyPopulation, ...] = (),
    reported_by: uuid.UUID | None = None,
    pii: PiiCipher = TEST_PII,
) -> Resident:
    """A resident stored as the service stores one (encrypted, indexed, masked)."""
    rid = uuid.uuid4()
    number = id_number or resident_id_number(birth_on, male=sex == "male")
    sealed = seal_id_number(pii, rid, number)
    resident = Resident(
        id=rid,
        district_id=grid.district_id,
        grid_id=grid.id,
        name=name,
        sex=sex,
        birth_on=birth_on,
        id_type="01",
        id_number_enc=sealed.enc,
        id_number_bidx=sealed.bidx,
        id_number_masked=sealed.masked,
        address="幸福路 1 号",
    )
    if phone:
        p = seal_phone(pii, rid, phone)
        resident.phone_enc, resident.phone_bidx, resident.phone_masked = p.enc, p.bidx, p.masked
    db.add(resident)
    await db.flush()
    for population in tags:
        db.add(
            ResidentTag(
                resident_id=rid,
                district_id=grid.district_id,
                population=population.value,
                since_on=birth_on if population is not KeyPopulation.ELDERLY_65_PLUS else date(2024, 1, 1),
                source="clinic" if reported_by is None else "sentinel_report",
                reported_by=reported_by,
            )
        )
    await db.flush()
    return resident


# ---------------------------------------------------------------- signings


async def make_signing(
    db: AsyncSession,
    resident: Any,
    team: Any,
    *,
    signed_by: uuid.UUID,
    starts_on: date,
    ends_on: date | None = None,
    package: str = "basic",
) -> Any:
    """A signing stored as the service stores one (no responsibility check: set the world up right)."""
    end = ends_on or starts_on.replace(year=starts_on.year + 1)
    row = Signing(
        district_id=resident.district_id,
        resident_id=resident.id,
        team_id=team.id,
        package=package,
        starts_on=starts_on,
        ends_on=end,
        contracted_ends_on=end,
        signed_by=signed_by,
    )
    db.add(row)
    await db.flush()
    return snapshot(row)


async def make_department(db: AsyncSession, institution: Any, *, is_station: bool = False) -> Any:
    """An institution's social-work department (社会工作部; a station, 社工站, when ``is_station``)."""
    row = SocialWorkDepartment(
        institution_id=institution.id,
        name="社工站" if is_station else "社会工作部",
        is_station=is_station,
        org_unit_id=institution.org_unit_id,
        district_id=institution.district_id,
    )
    db.add(row)
    await db.flush()
    return snapshot(row)


async def make_social_worker(db: AsyncSession, department: Any, *, role: Role = Role.SOCIAL_WORKER) -> User:
    """An account whose one grant is ``role`` (a social worker, or ``Role.SOCIAL_WORK_SUPERVISOR``) in
    ``department``: the grant names the department's institution, over the institution's org unit."""
    user = User(
        username=f"sw{next(_counter)}-{uuid.uuid4().hex[:6]}",
        display_name=f"{role.value} test",
        kind="person",
        secret_hash=_PASSWORD_HASH,
        org_unit_id=department.org_unit_id,
    )
    db.add(user)
    await db.flush()
    db.add(
        RoleGrant(
            user_id=user.id,
            role=role.value,
            org_unit_id=department.org_unit_id,
            institution_id=department.institution_id,
            starts_at=clock.now(),
        )
    )
    await db.flush()
    return user


async def make_case(
    db: AsyncSession,
    department: Any,
    opened_by: Any,
    *,
    resident: Any = None,
    status: str = "intake",
    source: str = "self",
) -> Any:
    """A case in ``department`` for ``resident`` (or a patient named 患者 when None), its social worker
    ``opened_by``; no history row (a fixture, not an intake)."""
    row = SocialWorkCase(
        id=uuid.uuid4(),
        district_id=department.district_id,
        department_id=department.id,
        institution_id=department.institution_id,
        org_unit_id=department.org_unit_id,
        status=status,
        source=source,
        resident_id=resident.id if resident is not None else None,
        grid_id=resident.grid_id if resident is not None else None,
        client_name_masked="患*",
        service_areas=["psychosocial"],
        risk_level="low",
        opened_at=clock.now(),
        opened_by=opened_by.id,
    )
    if resident is None:
        row.client_name_enc = CLIENT_NAME.seal(TEST_PII, row.id, "患者")
    db.add(row)
    await db.flush()
    db.add(CaseWorker(case_id=row.id, user_id=opened_by.id, lead=True, assigned_at=clock.now()))
    await db.flush()
    return snapshot(row)
