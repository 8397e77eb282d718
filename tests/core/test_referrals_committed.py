"""Referrals with committed data, in a database of their own: ten concurrent creates by a HIS with one
external identifier (and no client id) are one referral, one identifier, one set of clocks, one change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.api.app import create_app
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.deadlines.models import Deadline
from services.core.referrals.models import Referral, ReferralChange, ReferralIdentifier
from services.dev.embedded import drop_database
from tests.conftest import Servers, fresh_database, make_settings
from tests.factories import auth_headers
from tests.referral_world import build_referral_world, downward_body


@pytest.fixture
async def committed(servers: Servers) -> AsyncIterator[tuple[str, AsyncEngine, async_sessionmaker[AsyncSession]]]:
    url = await fresh_database(servers, "gridcare_referrals")
    engine = make_engine(url, pool_size=12)
    try:
        yield url, engine, make_session_factory(engine)
    finally:
        await engine.dispose()
        await drop_database(servers.server_url, url.rsplit("/", 1)[1])


async def test_ten_concurrent_creates_with_one_identifier_make_one_referral(
    committed: tuple[str, AsyncEngine, async_sessionmaker[AsyncSession]], servers: Servers
) -> None:
    url, engine, factory = committed
    async with session_scope(factory) as db:
        world = await build_referral_world(db)
    app = create_app(make_settings(url, servers.redis_url), engine=engine, redis=None)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    body = downward_body(world, identifiers=[{"system": "urn:his:rmyy", "value": "ZY-2026-0001"}])
    async with httpx.AsyncClient(transport=transport, base_url="http://gridcare.test") as client:
        headers = await auth_headers(client, world.his)
        responses = await asyncio.gather(*(client.post("/referrals", json=body, headers=headers) for _ in range(10)))
        other = await client.post("/referrals", json=body | {"reason": "另一份病情"}, headers=headers)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 9 + [201], [r.text for r in responses if r.status_code >= 300]
    assert len({r.json()["id"] for r in responses}) == 1
    assert other.status_code == 409, other.text
    async with session_scope(factory) as db:
        assert await db.scalar(select(func.count()).select_from(Referral)) == 1
        assert await db.scalar(select(func.count()).select_from(ReferralIdentifier)) == 1
        assert await db.scalar(select(func.count()).select_from(Deadline)) == 2  # take over, follow up
        assert await db.scalar(select(func.count()).select_from(ReferralChange)) == 2  # one per end institution
