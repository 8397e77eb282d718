"""The worker's pieces: arq options (jobs, crons), the sweepers on their own timer, the heartbeat."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

from arq import cron, func
from arq.connections import RedisSettings
from arq.cron import CronJob

from services.core import clock
from services.core.config import Settings, get_settings
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.metrics import observe_job
from services.core.system import service as system
from services.worker.jobs import deadlines as _deadline_jobs  # noqa: F401 - registers the jobs
from services.worker.jobs import duties as _duty_jobs  # noqa: F401 - the duty checks
from services.worker.jobs import notifications as _notification_jobs  # noqa: F401
from services.worker.jobs import referrals as _referral_jobs  # noqa: F401 - the referral.* kinds
from services.worker.jobs import reports as _report_jobs  # noqa: F401 - the report.follow_up kind
from services.worker.jobs import residents as _resident_jobs  # noqa: F401 - tombstones pruned
from services.worker.jobs import socialwork as _socialwork_jobs  # noqa: F401 - the socialwork.* kinds
from services.worker.jobs import supervision as _supervision_jobs  # noqa: F401 - bulletins, rectification.due
from services.worker.jobs import system as _system_jobs  # noqa: F401
from services.worker.jobs import webhooks as _webhook_jobs  # noqa: F401 - webhook delivery
from services.worker.metrics import measured, refresh_backlog_gauges
from services.worker.registry import TASKS, WorkerContext

log = logging.getLogger("gridcare.worker")


@dataclass(frozen=True)
class CronSpec:
    """A registered task run every ``settings.<interval_setting>`` seconds."""

    task: str
    interval_setting: str
    timeout: int = 120


# The sweepers run on the worker's own timer against PostgreSQL (``sweep_loop``), not as arq
# crons: while Redis is away nothing due may wait for it (invariant 1). Two workers sweeping at
# once is fine: the sweepers lock rows with SKIP LOCKED and every step has a unique key.
SWEEPS: list[CronSpec] = [
    CronSpec("deadlines.sweep", "deadline_sweep_seconds"),
    CronSpec("notifications.sweep", "outbox_sweep_seconds", timeout=300),
    CronSpec("duties.check", "duty_check_seconds"),
    CronSpec("webhooks.sweep", "webhooks_sweep_seconds", timeout=300),
    CronSpec("supervision.sweep", "supervision_sweep_seconds", timeout=1800),
    CronSpec("residents.prune_tombstones", "tombstone_prune_seconds", timeout=300),
    CronSpec("system.statistics", "statistics_sweep_seconds", timeout=300),
]

# arq crons: only work that may wait for Redis belongs here (none today).
CRON_JOBS: list[CronSpec] = []


def every(seconds: int) -> dict[str, Any]:
    """arq cron fields for "every ``seconds``" (rounded to what a clock face can express)."""
    if seconds < 60:
        return {"second": set(range(0, 60, seconds))}
    minutes = max(1, seconds // 60)
    return {"minute": set(range(0, 60, minutes)) if minutes < 60 else {0}, "second": {0}}


def cron_jobs(settings: Settings) -> list[CronJob]:
    """The arq cron table for ``settings``."""
    return [
        cron(
            TASKS[spec.task].fn,  # type: ignore[arg-type]
            name=f"cron:{spec.task}",
            run_at_startup=True,
            unique=True,
            timeout=spec.timeout,
            max_tries=1,
            **every(int(getattr(settings, spec.interval_setting))),
        )
        for spec in CRON_JOBS
    ]


async def _beat(ctx: WorkerContext) -> None:
    async with session_scope(ctx["session_factory"]) as db:
        await system.beat(db, worker_id=ctx["worker_id"], started_at=ctx["started_at"])


async def heartbeat_loop(ctx: WorkerContext, every: float, *, first: bool = False) -> None:
    """Tell the database we are alive, so ``/readyz`` can see a worker (``first``: beat at once)."""
    if not first:
        await asyncio.sleep(every)
    while True:
        try:
            await _beat(ctx)
        except Exception:  # a DB blip must not kill the worker; the next beat retries
            log.warning("heartbeat failed", exc_info=True)
        await asyncio.sleep(every)


async def sweep_loop(ctx: WorkerContext, spec: CronSpec) -> None:
    """Run one sweeper every ``settings.<interval_setting>`` seconds, for as long as the process lives.

    A sweep that fails (the database is away) is logged and counted; the next tick tries again.
    A sweep that reports ``more`` work (it stopped at its batch cap) runs again at once.
    """
    settings = ctx["settings"]
    interval = float(getattr(settings, spec.interval_setting))
    fn = TASKS[spec.task].fn
    while True:
        started = time.perf_counter()
        more = False
        try:
            result = await asyncio.wait_for(fn(ctx), timeout=spec.timeout)
            more = bool(isinstance(result, dict) and result.get("more"))
            observe_job(spec.task, started, failed=False)
        except Exception:
            observe_job(spec.task, started, failed=True)
            log.warning("sweep failed; the next one retries", extra={"task": spec.task}, exc_info=True)
        with contextlib.suppress(Exception):  # the gauges are a view; a failure here is not the sweep's
            async with session_scope(ctx["session_factory"]) as db:
                await refresh_backlog_gauges(db)
        if not more:
            await asyncio.sleep(max(0.0, interval - (time.perf_counter() - started)))


async def startup(ctx: dict[str, Any]) -> None:
    """Open the database and start the heartbeat (arq-only runs: tests with ``burst=True``)."""
    settings: Settings = ctx.get("settings") or get_settings()
    engine = make_engine(settings.database_url or "", pool_size=settings.db_pool_size)
    ctx["settings"] = settings
    ctx["engine"] = engine
    ctx["session_factory"] = make_session_factory(engine)
    ctx["worker_id"] = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    ctx["started_at"] = clock.now()
    await _beat(ctx)  # type: ignore[arg-type]  # visible at once, not after the first interval
    ctx["heartbeat"] = asyncio.create_task(heartbeat_loop(ctx, settings.worker_heartbeat_seconds))  # type: ignore[arg-type]
    log.info("worker started", extra={"worker_id": ctx["worker_id"]})


async def shutdown(ctx: dict[str, Any]) -> None:
    """Stop beating, say goodbye in the database, close connections."""
    task: asyncio.Task[None] | None = ctx.get("heartbeat")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if "session_factory" in ctx:
        with contextlib.suppress(Exception):
            async with session_scope(ctx["session_factory"]) as db:
                await system.forget_worker(db, worker_id=ctx["worker_id"])
        await ctx["engine"].dispose()
    log.info("worker stopped", extra={"worker_id": ctx.get("worker_id")})


def _functions() -> list[Any]:
    return [
        func(measured(spec.name, spec.fn), name=spec.name, timeout=spec.timeout, max_tries=spec.max_tries)  # type: ignore[arg-type]
        for spec in TASKS.values()
    ]


def arq_options(settings: Settings) -> dict[str, Any]:
    """The arq ``Worker`` options the process runner uses (no start-up hooks: it owns the database side)."""
    return {
        "functions": _functions(),
        "cron_jobs": cron_jobs(settings),
        "job_timeout": 300,
        "keep_result": 3600,
        "health_check_interval": 30,
        # poll the queue often: a dead Redis is noticed within this, and jobs start sooner
        "poll_delay": 0.5,
    }


def worker_settings(settings: Settings | None = None, **overrides: Any) -> type:
    """An arq-only WorkerSettings class for ``settings`` (tests pass ``burst=True``).

    ``gridcare worker`` does not use it: ``services.worker.run`` keeps the database side
    (heartbeat, sweepers) outside arq's lifecycle so that it outlives a Redis outage.
    """
    settings = settings or get_settings()
    if not settings.redis_url or not settings.database_url:
        raise RuntimeError("the worker needs GRIDCARE_DATABASE_URL and GRIDCARE_REDIS_URL")

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["settings"] = settings
        await startup(ctx)

    attrs: dict[str, Any] = {
        **arq_options(settings),
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "on_startup": on_startup,
        "on_shutdown": shutdown,
        "handle_signals": True,
    }
    attrs.update(overrides)
    return type("WorkerSettings", (), attrs)
