"""The district's last administrator: their grant cannot be ended nor their account disabled (409
``last_administrator``), and two administrators ending each other's grants at once cannot both win."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.api.app import create_app
from services.core import clock
from services.core.accounts import users
from services.core.accounts.models import RoleGrant
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.periods import active_at
from services.core.security.principal import Grant, Principal
from services.core.security.roles import Role
from services.dev.embedded import drop_database
from tests.api.test_auth import assert_problem
from tests.conftest import Servers, fresh_database, make_settings
from tests.factories import auth_headers, make_child, make_district, make_user, snapshot


async def _grant_id(client: httpx.AsyncClient, headers: dict[str, str], user_id: object) -> str:
    return str((await client.get(f"/users/{user_id}", headers=headers)).json()["grants"][0]["id"])


async def test_the_last_administrator_cannot_end_their_grant_nor_be_disabled(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    district = snapshot(await make_district(db))
    town = snapshot(await make_child(db, district))
    admin = await make_user(db, Role.DISTRICT_ADMIN, district)
    town_admin = await make_user(db, Role.DISTRICT_ADMIN, town)  # administers a town, not the district
    admin_id, town_admin_id = admin.id, town_admin.id
    headers = await auth_headers(client, admin)
    own = await _grant_id(client, headers, admin_id)

    refused = await client.post(f"/users/{admin_id}/grants/{own}/end", headers=headers)
    assert_problem(refused, 409, "last_administrator")
    me = (await client.get(f"/users/{admin_id}", headers=headers)).json()
    disabled = await client.patch(
        f"/users/{admin_id}", headers=headers | {"If-Match": f'"{me["version"]}"'}, json={"is_active": False}
    )
    assert_problem(disabled, 409, "last_administrator")

    # Another administrator of the district: now either grant may end, but not both.
    second = snapshot(await make_user(db, Role.DISTRICT_ADMIN, district))
    second_id = second.id
    await db.commit()
    ended = await client.post(f"/users/{admin_id}/grants/{own}/end", headers=headers)
    assert ended.status_code == 200, ended.text
    second_headers = await auth_headers(client, second)
    theirs = await _grant_id(client, second_headers, second_id)
    assert_problem(
        await client.post(f"/users/{second_id}/grants/{theirs}/end", headers=second_headers), 409, "last_administrator"
    )
    # A town's administrator grant is not the district's: it may end.
    town_grant = await _grant_id(client, second_headers, town_admin_id)
    assert (
        await client.post(f"/users/{town_admin_id}/grants/{town_grant}/end", headers=second_headers)
    ).status_code == 200


@dataclass
class Admins:
    url: str
    client: httpx.AsyncClient
    factory: async_sessionmaker[AsyncSession]
    district: Any


async def _two_admins(admins: Admins) -> list[tuple[Any, Principal, str]]:
    """Two committed district administrators: (user, principal, grant id)."""
    made = []
    async with session_scope(admins.factory) as db:
        for _ in range(2):
            user = snapshot(await make_user(db, Role.DISTRICT_ADMIN, admins.district))
            grant_id = await db.scalar(select(RoleGrant.id).where(RoleGrant.user_id == user.id))
            principal = Principal(
                user_id=user.id,
                username=user.username,
                kind="person",
                session_id=uuid.uuid4(),
                grants=(Grant(grant_id, Role.DISTRICT_ADMIN, admins.district.id, admins.district.path),),
            )
            made.append((user, principal, str(grant_id)))
    return made


async def _active_admins(admins: Admins) -> int:
    async with session_scope(admins.factory) as db:
        return int(
            await db.scalar(
                select(func.count())
                .select_from(RoleGrant)
                .where(
                    RoleGrant.org_unit_id == admins.district.id,
                    RoleGrant.role == Role.DISTRICT_ADMIN.value,
                    active_at(RoleGrant, clock.now()),
                )
            )
            or 0
        )


@pytest.fixture
async def admins(servers: Servers) -> AsyncIterator[Admins]:
    """A database of its own (committed data, real concurrent transactions) and an API over it."""
    url = await fresh_database(servers, "gridcare_admins")
    engine = make_engine(url, pool_size=4)
    factory = make_session_factory(engine)
    app = create_app(make_settings(url, servers.redis_url), engine=engine, redis=None)
    try:
        async with session_scope(factory) as db:
            district = snapshot(await make_district(db))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gridcare.test") as client:
            yield Admins(url, client, factory, district)
    finally:
        await engine.dispose()
        await drop_database(servers.server_url, url.rsplit("/", 1)[1].split("?")[0])


async def test_two_administrators_ending_each_others_grants_at_once_leave_one(admins: Admins) -> None:
    # In the service, both past authorisation: the district's admin grants are locked, the second counts
    # after the first committed and is refused.
    (a, a_principal, a_grant), (b, b_principal, b_grant) = await _two_admins(admins)
    start = asyncio.Event()

    async def end(principal: Principal, user_id: uuid.UUID, grant_id: str) -> str:
        async with session_scope(admins.factory) as db:
            await start.wait()
            await users.end_grant(db, principal, user_id, uuid.UUID(grant_id))
            return "ended"

    racers = [
        asyncio.create_task(end(a_principal, b.id, b_grant)),
        asyncio.create_task(end(b_principal, a.id, a_grant)),
    ]
    await asyncio.sleep(0)
    start.set()
    outcomes = await asyncio.gather(*racers, return_exceptions=True)
    assert sorted(o if isinstance(o, str) else getattr(o, "code", repr(o)) for o in outcomes) == [
        "ended",
        "last_administrator",
    ]
    assert await _active_admins(admins) == 1

    # Through HTTP: one succeeds; the other is refused (409, or 403 when its own grant ended first).
    (c, _, c_grant), (d, _, d_grant) = await _two_admins(admins)
    c_headers, d_headers = await auth_headers(admins.client, c), await auth_headers(admins.client, d)
    async with session_scope(admins.factory) as db:  # leave c and d as the only administrators
        await db.execute(
            update(RoleGrant)
            .where(RoleGrant.user_id.not_in([c.id, d.id]), RoleGrant.ends_at.is_(None))
            .values(ends_at=clock.now())
        )
    results = await asyncio.gather(
        admins.client.post(f"/users/{d.id}/grants/{d_grant}/end", headers=c_headers),
        admins.client.post(f"/users/{c.id}/grants/{c_grant}/end", headers=d_headers),
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses in ([200, 403], [200, 409]), [r.text for r in results]
    assert await _active_admins(admins) == 1
