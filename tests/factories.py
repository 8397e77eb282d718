"""Plain async factories: ``await make_town(db, district)`` and friends."""

from __future__ import annotations

import itertools
import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.org import service as org_service
from services.core.org.models import OrgUnit, OrgUnitKind
from services.core.security.models import RoleGrant, User
from services.core.security.passwords import hash_secret
from services.core.security.roles import Role

PASSWORD = "correct-horse-battery"
_PASSWORD_HASH = hash_secret(PASSWORD)  # hashed once: argon2 is slow on purpose
_counter = itertools.count(1)


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
