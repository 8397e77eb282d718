"""Exactly once, whatever happens: two sweepers at once, a job run twice, Redis flushed, a worker killed.

These tests need committed data, so they work in a database of their own, and in a Redis
database of their own (the suite's db number + 1) that they may FLUSHDB freely.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.core import clock
from services.core.accounts.models import User
from services.core.config import Settings
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.deadlines import service
from services.core.deadlines.models import Deadline, DeadlineStep
from services.core.jobs import enqueue_intents, take_job_intents
from services.core.notifications.models import Notification
from services.core.org.models import OrgUnit
from services.core.security.roles import Role
from services.dev.embedded import drop_database
from services.worker.jobs import deadlines as jobs
from services.worker.settings import SWEEPS, cron_jobs
from tests.conftest import ROOT, Servers, fresh_database, make_settings
from tests.factories import make_child, make_district, make_user
from tests.sla_kinds import KIND

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def own_redis_db(url: str) -> str:
    """The suite's Redis URL moved to the next database number (ours to flush).

    Works for ``redis://host:port/N`` (N+1; plain ``redis://host:port`` counts as 0) and for the
    embedded server's ``unix:///path`` (``?db=N+1``).
    """
    parts = urlsplit(url)
    if parts.scheme == "unix":
        current = int(parse_qs(parts.query).get("db", ["0"])[0])
        return urlunsplit(parts._replace(query=f"db={current + 1}"))
    match = re.match(r"^(rediss?://[^/]+)(?:/(\d+))?$", url)
    assert match is not None, f"cannot derive a private Redis database from {url}"
    return f"{match.group(1)}/{int(match.group(2) or 0) + 1}"


@dataclass
class Env:
    url: str
    settings: Settings
    engine: AsyncEngine
    factory: async_sessionmaker[AsyncSession]
    redis: ArqRedis
    district: OrgUnit
    member: User
    leader: User

    def ctx(self) -> Any:
        return {"settings": self.settings, "session_factory": self.factory, "redis": self.redis, "worker_id": "test"}


@pytest.fixture(scope="module")
async def env(servers: Servers) -> AsyncIterator[Env]:
    url = await fresh_database(servers, "gridcare_sla")
    redis_url = own_redis_db(servers.redis_url)
    settings = make_settings(url, redis_url)
    engine = make_engine(url, pool_size=6)
    factory = make_session_factory(engine)
    redis = await create_pool(RedisSettings.from_dsn(redis_url))
    await redis.flushdb()  # our own database number only; never FLUSHALL on a shared server
    async with session_scope(factory) as db:
        district = await make_district(db)
        town = await make_child(db, district)
        member = await make_user(db, Role.TEAM_MEMBER, town)
        leader = await make_user(db, Role.TEAM_LEADER, town)
    yield Env(url, settings, engine, factory, redis, district, member, leader)
    await redis.flushdb()
    await redis.aclose()
    await engine.dispose()
    await drop_database(servers.server_url, url.rsplit("/", 1)[1].split("?")[0])


async def open_committed(env: Env, started_at: datetime, n: int = 1) -> list[uuid.UUID]:
    """Open ``n`` clocks and commit; returns their ids (the jobs they planned are enqueued after commit)."""
    async with env.factory() as db:
        async with db.begin():
            ids = [
                (
                    await service.open_deadline(
                        db,
                        subject_type="report",
                        subject_id=uuid.uuid4(),
                        kind=KIND,
                        district_id=env.district.id,
                        started_at=started_at,
                    )
                ).id
                for _ in range(n)
            ]
        await enqueue_intents(env.redis, take_job_intents(db))
    return ids


async def counts(env: Env, ids: list[uuid.UUID]) -> tuple[int, int]:
    """(steps taken, inbox items written) for these clocks."""
    async with session_scope(env.factory) as db:
        steps = await db.scalar(select(func.count()).where(DeadlineStep.deadline_id.in_(ids)))
        subjects = select(Deadline.subject_id).where(Deadline.id.in_(ids))
        items = await db.scalar(select(func.count()).where(Notification.subject_id.in_(subjects)))
    return int(steps or 0), int(items or 0)


async def test_two_sweepers_at_once_take_each_step_once(env: Env) -> None:
    clock.freeze(T0)
    ids = await open_committed(env, T0, n=300)
    clock.freeze(T0 + timedelta(hours=48))  # reminder and breach both due on every clock

    async def sweeper() -> int:
        selected = 0
        while True:
            async with session_scope(env.factory) as db:
                result = await service.sweep(db, limit=25)
            selected += result.selected
            if result.selected == 0:
                return selected

    first, second = await asyncio.gather(sweeper(), sweeper())
    assert first + second == 300, "SKIP LOCKED: no clock was handled by both"
    assert first > 0, "both sweepers took part"
    assert second > 0, "both sweepers took part"
    assert await counts(env, ids) == (600, 600)


async def test_the_same_fire_job_run_twice_or_at_once_fires_once(env: Env) -> None:
    clock.freeze(T0)
    [deadline_id] = await open_committed(env, T0)
    clock.freeze(T0 + timedelta(hours=36))
    ctx = env.ctx()
    assert await jobs.fire(ctx, str(deadline_id), "reminder") == ["reminder"]
    assert await jobs.fire(ctx, str(deadline_id), "reminder") == []
    clock.freeze(T0 + timedelta(hours=48))
    results = await asyncio.gather(*(jobs.fire(ctx, str(deadline_id), "breach") for _ in range(4)))
    assert sorted(results) == [[], [], [], ["breach"]]
    assert await counts(env, [deadline_id]) == (2, 2)
    # The breach planned the next step's job, deferred to its time, with its deterministic id.
    assert await env.redis.exists(f"arq:job:deadline:{deadline_id}:escalation_1")


async def test_redis_flushed_between_creation_and_due_time_the_sweeper_still_fires(env: Env) -> None:
    clock.freeze(T0)
    [deadline_id] = await open_committed(env, T0)
    assert await env.redis.exists(f"arq:job:deadline:{deadline_id}:reminder")
    await env.redis.flushdb()  # FLUSHDB on this test's own Redis database: the queue loses everything
    assert not await env.redis.exists(f"arq:job:deadline:{deadline_id}:reminder")

    interval = env.settings.deadline_sweep_seconds
    # The sweep runs on the worker's own timer (not an arq cron, which would wait for Redis).
    assert [s.interval_setting for s in SWEEPS if s.task == "deadlines.sweep"] == ["deadline_sweep_seconds"]
    assert not [c for c in cron_jobs(env.settings) if c.name == "cron:deadlines.sweep"]
    clock.freeze(T0 + timedelta(hours=36, seconds=interval))  # the next sweep after the step time
    totals = await jobs.sweep(env.ctx())
    assert totals["fired"] >= 1
    assert await counts(env, [deadline_id]) == (1, 1)


async def _poll(predicate: Any, *, within: float) -> bool:
    """Wait (bounded) for a condition outside this process."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        if await predicate():
            return True
        await asyncio.sleep(0.1)
    return False


