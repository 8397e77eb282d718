"""Supervision with committed data, in a database of its own: the worker's sweep run by two workers at
once, run again, and run after Redis was flushed, makes each snapshot of the half year exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.connections import ArqRedis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.core.db import make_engine, make_session_factory, session_scope
from services.core.supervision.models import Bulletin
from services.dev.embedded import drop_database
from services.worker.jobs import supervision as jobs
from services.worker.registry import WorkerContext
from tests.conftest import Servers, fresh_database, make_settings
from tests.supervision_world import SupervisionWorld, build_supervision_world


@pytest.fixture
async def committed(servers: Servers) -> AsyncIterator[tuple[str, AsyncEngine, async_sessionmaker[AsyncSession]]]:
    url = await fresh_database(servers, "gridcare_supervision")
    engine = make_engine(url, pool_size=6)
    try:
        yield url, engine, make_session_factory(engine)
    finally:
        await engine.dispose()
        await drop_database(servers.server_url, url.rsplit("/", 1)[1])


async def _snapshots(factory: async_sessionmaker[AsyncSession]) -> list[tuple[Any, ...]]:
    async with session_scope(factory) as db:
        rows = await db.execute(
            select(Bulletin.kind, Bulletin.org_unit_id, Bulletin.edition, Bulletin.id, Bulletin.content_hash).order_by(
                Bulletin.kind, Bulletin.org_unit_id
            )
        )
        return [tuple(r) for r in rows.all()]


async def test_two_workers_at_once_a_rerun_and_a_flushed_redis_make_each_bulletin_once(
    committed: tuple[str, AsyncEngine, async_sessionmaker[AsyncSession]], servers: Servers, redis: ArqRedis
) -> None:
    url, _engine, factory = committed
    async with session_scope(factory) as db:
        world: SupervisionWorld = await build_supervision_world(db)
    settings = make_settings(url, servers.redis_url)

    def worker(name: str) -> WorkerContext:
        return {"settings": settings, "session_factory": factory, "worker_id": name, "redis": redis}

    first, second = await asyncio.gather(jobs.sweep(worker("w1")), jobs.sweep(worker("w2")))
    assert first["failed"] == second["failed"] == 0
    # two town bulletins and the assessment, each made by exactly one of the two workers
    assert first["made"] + second["made"] == 3
    made = await _snapshots(factory)
    assert sorted((k, e) for k, _u, e, _i, _h in made) == [("assessment", 1), ("town", 1), ("town", 1)]
    assert {u for k, u, *_ in made if k == "town"} == {world.town.id, world.other_town.id}

    rerun = await jobs.sweep(worker("w3"))
    assert rerun["made"] == 0
    assert await _snapshots(factory) == made

    await redis.flushdb()  # this test's own Redis database (GRIDCARE_TEST_REDIS_URL names it), never another
    after_flush = await jobs.sweep(worker("w4"))
    assert after_flush["made"] == 0
    assert await _snapshots(factory) == made
    async with session_scope(factory) as db:
        assert await db.scalar(select(func.count()).select_from(Bulletin)) == 3
