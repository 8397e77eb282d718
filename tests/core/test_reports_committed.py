"""Sentinel reports with committed data, in a database of its own: the same report replayed
concurrently from ten connections is one report with one clock and one notification."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.api.app import create_app
from services.core import clock
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.deadlines.models import Deadline
from services.core.lifecycle.models import RecordTransition
from services.core.notifications.models import Notification
from services.core.reports.models import SentinelReport
from services.dev.embedded import drop_database
from tests.conftest import Servers, fresh_database, make_settings
from tests.factories import auth_headers
from tests.report_world import ReportWorld, build_report_world, health_need, urgent_risk


@pytest.fixture
async def committed(servers: Servers) -> AsyncIterator[tuple[str, AsyncEngine, async_sessionmaker[AsyncSession]]]:
    url = await fresh_database(servers, "gridcare_reports")
    engine = make_engine(url, pool_size=12)
    try:
        yield url, engine, make_session_factory(engine)
    finally:
        await engine.dispose()
        await drop_database(servers.server_url, url.rsplit("/", 1)[1])


async def _world(factory: async_sessionmaker[AsyncSession]) -> ReportWorld:
    async with session_scope(factory) as db:
        return await build_report_world(db, at=clock.now() - timedelta(days=1))


@pytest.mark.parametrize("make_body", [health_need, urgent_risk], ids=["health_need", "urgent_risk"])
async def test_ten_concurrent_replays_make_one_report_and_its_clocks_once(
    committed: tuple[str, AsyncEngine, async_sessionmaker[AsyncSession]], servers: Servers, make_body: Any
) -> None:
    url, engine, factory = committed
    world = await _world(factory)
    app = create_app(make_settings(url, servers.redis_url), engine=engine, redis=None)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gridcare.test") as client:
        headers = await auth_headers(client, world.sentinel)
        body = make_body(world.grid.id, world.resident.id)
        responses = await asyncio.gather(*(client.post("/reports", json=body, headers=headers) for _ in range(10)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 9 + [201], [r.text for r in responses if r.status_code >= 300]
    assert len({r.json()["id"] for r in responses}) == 1
    report_id = uuid.UUID(body["id"])
    async with session_scope(factory) as db:
        assert await db.scalar(select(func.count()).select_from(SentinelReport)) == 1
        clocks = await db.scalars(select(Deadline.kind).where(Deadline.subject_id == report_id))
        # An urgent risk happening now has its 2-hour report-in clock beside the follow-up clock.
        assert sorted(clocks) == (
            ["report.follow_up", "report.report_in"] if make_body is urgent_risk else ["report.follow_up"]
        )
        assert (
            await db.scalar(
                select(func.count()).select_from(RecordTransition).where(RecordTransition.subject_id == report_id)
            )
            == 1
        )
        told = await db.scalars(
            select(Notification.kind).where(
                Notification.user_id == world.paired.id, Notification.subject_id == report_id
            )
        )
        assert sorted(told) == (
            ["deadline.at_start", "report.submitted"] if make_body is urgent_risk else ["report.submitted"]
        )


async def test_concurrent_replays_with_a_different_body_one_wins_the_rest_409(
    committed: tuple[str, AsyncEngine, async_sessionmaker[AsyncSession]], servers: Servers
) -> None:
    url, engine, factory = committed
    world = await _world(factory)
    app = create_app(make_settings(url, servers.redis_url), engine=engine, redis=None)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gridcare.test") as client:
        headers = await auth_headers(client, world.sentinel)
        base = health_need(world.grid.id, world.resident.id)
        bodies = [base | {"details": base["details"] | {"description": f"版本 {i}"}} for i in range(6)]
        responses = await asyncio.gather(*(client.post("/reports", json=b, headers=headers) for b in bodies))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 5
    async with session_scope(factory) as db:
        assert await db.scalar(select(func.count()).select_from(SentinelReport)) == 1
        assert await db.scalar(select(func.count()).select_from(Deadline)) == 1
