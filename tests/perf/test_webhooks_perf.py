"""Webhook deliveries per second to a local receiver, and the lag from commit to delivery (``make bench``).

Two runs on a database of their own, through the worker's own code (``sweep_loop`` over the
``webhooks.sweep`` task, as ``gridcare worker`` runs it, without Redis: the sweep is the guarantee):

* backlog: 10,000 events committed first, then one worker drains them: deliveries per second, and each
  event's lag from its commit to its arrival (which here is mostly its place in the queue);
* flowing: the same number committed by a producer in transactions of 10 while the worker runs: the lag
  a receiver sees in steady work (bounded below by the sweep interval when the queue runs dry, since no
  arq job kicks the worker here).

The receiver is a threaded HTTP/1.1 server on loopback answering 204, in a process of its own (so it does
not share the worker's interpreter lock), logging each arrival. Prints the figures; asserts only that every
event arrived exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.api.app import create_app
from services.core import clock
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.webhooks.service import emit
from services.dev.embedded import drop_database
from services.worker.registry import WorkerContext
from services.worker.settings import SWEEPS, sweep_loop
from tests.conftest import ROOT, Servers, fresh_database, make_settings
from tests.factories import auth_headers
from tests.referral_world import ReferralWorld, build_referral_world

N = int(os.environ.get("GRIDCARE_BENCH_WEBHOOKS", "10000"))
PRODUCER_BATCH = 10


@pytest.fixture
async def bench_url(servers: Servers) -> AsyncIterator[str]:
    url = await fresh_database(servers, "gridcare_bench_webhooks")
    yield url
    await drop_database(servers.server_url, url.rsplit("/", 1)[1])


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def _produce(factory: Any, world: ReferralWorld, n: int, per_transaction: int) -> dict[str, float]:
    """Commit ``n`` events, ``per_transaction`` at a time; the wall time each one's commit returned."""
    committed: dict[str, float] = {}
    for start in range(0, n, per_transaction):
        ids = []
        async with session_scope(factory) as db:
            for i in range(start, min(n, start + per_transaction)):
                data = {"id": str(uuid.uuid4()), "identifiers": [], "version": i + 1, "status": "accepted"}
                message_id = await emit(
                    db,
                    institution_ids=[world.hospital.id, world.centre.id],
                    event_type="referral.accepted",
                    data=data,
                    occurred_at=clock.now(),
                )
                assert message_id is not None
                ids.append(message_id)
        now = time.time()
        committed.update(dict.fromkeys(ids, now))
        await asyncio.sleep(0)  # let the worker's task run between transactions
    return committed


class Receiver:
    """The receiver process: its URL, and the arrivals it logged."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "tests.webhook_receiver", str(log)], stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()

    def arrivals(self) -> list[tuple[str, float]]:
        lines = self.log.read_text(encoding="utf-8").splitlines() if self.log.exists() else []
        return [(i, float(at)) for i, at in (line.split(" ") for line in lines if line.count(" ") == 1)]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


async def _until_all_arrived(receiver: Receiver, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(receiver.arrivals()) < n and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


def _report(name: str, receiver: Receiver, committed: dict[str, float], seconds: float) -> None:
    arrivals = receiver.arrivals()
    ids = [i for i, _ in arrivals]
    assert len(ids) == len(committed)
    assert set(ids) == set(committed)  # every event exactly once
    lags = [(at - committed[i]) * 1000 for i, at in arrivals]
    print(  # noqa: T201
        f"\nwebhooks {name}: {len(ids)} deliveries in {seconds:.1f} s = {len(ids) / seconds:.0f}/s; "
        f"commit->delivery lag median {statistics.median(lags):.0f} ms, p95 {_percentile(lags, 95):.0f} ms, "
        f"max {max(lags):.0f} ms"
    )


async def test_bench_webhook_deliveries_per_second_and_lag(bench_url: str, servers: Servers, tmp_path: Path) -> None:
    settings = make_settings(bench_url, servers.redis_url, access_token_ttl_seconds=3600)
    engine = make_engine(bench_url, pool_size=4)
    factory = make_session_factory(engine)
    async with session_scope(factory) as db:
        world = await build_referral_world(db)
    spec = next(s for s in SWEEPS if s.task == "webhooks.sweep")
    worker_engine = make_engine(bench_url, pool_size=4)
    ctx: WorkerContext = {"settings": settings, "session_factory": make_session_factory(worker_engine)}
    app = create_app(settings, engine=engine, redis=None)
    try:
        for name, produce_first in (("backlog", True), ("flowing", False)):
            receiver = Receiver(tmp_path / f"{name}.log")
            try:
                transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
                async with httpx.AsyncClient(transport=transport, base_url="http://gridcare.test") as client:
                    created = await client.post(
                        "/webhook-subscriptions",
                        json={"url": receiver.url, "event_types": ["referral.accepted"]},
                        headers=await auth_headers(client, world.his),
                    )
                    assert created.status_code == 201, created.text
                    subscription = created.json()
                if produce_first:
                    committed = await _produce(factory, world, N, 500)
                    started = time.perf_counter()
                    loop = asyncio.create_task(sweep_loop(ctx, spec))
                else:
                    started = time.perf_counter()
                    loop = asyncio.create_task(sweep_loop(ctx, spec))
                    committed = await _produce(factory, world, N, PRODUCER_BATCH)
                await _until_all_arrived(receiver, N, timeout=900)
                seconds = time.perf_counter() - started
                loop.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loop
                _report(name, receiver, committed, seconds)
                async with httpx.AsyncClient(transport=transport, base_url="http://gridcare.test") as client:
                    headers = await auth_headers(client, world.his) | {"If-Match": f'"{subscription["version"]}"'}
                    gone = await client.delete(f"/webhook-subscriptions/{subscription['id']}", headers=headers)
                    assert gone.status_code == 204  # the next run starts with no subscription left over
            finally:
                receiver.stop()
    finally:
        await worker_engine.dispose()
        await engine.dispose()
