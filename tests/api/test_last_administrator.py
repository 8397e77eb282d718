"""The district's last administrator: their grant cannot be ended nor their account disabled (409
``last_administrator``), and two administrators ending each other's grants at once cannot both win."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.app import create_app
from services.core import clock
from services.core.accounts.models import RoleGrant
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.periods import active_at
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


@pytest.fixture
async def two_admins(servers: Servers) -> AsyncIterator[tuple[httpx.AsyncClient, list[tuple[str, str, str]], str]]:
    """A database of its own with two district administrators (committed), and an API over it."""
    url = await fresh_database(servers, "gridcare_admins")
    engine = make_engine(url, pool_size=4)
    settings = make_settings(url, servers.redis_url)
    app = create_app(settings, engine=engine, redis=None)
    try:
        async with session_scope(make_session_factory(engine)) as db:
            district = await make_district(db)
            admins = [await make_user(db, Role.DISTRICT_ADMIN, district) for _ in range(2)]
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gridcare.test") as client:
            people = []
            for admin in admins:
                headers = await auth_headers(client, admin)
                people.append((str(admin.id), headers["Authorization"], await _grant_id(client, headers, admin.id)))
            yield client, people, url
    finally:
        await engine.dispose()
        await drop_database(servers.server_url, url.rsplit("/", 1)[1].split("?")[0])


async def test_two_administrators_ending_each_others_grants_at_once_leave_one(
    two_admins: tuple[httpx.AsyncClient, list[tuple[str, str, str]], str],
) -> None:
    client, (a, b), url = two_admins
    results = await asyncio.gather(
        client.post(f"/users/{b[0]}/grants/{b[2]}/end", headers={"Authorization": a[1]}),
        client.post(f"/users/{a[0]}/grants/{a[2]}/end", headers={"Authorization": b[1]}),
    )
    statuses = Counter(r.status_code for r in results)
    assert statuses == Counter({200: 1, 409: 1}), [r.text for r in results]
    loser = next(r for r in results if r.status_code == 409)
    assert loser.json()["code"] == "last_administrator"
    engine = make_engine(url)
    try:
        async with session_scope(make_session_factory(engine)) as db:
            active = await db.scalar(
                select(func.count())
                .select_from(RoleGrant)
                .where(RoleGrant.role == Role.DISTRICT_ADMIN.value, active_at(RoleGrant, clock.now()))
            )
        assert active == 1
    finally:
        await engine.dispose()
