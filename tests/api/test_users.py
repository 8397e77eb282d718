"""Accounts and grants: usernames, scope of grants, ending grants, disabling accounts."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.audit.models import AuditEvent
from services.core.security.roles import Role
from tests.api.test_auth import assert_problem
from tests.factories import auth_headers, login, make_child, make_district, make_user


async def test_admin_creates_an_account_that_can_log_in(client: httpx.AsyncClient, db: AsyncSession) -> None:
    district = await make_district(db)
    town = await make_child(db, district)
    headers = await auth_headers(client, await make_user(db, Role.DISTRICT_ADMIN, district))
    created = await client.post(
        "/users",
        headers=headers,
        json={
            "username": "Zhang.Wei",
            "display_name": "张伟",
            "secret": "a-long-enough-secret",
            "org_unit_id": str(town.id),
            "grants": [{"role": "town_supervisor", "org_unit_id": str(town.id)}],
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["username"] == "zhang.wei"
    assert "secret" not in created.text
    assert "hash" not in created.text
    token = await client.post(
        "/oauth/token", data={"grant_type": "password", "username": "ZHANG.WEI", "password": "a-long-enough-secret"}
    )
    assert token.status_code == 200
    taken = await client.post(
        "/users",
        headers=headers,
        json={
            "username": "zhang.wei",
            "display_name": "x",
            "secret": "a-long-enough-secret",
            "org_unit_id": str(town.id),
        },
    )
    assert_problem(taken, 409, "already_exists")
    audited = await db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "user.created"))
    assert audited == 1


async def test_ended_grant_stops_giving_access(client: httpx.AsyncClient, db: AsyncSession) -> None:
    district = await make_district(db)
    admin_headers = await auth_headers(client, await make_user(db, Role.DISTRICT_ADMIN, district))
    reader = await make_user(db, Role.DISTRICT_COMMISSION, district)
    reader_id = reader.id  # read now: a refused request rolls back and expires loaded objects
    reader_headers = await auth_headers(client, reader)
    assert (await client.get("/users", headers=reader_headers)).status_code == 200
    grant_id = (await client.get(f"/users/{reader_id}", headers=admin_headers)).json()["grants"][0]["id"]
    ended = await client.post(f"/users/{reader_id}/grants/{grant_id}/end", headers=admin_headers)
    assert ended.status_code == 200
    assert ended.json()["ends_at"] is not None
    assert_problem(await client.get("/users", headers=reader_headers), 403, "forbidden")
    again = await client.post(f"/users/{reader_id}/grants/{grant_id}/end", headers=admin_headers)
    assert again.json()["ends_at"] == ended.json()["ends_at"]


async def test_grant_period_must_be_forward(client: httpx.AsyncClient, db: AsyncSession) -> None:
    district = await make_district(db)
    headers = await auth_headers(client, await make_user(db, Role.DISTRICT_ADMIN, district))
    user = await make_user(db, Role.SENTINEL, district)
    response = await client.post(
        f"/users/{user.id}/grants",
        headers=headers,
        json={
            "role": "auditor",
            "org_unit_id": str(district.id),
            "starts_at": "2026-06-01T00:00:00Z",
            "ends_at": "2026-01-01T00:00:00Z",
        },
    )
    assert assert_problem(response, 422, "validation_error")["errors"][0]["field"] == "body.ends_at"  # type: ignore[index]


async def test_disabling_an_account_needs_if_match(client: httpx.AsyncClient, db: AsyncSession) -> None:
    district = await make_district(db)
    headers = await auth_headers(client, await make_user(db, Role.DISTRICT_ADMIN, district))
    user = await make_user(db, Role.SENTINEL, district)
    user_headers = await auth_headers(client, user)
    disabled = await client.patch(
        f"/users/{user.id}", headers={**headers, "If-Match": '"1"'}, json={"is_active": False}
    )
    assert disabled.status_code == 200
    assert disabled.json()["is_active"] is False
    assert_problem(await client.get("/me", headers=user_headers), 401, "invalid_token")


async def test_a_new_secret_ends_every_login_made_with_the_old_one(client: httpx.AsyncClient, db: AsyncSession) -> None:
    district = await make_district(db)
    headers = await auth_headers(client, await make_user(db, Role.DISTRICT_ADMIN, district))
    user = await make_user(db, Role.SENTINEL, district)
    user_id = user.id
    old = await login(client, user)
    changed = await client.patch(
        f"/users/{user_id}", headers={**headers, "If-Match": '"1"'}, json={"secret": "a-brand-new-secret"}
    )
    assert changed.status_code == 200, changed.text
    assert_problem(
        await client.get("/me", headers={"Authorization": f"Bearer {old['access_token']}"}), 401, "invalid_token"
    )
    refreshed = await client.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": old["refresh_token"]}
    )
    assert_problem(refreshed, 400, "invalid_grant")
