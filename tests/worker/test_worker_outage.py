"""A running worker through Redis outages: steps due meanwhile still fire, it comes back at once, nothing leaks.

Invariant 1: PostgreSQL is the record, so while Redis is away the sweepers (on the worker's
own timer) still take every due step; when Redis returns the arq side is back within 2 s;
after five outages the process holds no more database connections and no more heartbeat
ids than before. The test starts its own Redis server and its own worker process, and
stops only those; the worker's connections are counted by their ``application_name``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select, text

from services.core import clock
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.deadlines import service
from services.core.deadlines.models import DeadlineStep
from services.core.org.models import OrgUnit
from services.core.security.roles import Role
from services.core.system.models import WorkerHeartbeat
from services.dev.embedded import drop_database
from services.worker.run import APPLICATION_NAME
from tests.conftest import ROOT, Servers, fresh_database
from tests.factories import make_district, make_user
from tests.sla_kinds import KIND
from tests.worker.test_worker_faults import OwnRedis, _free_port

SWEEP_SECONDS = 1
OUTAGES = 5
WORKER_CONNECTIONS = (
    "select count(*) from pg_stat_activity where application_name = :app and datname = current_database()"
)


@pytest.fixture
async def outage_database(servers: Servers) -> AsyncIterator[str]:
    url = await fresh_database(servers, "gridcare_outage")
    yield url
    await drop_database(servers.server_url, url.rsplit("/", 1)[1].split("?")[0])


class Output:
    """The worker's output lines, read on a thread so the test can wait for one."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert proc.stdout is not None
        stream = proc.stdout
        self.thread = threading.Thread(target=lambda: self.lines.extend(iter(stream.readline, "")), daemon=True)
        self.thread.start()

    def count(self, needle: str) -> int:
        return sum(needle in line for line in list(self.lines))


