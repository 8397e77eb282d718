"""Sweeper throughput: the cost per due step, and 10,000 steps due at one moment taken by two workers.

Run: .venv/bin/pytest -q -s tests/perf/test_sweeper_throughput_perf.py -p no:randomly --override-ini addopts=""

Each step notifies two accounts (the test kind's "responsible" audience: every team member of
the district), so one step writes a ``deadline_step``, two inbox items and bumps two hot
``inbox_counter`` rows - the shape that used to hold counter locks for seconds.

* per step: one process sweeps 10,000 due clocks batch by batch (``deadline_sweep_batch``),
  each batch its own transaction; median of ``ROUNDS`` rounds, in ms per step.
* two workers: two real ``gridcare worker`` processes (sweeping every second, Redis db 14 or
  the suite's +1), 10,000 clocks due at one instant a few seconds ahead; the figure is the
  last step's ``fired_at`` minus the due time, median of ``ROUNDS`` rounds. Meanwhile the test
  does what a report submission does to the inbox - ``notify`` the same two (hot) users and
  commit - every 50 ms, and prints how long those commits took: the front door's wait.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from arq.connections import RedisSettings, create_pool
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.core import clock
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.deadlines import kinds, service
from services.core.deadlines.policy import Policy, snapshot
from services.core.notifications.service import notify
from services.core.security.roles import Role
from services.dev.embedded import drop_database
from tests.conftest import ROOT, Servers, fresh_database
from tests.factories import make_district, make_user
from tests.sla_kinds import KIND
from tests.worker.test_deadlines_worker import own_redis_db

DUE = 10_000
ROUNDS = 3
BATCH = 200
FIRED = (
    "select count(*), (select count(*) from notification where kind like 'deadline.%'), max(fired_at) "
    "from deadline_step"
)


@pytest.fixture(scope="module")
async def perf_db(servers: Servers) -> AsyncIterator[tuple[str, AsyncEngine, uuid.UUID]]:
    url = await fresh_database(servers, "gridcare_sweep_perf")
    engine = make_engine(url, pool_size=2)
    async with session_scope(make_session_factory(engine)) as db:
        district = await make_district(db)
        for _ in range(2):
            await make_user(db, Role.TEAM_MEMBER, district)
    yield url, engine, district.id
    await engine.dispose()
    await drop_database(servers.server_url, url.rsplit("/", 1)[1].split("?")[0])


async def make_due(engine: AsyncEngine, district_id: uuid.UUID, reminder_at: datetime) -> None:
    """``DUE`` fresh clocks whose reminder (due - 12 h) is at ``reminder_at``; earlier rounds' rows removed."""
    started = reminder_at - timedelta(hours=36)
    async with engine.begin() as conn:
        await conn.execute(text("truncate deadline, deadline_step, notification, outbox_message, inbox_counter"))
        await conn.execute(
            text(
                """
                insert into deadline (id, subject_type, subject_id, kind, policy, district_id, started_at,
                                      due_at, state, next_step_at, created_at, updated_at)
                select gen_random_uuid(), 'report', gen_random_uuid(), :kind, cast(:policy as jsonb), :district,
                       c.s, c.s + interval '48 hours', 'open', :due, c.s, c.s
                from generate_series(1, :n), (select cast(:started as timestamptz) as s) as c
                """
            ),
            {
                "kind": KIND,
                "policy": json.dumps(snapshot(Policy())),
                "district": district_id,
                "started": started,
                "due": reminder_at,
                "n": DUE,
            },
        )
        await conn.execute(text("analyze deadline"))


async def fired(engine: AsyncEngine) -> tuple[int, int, datetime | None]:
    async with engine.connect() as conn:
        row = (await conn.execute(text(FIRED))).one()
    return int(row[0]), int(row[1]), row[2]


