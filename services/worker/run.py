"""The worker process: a database side that lives as long as the process, and arq while Redis is there.

Invariant 1 says PostgreSQL is the record and Redis only makes work start sooner. So the
process is built in two halves on one event loop:

* the **database side**, started once: the engine, the heartbeat, the sweepers (deadline
  steps, outbox) on the worker's own timer, and the ``/metrics`` listener. A Redis outage
  does not touch it, so nothing due waits for Redis; a database blip costs one sweep.
* the **arq side**: a ``Worker`` over a Redis pool, built when Redis answers and thrown
  away when it stops answering. While Redis is away the process polls it cheaply (every
  ``redis_poll_seconds``) and starts a new arq worker as soon as it is back.

arq's own ``Worker.close()`` talks to Redis before it runs ``on_shutdown``, so on a dead
pool it raises and whatever ``on_startup`` built leaks. Here arq gets no start-up or
shutdown hooks: it borrows the database side's context, and tearing it down
(``_close_arq``) never raises and never leaves a task or a connection behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import uuid
from dataclasses import dataclass, field

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.core import clock
from services.core.config import Settings
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.metrics import watch_pool
from services.core.system import service as system
from services.worker.metrics import MetricsServer
from services.worker.registry import WorkerContext
from services.worker.settings import SWEEPS, arq_options, heartbeat_loop, sweep_loop

log = logging.getLogger("gridcare.worker")

APPLICATION_NAME = "gridcare-worker"
# Errors that mean "Redis is not there" (the arq side restarts) rather than a bug.
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError, RedisError)
# How long a stopping worker lets running jobs finish before cancelling them (they are retried).
STOP_GRACE_SECONDS = 10.0


@dataclass
class WorkerProcess:
    """What one running worker process holds; ``restarts`` counts arq restarts after Redis losses."""

    settings: Settings
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")
    restarts: int = 0
    ctx: WorkerContext = field(default_factory=lambda: WorkerContext())
    engine: AsyncEngine | None = None
    arq: Worker | None = None
    arq_running: asyncio.Event = field(default_factory=asyncio.Event)


def run_forever(settings: Settings) -> int:
    """Run the worker until SIGINT/SIGTERM; returns the exit status."""
    return asyncio.run(_main(settings))


async def _main(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(settings, stop=stop)
    return 0


async def serve(settings: Settings, *, stop: asyncio.Event, process: WorkerProcess | None = None) -> None:
    """Run the database side for the whole call and arq whenever Redis answers, until ``stop`` is set."""
    if not settings.redis_url or not settings.database_url:
        raise RuntimeError("the worker needs GRIDCARE_DATABASE_URL and GRIDCARE_REDIS_URL")
    proc = process or WorkerProcess(settings)
    engine = make_engine(settings.database_url, pool_size=settings.db_pool_size, application_name=APPLICATION_NAME)
    watch_pool(engine, "worker")
    proc.engine = engine
    proc.ctx["settings"] = settings
    proc.ctx["session_factory"] = make_session_factory(engine)
    proc.ctx["worker_id"] = proc.worker_id
    proc.ctx["started_at"] = clock.now()
    metrics = MetricsServer(settings)
    background: list[asyncio.Task[None]] = []
    try:
        await metrics.start()
        background.append(asyncio.create_task(heartbeat_loop(proc.ctx, settings.worker_heartbeat_seconds, first=True)))
        background += [asyncio.create_task(sweep_loop(proc.ctx, spec)) for spec in SWEEPS]
        log.info("worker started", extra={"worker_id": proc.worker_id})
        while not stop.is_set():
            pool = await _wait_for_redis(settings, stop)
            if pool is None:
                break
            await _run_arq(proc, pool, stop)
    finally:
        for task in background:
            task.cancel()
        for task in background:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await metrics.stop()
        with contextlib.suppress(Exception):
            async with session_scope(proc.ctx["session_factory"]) as db:
                await system.forget_worker(db, worker_id=proc.worker_id)
        await engine.dispose()
        log.info("worker stopped", extra={"worker_id": proc.worker_id})


async def _wait_for_redis(settings: Settings, stop: asyncio.Event) -> ArqRedis | None:
    """A connected arq pool, polling every ``redis_poll_seconds`` until Redis answers; None when stopped."""
    assert settings.redis_url is not None  # noqa: S101 - checked in serve()
    timeout = max(1, int(settings.redis_poll_seconds))
    base = RedisSettings.from_dsn(settings.redis_url)
    redis_settings = dataclasses.replace(base, conn_retries=0, conn_timeout=timeout)
    warned = False
    while not stop.is_set():
        pool: ArqRedis | None = None
        try:
            pool = await create_pool(redis_settings)  # pings once; no arq retry ladder
            return pool
        except REDIS_DOWN as exc:
            if pool is not None:
                with contextlib.suppress(Exception):
                    await pool.aclose()
            if not warned:
                log.warning("redis unavailable; waiting for it", extra={"error": type(exc).__name__})
                warned = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.redis_poll_seconds)
    return None


async def _run_arq(proc: WorkerProcess, pool: ArqRedis, stop: asyncio.Event) -> None:
    """One arq worker on ``pool`` until it loses Redis or ``stop`` is set; always closes it cleanly."""
    worker = Worker(**arq_options(proc.settings), redis_pool=pool, ctx=dict(proc.ctx), handle_signals=False)
    proc.arq = worker
    main = asyncio.create_task(worker.main())
    stopping = asyncio.create_task(stop.wait())
    proc.arq_running.set()
    try:
        await asyncio.wait({main, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if main.done():
            exc = main.exception()
            if exc is not None and not isinstance(exc, REDIS_DOWN):
                log.error("arq stopped on an error; restarting it", exc_info=exc)
            proc.restarts += 1
            log.warning("redis unavailable; worker restarts", extra={"error": type(exc).__name__ if exc else None})
    finally:
        proc.arq_running.clear()
        stopping.cancel()
        await _close_arq(worker, main, pool, graceful=stop.is_set())
        proc.arq = None


async def _close_arq(worker: Worker, main: asyncio.Task[None], pool: ArqRedis, *, graceful: bool) -> None:
    """Stop polling, let running jobs finish (briefly, when stopping on a signal), close the pool. Never raises."""
    main.cancel()
    with contextlib.suppress(BaseException):
        await main
    jobs = [t for t in worker.tasks.values() if not t.done()]
    if jobs and graceful:
        await asyncio.wait(jobs, timeout=STOP_GRACE_SECONDS)
    for job in jobs:
        job.cancel()  # arq retries them; every job is idempotent
    if jobs:
        await asyncio.gather(*jobs, return_exceptions=True)
    if graceful:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pool.delete(worker.health_check_key), timeout=1)
    with contextlib.suppress(Exception):
        await pool.aclose(close_connection_pool=True)