async def until(check: Callable[[], Awaitable[bool]], *, within: float, what: str) -> float:
    """Wait for ``check`` (polling every 0.1 s); returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        if await check():
            return time.monotonic() - start
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: not within {within}s")


@pytest.mark.slow
async def test_steps_fire_during_a_redis_outage_and_five_outages_leak_nothing(
    outage_database: str, tmp_path: Path
) -> None:
    url = outage_database
    engine = make_engine(url, pool_size=2)
    factory = make_session_factory(engine)
    async with session_scope(factory) as db:
        district: OrgUnit = await make_district(db)
        await make_user(db, Role.TEAM_MEMBER, district)

    redis_server = OwnRedis(_free_port(), tmp_path)
    redis_server.start()
    redis_url = f"redis://127.0.0.1:{redis_server.port}/0"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDCARE_")}
    env.update(
        GRIDCARE_ENV="test",
        GRIDCARE_DATA_DIR=str(tmp_path),
        GRIDCARE_DATABASE_URL=url,
        GRIDCARE_REDIS_URL=redis_url,
        GRIDCARE_DEADLINE_SWEEP_SECONDS=str(SWEEP_SECONDS),
        GRIDCARE_OUTBOX_SWEEP_SECONDS="1",
        GRIDCARE_WORKER_HEARTBEAT_SECONDS="1",
        GRIDCARE_DB_POOL_SIZE="2",
        GRIDCARE_WORKER_METRICS_PORT="0",
        GRIDCARE_LOG_LEVEL="INFO",
    )
    command = [
        sys.executable,
        "-c",
        "import tests.sla_kinds; from services.cli import main; raise SystemExit(main(['worker']))",
    ]
    worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = Output(worker)
    probe = Redis.from_url(redis_url, socket_connect_timeout=0.5, socket_timeout=0.5)

    async def connections() -> int:
        async with engine.connect() as conn:
            n = await conn.scalar(text(WORKER_CONNECTIONS), {"app": APPLICATION_NAME})
        return int(n or 0)

    async def heartbeat_ids() -> list[str]:
        async with session_scope(factory) as db:
            return list(await db.scalars(select(WorkerHeartbeat.worker_id)))

    async def arq_is_up() -> bool:
        try:
            return bool(await probe.exists("arq:queue:health-check"))
        except Exception:
            return False

    try:
        await until(lambda: _truthy(heartbeat_ids()), within=30, what="the worker beats")
        await until(arq_is_up, within=10, what="arq takes Redis")
        # Warm up: the most connections the worker holds in normal work (pool 2 + overflow 2).
        before = 0
        for _ in range(20):
            before = max(before, await connections())
            await asyncio.sleep(0.1)
        ids_before = await heartbeat_ids()
        assert len(ids_before) == 1

        # Outage 1, long: a step falls due while Redis is away and must fire within two sweep intervals.
        reminder_in = 2.0
        async with session_scope(factory) as db:
            deadline = await service.open_deadline(
                db,
                subject_type="report",
                subject_id=uuid.uuid4(),
                kind=KIND,
                district_id=district.id,
                started_at=clock.now() - timedelta(hours=36) + timedelta(seconds=reminder_in),
            )
        redis_server.stop()
        await until(lambda: _ready(output.count("redis unavailable; worker restarts") >= 1), within=5, what="noticed")

        async def fired() -> bool:
            async with session_scope(factory) as db:
                n = await db.scalar(select(func.count()).where(DeadlineStep.deadline_id == deadline.id))
            return bool(n)

        await until(fired, within=reminder_in + 2 * SWEEP_SECONDS + 1, what="the step fired during the outage")
        async with session_scope(factory) as db:
            step = (await db.scalars(select(DeadlineStep).where(DeadlineStep.deadline_id == deadline.id))).one()
        late = (step.fired_at - step.scheduled_at).total_seconds()
        assert 0 <= late <= 2 * SWEEP_SECONDS, f"fired {late:.2f}s after it was due"
        # The outage outlasts two more sweep intervals: wait for the worker's own heartbeat to show it
        # alive that long after the step (a condition on the process, not a sleep).
        alive_until = step.fired_at + timedelta(seconds=2 * SWEEP_SECONDS)

        async def beats_past_the_outage_mark() -> bool:
            async with session_scope(factory) as db:
                seen = await db.scalar(select(func.max(WorkerHeartbeat.seen_at)))
            return seen is not None and seen >= alive_until

        await until(beats_past_the_outage_mark, within=4 * SWEEP_SECONDS + 5, what="alive through the outage")
        assert worker.poll() is None

        reconnects = []
        for outage in range(OUTAGES):
            if outage:
                redis_server.stop()
                await until(
                    lambda n=outage + 1: _ready(output.count("redis unavailable; worker restarts") >= n),  # type: ignore[misc]
                    within=5,
                    what=f"outage {outage + 1} noticed",
                )
            redis_server.start()
            reconnects.append(await until(arq_is_up, within=5, what=f"back after outage {outage + 1}"))
        assert max(reconnects) < 2.0, f"reconnect times {reconnects}"
        print(f"\nstep fired {late:.2f}s after due; reconnects {[round(r, 2) for r in reconnects]}")  # noqa: T201

        after = max([await connections() for _ in range(3)])
        assert after <= before, f"worker connections {before} before, {after} after {OUTAGES} outages"
        print(f"worker connections: {before} before, {after} after {OUTAGES} outages")  # noqa: T201
        assert await heartbeat_ids() == ids_before, "one worker, one heartbeat id, the same as before"
    finally:
        await probe.aclose()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        redis_server.stop()
        await engine.dispose()
    assert worker.returncode == 0, "".join(output.lines[-40:])
    assert await _gone(url), "the stopped worker closed its connections and forgot its heartbeat"


async def _truthy(value: Awaitable[object]) -> bool:
    return bool(await value)


async def _ready(value: bool) -> bool:
    return value


async def _gone(url: str) -> bool:
    engine = make_engine(url, null_pool=True)
    try:
        async with engine.connect() as conn:
            left = await conn.scalar(text(WORKER_CONNECTIONS), {"app": APPLICATION_NAME})
            beats = await conn.scalar(text("select count(*) from worker_heartbeat"))
        return left == 0 and beats == 0
    finally:
        await engine.dispose()