@pytest.mark.parametrize("resolver", ["set-based recipients", "per-step handler"])
async def test_cost_per_due_step(
    perf_db: tuple[str, AsyncEngine, uuid.UUID], resolver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, engine, district_id = perf_db
    if resolver == "per-step handler":  # what a kind without ``deadline_kind_many`` costs (the report kind today)
        monkeypatch.delitem(kinds._MANY, KIND)  # noqa: SLF001
    factory = make_session_factory(engine)
    t0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    per_step = []
    for _ in range(ROUNDS):
        await make_due(engine, district_id, t0)
        clock.freeze(t0)
        start = time.perf_counter()
        while True:
            async with session_scope(factory) as db:
                result = await service.sweep(db, limit=BATCH)
            if result.selected == 0:
                break
        elapsed = time.perf_counter() - start
        steps, items, _ = await fired(engine)
        assert (steps, items) == (DUE, 2 * DUE)
        per_step.append(elapsed / DUE * 1000)
    clock.unfreeze()
    print(f"\nsweeper, {resolver}, batches of {BATCH}: {[round(p, 3) for p in per_step]} ms/step")  # noqa: T201
    print(f"median {statistics.median(per_step):.3f} ms per due step (goal <= 1 ms)")  # noqa: T201


async def test_ten_thousand_steps_due_at_once_with_two_workers(
    perf_db: tuple[str, AsyncEngine, uuid.UUID], servers: Servers
) -> None:
    url, engine, district_id = perf_db
    redis_url = own_redis_db(servers.redis_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDCARE_")}
    env.update(
        GRIDCARE_ENV="test",
        GRIDCARE_DATABASE_URL=url,
        GRIDCARE_REDIS_URL=redis_url,
        GRIDCARE_DEADLINE_SWEEP_SECONDS="1",
        GRIDCARE_DEADLINE_SWEEP_BATCH=str(BATCH),
        GRIDCARE_WORKER_METRICS_PORT="0",
        GRIDCARE_LOG_LEVEL="WARNING",
        GRIDCARE_TOKEN_SIGNING_KEY="k" * 40,
        GRIDCARE_PII_KEYS='{"1": "' + "A" * 43 + '="}',
        GRIDCARE_PII_BLIND_INDEX_KEY="b" * 40,
    )
    command = [sys.executable, "-c", "import tests.sla_kinds; from services.cli import main; main(['worker'])"]
    workers = [subprocess.Popen(command, cwd=ROOT, env=env) for _ in range(2)]
    figures = []
    waits: list[float] = []
    async with engine.connect() as conn:
        members = list((await conn.execute(text("select user_id from role_grant"))).scalars())
    try:
        await asyncio.sleep(3)  # both workers up and sweeping (nothing due yet)
        for _ in range(ROUNDS):
            due = clock.now() + timedelta(seconds=4)
            await make_due(engine, district_id, due)
            stop = asyncio.Event()
            front_door = asyncio.create_task(notify_meanwhile(engine, members, stop))
            end = time.monotonic() + 120
            while time.monotonic() < end:
                steps, items, last = await fired(engine)
                if steps == DUE:
                    break
                await asyncio.sleep(0.25)
            stop.set()
            waits += await front_door
            assert (steps, items) == (DUE, 2 * DUE), "every step once, every notification once"
            assert last is not None
            figures.append((last - due).total_seconds())
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.kill()
        queue = await create_pool(RedisSettings.from_dsn(redis_url))
        await queue.flushdb()  # the suite's own Redis database (+1), never FLUSHALL: the planned next steps
        await queue.aclose()
    print(f"\n{DUE} steps due at once, two workers: all fired {[round(f, 2) for f in figures]} s after due")  # noqa: T201
    print(f"median {statistics.median(figures):.2f} s (goal <= 15 s)")  # noqa: T201
    waits.sort()
    median, p99, worst = (statistics.median(waits) * 1000, waits[int(len(waits) * 0.99)] * 1000, waits[-1] * 1000)
    print(  # noqa: T201
        f"meanwhile, {len(waits)} notify() commits to the same (hot) users: "
        f"median {median:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms"
    )


async def notify_meanwhile(engine: AsyncEngine, user_ids: list[uuid.UUID], stop: asyncio.Event) -> list[float]:
    """What a report submission does to the inbox (notify the team, commit), timed, while the sweepers work."""
    factory = make_session_factory(engine)
    took = []
    while not stop.is_set():
        start = time.perf_counter()
        async with session_scope(factory) as db:
            key = f"probe:{uuid.uuid4()}"
            await notify(db, user_ids=user_ids, kind="probe", title="t", body="b", dedupe_key=key, channels=[])
        took.append(time.perf_counter() - start)
        await asyncio.sleep(0.05)
    return took