@pytest.mark.slow
async def test_a_worker_killed_mid_step_leaves_nothing_and_the_restart_steps_once(env: Env, tmp_path: Path) -> None:
    # The subprocess runs on real time: the clock starts 49 h ago, so reminder and breach are due.
    [deadline_id] = await open_committed(env, clock.now() - timedelta(hours=49))
    hang_file = tmp_path / "hanging"
    base_env = {
        **os.environ,
        "GRIDCARE_ENV": "test",
        "GRIDCARE_DATA_DIR": str(tmp_path),
        "GRIDCARE_DATABASE_URL": env.url,
        "GRIDCARE_REDIS_URL": env.settings.redis_url or "",
        "GRIDCARE_DEADLINE_SWEEP_SECONDS": "1",
        "GRIDCARE_LOG_LEVEL": "WARNING",
    }
    # `gridcare worker`, with the test's deadline kind imported first.
    command = [
        sys.executable,
        "-c",
        "import tests.sla_kinds; from services.cli import main; raise SystemExit(main(['worker']))",
    ]

    doomed = subprocess.Popen(command, cwd=ROOT, env={**base_env, "GRIDCARE_TEST_HANG_FILE": str(hang_file)})
    try:
        assert await _poll(lambda: asyncio.to_thread(hang_file.exists), within=30), "the worker never started the step"
        assert await counts(env, [deadline_id]) == (0, 0), "nothing is visible while the step runs"
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
    finally:
        if doomed.poll() is None:
            doomed.kill()
    assert await counts(env, [deadline_id]) == (0, 0), "the killed transaction left nothing behind"

    restarted = subprocess.Popen(command, cwd=ROOT, env=base_env)
    try:

        async def both_steps() -> bool:
            return (await counts(env, [deadline_id]))[0] >= 2

        assert await _poll(both_steps, within=30), "the restarted worker did not take the steps"
    finally:
        restarted.send_signal(signal.SIGTERM)
        try:
            restarted.wait(timeout=15)
        except subprocess.TimeoutExpired:
            restarted.kill()
            restarted.wait(timeout=5)
    assert await counts(env, [deadline_id]) == (2, 2)
    async with session_scope(env.factory) as db:
        kinds = list(
            await db.scalars(
                select(Notification.kind)
                .join(Deadline, Deadline.subject_id == Notification.subject_id)
                .where(Deadline.id == deadline_id)
                .order_by(Notification.kind)
            )
        )
    assert kinds == ["deadline.breach", "deadline.reminder"]
