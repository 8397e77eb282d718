"""A real arq worker takes a job through Redis, beats its heartbeat, and leaves cleanly."""

from __future__ import annotations

import uuid
from typing import Any

from arq.connections import ArqRedis
from arq.worker import Worker
from sqlalchemy import select

from services.core.config import Settings
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.system.models import WorkerHeartbeat
from services.worker.settings import worker_settings


def _queue() -> str:
    """A queue of the test's own: a burst worker on the suite's shared queue would wait for every job
    other tests deferred hours ahead (a report's ``team_if_waiting`` step, say)."""
    return f"arq:test-queue:{uuid.uuid4().hex}"


def _worker(settings: Settings, queue: str, **overrides: Any) -> Worker:
    cls = worker_settings(settings, burst=True, handle_signals=False, poll_delay=0.05, queue_name=queue, **overrides)
    options = {k: v for k, v in vars(cls).items() if not k.startswith("__")}
    return Worker(**options)


async def test_a_job_goes_through_redis_to_a_real_worker(settings: Settings, redis: ArqRedis) -> None:
    marker = uuid.uuid4().hex
    queue = _queue()
    job = await redis.enqueue_job("system.ping", marker, _job_id=f"test-ping:{marker}", _queue_name=queue)
    assert job is not None
    worker = _worker(settings, queue)
    try:
        await worker.main()
    finally:
        await worker.close()
    result = await job.result(timeout=5)
    assert result["marker"] == marker
    assert result["worker_id"]


async def test_a_running_worker_is_visible_in_the_database_and_forgotten_on_shutdown(
    settings: Settings, redis: ArqRedis
) -> None:
    seen: list[str] = []

    async def on_job_start(ctx: dict[str, Any]) -> None:
        async with session_scope(ctx["session_factory"]) as db:
            seen.extend(await db.scalars(select(WorkerHeartbeat.worker_id)))

    queue = _queue()
    await redis.enqueue_job("system.ping", "beat", _job_id=f"test-beat:{uuid.uuid4().hex}", _queue_name=queue)
    worker = _worker(settings, queue, on_job_start=on_job_start)
    try:
        await worker.main()
    finally:
        await worker.close()
    assert seen, "the worker should have beaten before its first job"
    engine = make_engine(settings.database_url or "", null_pool=True)
    async with session_scope(make_session_factory(engine)) as db:
        left = list(await db.scalars(select(WorkerHeartbeat.worker_id).where(WorkerHeartbeat.worker_id.in_(seen))))
    await engine.dispose()
    assert left == []


async def test_the_same_job_id_is_enqueued_once(redis: ArqRedis) -> None:
    job_id = f"once:{uuid.uuid4().hex}"
    first = await redis.enqueue_job("system.ping", "a", _job_id=job_id)
    second = await redis.enqueue_job("system.ping", "a", _job_id=job_id)
    assert first is not None
    assert second is None
    await redis.delete(f"arq:job:{job_id}")
    await redis.zrem("arq:queue", job_id)
