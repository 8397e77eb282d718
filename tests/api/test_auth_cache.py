"""The caller behind a token is kept per API process behind a revocation marker: a known token costs no
read of the login tables, and a revocation or a grant ended by anyone (another process, a tool, SQL)
is refused within one second; one made through this process, at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.api.app import create_app
from services.core import clock
from services.core.accounts.models import User
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.security.roles import Role
from services.dev.embedded import drop_database
from tests.conftest import Servers, fresh_database, make_settings
from tests.factories import auth_headers, make_district, make_user, snapshot


@pytest.fixture
async def committed(servers: Servers) -> AsyncIterator[tuple[AsyncEngine, httpx.AsyncClient, Any]]:
    """An app on a database of its own (the revocations below are committed by "another process")."""
    url = await fresh_database(servers, "gridcare_auth_cache")
    engine = make_engine(url, pool_size=4, pre_ping=False)
    async with session_scope(make_session_factory(engine)) as db:
        admin = snapshot(await make_user(db, Role.DISTRICT_ADMIN, await make_district(db)))
    app = create_app(make_settings(url, servers.redis_url), engine=engine, redis=None)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gridcare.test") as client:
            yield engine, client, admin
    finally:
        clock.unfreeze()
        await engine.dispose()
        await drop_database(servers.server_url, url.rsplit("/", 1)[1])


async def _elsewhere(engine: AsyncEngine, sql: str, **params: object) -> None:
    """A change committed outside the app, as another API process or an operator's SQL would make it."""
    async with engine.begin() as conn:
        await conn.execute(text(sql), params)


async def test_a_known_token_is_answered_without_reading_the_login_tables(
    committed: tuple[AsyncEngine, httpx.AsyncClient, User],
) -> None:
    engine, client, admin = committed
    headers = await auth_headers(client, admin)
    assert (await client.get("/inbox/changes", headers=headers)).status_code == 200
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        for _ in range(3):
            assert (await client.get("/inbox/changes", headers=headers)).status_code == 200
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    login_reads = [s for s in statements if any(t in s for t in ("auth_session", "role_grant", "app_user"))]
    assert statements
    assert not login_reads, login_reads


async def test_a_login_revoked_by_another_process_is_refused_within_one_second(
    committed: tuple[AsyncEngine, httpx.AsyncClient, User],
) -> None:
    engine, client, admin = committed
    clock.freeze(clock.now())
    headers = await auth_headers(client, admin)
    assert (await client.get("/inbox/changes", headers=headers)).status_code == 200

    await _elsewhere(engine, "update auth_session set revoked_at = now() where user_id = :u", u=admin.id)
    clock.advance(timedelta(seconds=1))

    refused = await client.get("/inbox/changes", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_token"


async def test_a_grant_ended_by_another_process_stops_counting_within_one_second(
    committed: tuple[AsyncEngine, httpx.AsyncClient, User],
) -> None:
    engine, client, admin = committed
    clock.freeze(clock.now())
    headers = await auth_headers(client, admin)
    assert (await client.get("/users", headers=headers)).status_code == 200

    await _elsewhere(engine, "update role_grant set ends_at = :at where user_id = :u", at=clock.now(), u=admin.id)
    clock.advance(timedelta(seconds=1))

    assert (await client.get("/users", headers=headers)).status_code == 403


async def test_a_logout_through_this_process_is_refused_at_once(
    committed: tuple[AsyncEngine, httpx.AsyncClient, User],
) -> None:
    _, client, admin = committed
    clock.freeze(clock.now())  # no time passes: the process's own change forgets what it kept
    headers = await auth_headers(client, admin)
    assert (await client.get("/inbox/changes", headers=headers)).status_code == 200
    assert (await client.post("/oauth/logout", headers=headers)).status_code == 204
    assert (await client.get("/inbox/changes", headers=headers)).status_code == 401


async def test_the_marker_moves_with_every_kind_of_change_and_not_with_a_login(
    committed: tuple[AsyncEngine, httpx.AsyncClient, User],
) -> None:
    engine, client, admin = committed

    async def marker() -> int:
        async with engine.connect() as conn:
            return int((await conn.execute(text("select seq from auth_marker where id = 1"))).scalar_one())

    start = await marker()
    await auth_headers(client, admin)  # a new login changes nothing anyone kept
    assert await marker() == start
    await _elsewhere(engine, "update app_user set is_active = false where id = :u", u=admin.id)
    assert await marker() == start + 1
    await _elsewhere(engine, "update role_grant set ends_at = now() where user_id = :u", u=admin.id)
    assert await marker() == start + 2
    await _elsewhere(engine, "update auth_session set revoked_at = now() where user_id = :u", u=admin.id)
    assert await marker() == start + 3
