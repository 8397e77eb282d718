"""Plain async factories: ``await make_town(db, district)`` and friends."""

from __future__ import annotations

import base64
import itertools
import uuid
from datetime import date

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.cn import ric

from services.core import clock
from services.core.org.models import OrgUnit, OrgUnitCategory, OrgUnitKind
from services.core.residents.models import KeyPopulation, Resident, ResidentTag
from services.core.residents.service import seal_id_number, seal_phone
from services.core.security.models import RoleGrant, User
from services.core.security.passwords import hash_secret
from services.core.security.pii import PiiCipher
from services.core.security.roles import Role

PASSWORD = "correct-horse-battery"
_PASSWORD_HASH = hash_secret(PASSWORD)  # hashed once: argon2 is slow on purpose
_counter = itertools.count(1)


async def make_district(db: AsyncSession, code: str = "500112", name: str = "渝北区") -> OrgUnit:
    unit_id = uuid.uuid4()
    unit = OrgUnit(
        id=unit_id,
        kind=OrgUnitKind.DISTRICT,
        category=OrgUnitCategory.DISTRICT,
        code=code,
        name=name,
        parent_id=None,
        district_id=unit_id,
        path=f"/{code}/",
    )
    db.add(unit)
    await db.flush()
    return unit


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


# ---------------------------------------------------------------- residents

TEST_PII = PiiCipher(
    keys={1: base64.b64decode("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")}, blind_key=b"test-blind-index-key"
)


def resident_id_number(birth: date = date(1980, 5, 17), *, male: bool = True, region: str = "500112") -> str:
    """A valid 18-digit resident ID (right check character) for ``birth``."""
    seq = next(_counter) % 50 * 2 + (1 if male else 0)
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
