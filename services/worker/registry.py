"""The ``@task`` decorator: every arq function and cron job registers here, by ``domain.verb`` name."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core.config import Settings
from services.core.db import unit_of_work
from services.core.jobs import enqueue_intents, take_job_intents


class WorkerContext(TypedDict, total=False):
    """What every job receives as ``ctx`` (arq adds ``redis``, ``job_id``, ``job_try``...)."""

    redis: ArqRedis
    settings: Settings
    session_factory: async_sessionmaker[AsyncSession]
    worker_id: str
    started_at: datetime
    job_id: str
    job_try: int


JobFn = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class TaskSpec:
    name: str
    fn: JobFn
    timeout: int
    max_tries: int


TASKS: dict[str, TaskSpec] = {}


def task(name: str, *, timeout: int = 60, max_tries: int = 5) -> Callable[[JobFn], JobFn]:
    """Register ``fn`` as the arq job ``name``. Jobs may run more than once: make them idempotent."""

    def register(fn: JobFn) -> JobFn:
        if name in TASKS:
            raise ValueError(f"job {name} registered twice")
        TASKS[name] = TaskSpec(name=name, fn=fn, timeout=timeout, max_tries=max_tries)
        return fn

    return register


@asynccontextmanager
async def unit(ctx: WorkerContext) -> AsyncIterator[AsyncSession]:
    """One unit of work for a job; the jobs it asked for are enqueued after it commits."""
    async with ctx["session_factory"]() as session:
        async with unit_of_work(session):
            yield session
        intents = take_job_intents(session)
    await enqueue_intents(ctx.get("redis"), intents)
