"""Tokens: obtained and used; expired, tampered and revoked ones refused; refresh rotation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.api.app import create_app
from services.core import clock
from services.core.config import Settings
from services.core.security.roles import Role
from tests.factories import PASSWORD, login, make_district, make_user


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    return body


async def test_token_is_obtained_and_used(client: httpx.AsyncClient, db: AsyncSession) -> None:
    district = await make_district(db)
    user = await make_user(db, Role.DISTRICT_ADMIN, district)
    tokens = await login(client, user)
    assert tokens["token_type"] == "Bearer"
    assert tokens["refresh_token"]
    me = await client.get("/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.json()["username"] == user.username
    assert [g["role"] for g in me.json()["grants"]] == ["district_admin"]


async def test_wrong_password_is_invalid_grant(client: httpx.AsyncClient, db: AsyncSession) -> None:
    user = await make_user(db, Role.DISTRICT_ADMIN, await make_district(db))
    response = await client.post(
        "/oauth/token", data={"grant_type": "password", "username": user.username, "password": "not-the-password"}
    )
    assert_problem(response, 400, "invalid_grant")
    unknown = await client.post(
        "/oauth/token", data={"grant_type": "password", "username": "nobody", "password": PASSWORD}
    )
    assert_problem(unknown, 400, "invalid_grant")


async def test_missing_token_is_401_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/me")
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_expired_token_is_401(client: httpx.AsyncClient, db: AsyncSession) -> None:
    user = await make_user(db, Role.DISTRICT_ADMIN, await make_district(db))
    clock.freeze(clock.now())
    tokens = await login(client, user)
    clock.advance(timedelta(minutes=15, seconds=1))
    response = await client.get("/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert_problem(response, 401, "invalid_token")


async def test_tampered_token_is_401(client: httpx.AsyncClient, db: AsyncSession) -> None:
    user = await make_user(db, Role.DISTRICT_ADMIN, await make_district(db))
    token = (await login(client, user))["access_token"]
    header, payload, signature = token.split(".")
    forged_signature = ("A" if signature[0] != "A" else "B") + signature[1:]
    for bad in (
        f"{header}.{payload}.{forged_signature}",
        f"{header}.{payload[:-2]}xx.{signature}",
        "not-a-jwt",
    ):
        response = await client.get("/me", headers={"Authorization": f"Bearer {bad}"})
        assert_problem(response, 401, "invalid_token")


async def test_logout_revokes_access_and_refresh_tokens(client: httpx.AsyncClient, db: AsyncSession) -> None:
    user = await make_user(db, Role.DISTRICT_ADMIN, await make_district(db))
    tokens = await login(client, user)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.post("/oauth/logout", headers=headers)).status_code == 204
    assert_problem(await client.get("/me", headers=headers), 401, "invalid_token")
    refreshed = await client.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert_problem(refreshed, 400, "invalid_grant")


async def test_refresh_rotates_and_reuse_revokes_the_family(client: httpx.AsyncClient, db: AsyncSession) -> None:
    user = await make_user(db, Role.DISTRICT_ADMIN, await make_district(db))
    first = await login(client, user)
    second_response = await client.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert second_response.status_code == 200
    second = second_response.json()
    assert second["refresh_token"] != first["refresh_token"]

    reused = await client.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert_problem(reused, 400, "refresh_token_reused")

    # The whole family is gone: the newest refresh token and every access token of the login.
    newest = await client.post(
        "/oauth/token", data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
    )
    assert_problem(newest, 400, "invalid_grant")
    for access in (first["access_token"], second["access_token"]):
        assert_problem(
            await client.get("/me", headers={"Authorization": f"Bearer {access}"}),
            401,
            "invalid_token",
        )


async def test_client_credentials_for_a_hospital_system(client: httpx.AsyncClient, db: AsyncSession) -> None:
    his = await make_user(db, Role.HIS_CLIENT, await make_district(db), kind="system")
    tokens = await login(client, his)
    assert tokens.get("refresh_token") is None
    assert (await client.get("/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})).status_code == 200
    basic = httpx.BasicAuth(his.username, PASSWORD)
    response = await client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=basic)
    assert response.status_code == 200
    wrong = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=httpx.BasicAuth(his.username, "wrong-secret")
    )
    assert_problem(wrong, 401, "invalid_client")


async def test_disabled_account_loses_access_at_once(client: httpx.AsyncClient, db: AsyncSession) -> None:
    user = await make_user(db, Role.DISTRICT_ADMIN, await make_district(db))
    headers = {"Authorization": f"Bearer {(await login(client, user))['access_token']}"}
    user.is_active = False
    await db.flush()
    assert_problem(await client.get("/me", headers=headers), 401, "invalid_token")


async def test_repeated_wrong_passwords_lock_the_account_for_a_while(
    db: AsyncSession, settings: Settings, engine: AsyncEngine, redis: ArqRedis
) -> None:
    username = (await make_user(db, Role.DISTRICT_ADMIN, await make_district(db))).username
    app = create_app(settings.model_copy(update={"login_failures_allowed": 3}), engine=engine, redis=redis)

    @asynccontextmanager
    async def shared() -> AsyncIterator[AsyncSession]:
        await db.commit()
        yield db

    app.state.session_factory = shared
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for _ in range(3):
            wrong = await client.post(
                "/oauth/token", data={"grant_type": "password", "username": username, "password": "wrong-one"}
            )
            assert_problem(wrong, 400, "invalid_grant")
        locked = await client.post(
            "/oauth/token", data={"grant_type": "password", "username": username, "password": PASSWORD}
        )
        assert_problem(locked, 429, "too_many_attempts")
        assert int(locked.headers["retry-after"]) > 0
