"""Sweeper cost follows due clocks, not all clocks: 1,000 due among 10,000 vs among 1,000,000 open.

Run: .venv/bin/pytest -q -s tests/perf --override-ini addopts=""
Rows are made with set-based SQL; each round marks the same 1,000 clocks due again.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.core import clock
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.deadlines import service
from services.core.deadlines.policy import Policy, snapshot
from services.dev.embedded import drop_database
from tests.conftest import Servers, fresh_database
from tests.factories import make_district
from tests.sla_kinds import KIND

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
DUE = 1_000
ROUNDS = 5


@pytest.fixture(scope="module")
async def perf_engine(servers: Servers) -> AsyncIterator[AsyncEngine]:
    url = await fresh_database(servers, "gridcare_perf")
    engine = make_engine(url, pool_size=2)
    yield engine
    await engine.dispose()
    await drop_database(servers.server_url, url.rsplit("/", 1)[1].split("?")[0])


async def fill(engine: AsyncEngine, district_id: uuid.UUID, total: int) -> None:
    """``total`` open clocks, not due for a year, written in one INSERT ... SELECT generate_series."""
    policy = snapshot(Policy())
    async with engine.begin() as conn:
        await conn.execute(text("truncate deadline cascade"))
        await conn.execute(
            text(
                """
                insert into deadline (id, subject_type, subject_id, kind, policy, district_id, started_at,
                                      due_at, state, next_step_at, created_at, updated_at)
                select gen_random_uuid(), 'report', gen_random_uuid(), :kind, cast(:policy as jsonb), :district,
                       c.t0, c.t0 + interval '48 hours', 'open', c.t0 + interval '365 days', c.t0, c.t0
                from generate_series(1, :n), (select cast(:t0 as timestamptz) as t0) as c
                """
            ),
            {"kind": KIND, "policy": json.dumps(policy), "district": district_id, "t0": T0, "n": total},
        )
        await conn.execute(text("analyze deadline"))


async def time_sweeps(engine: AsyncEngine) -> list[float]:
    factory = make_session_factory(engine)
    timings = []
    for _ in range(ROUNDS):
        async with engine.begin() as conn:  # the same 1,000 clocks become due (reminder time) again
            await conn.execute(text("delete from deadline_step"))
            await conn.execute(
                text(
                    "update deadline set next_step_at = :due, state = 'open' where id in "
                    "(select id from deadline order by id limit :n)"
                ),
                {"due": T0 + timedelta(hours=36), "n": DUE},
            )
        clock.freeze(T0 + timedelta(hours=36))
        start = time.perf_counter()
        fired = 0
        while True:
            async with session_scope(factory) as db:
                result = await service.sweep(db, limit=500)
            fired += result.fired
            if result.selected == 0:
                break
        timings.append(time.perf_counter() - start)
        assert fired == DUE
    return timings


async def test_sweeper_time_follows_due_clocks_not_all_clocks(perf_engine: AsyncEngine) -> None:
    async with session_scope(make_session_factory(perf_engine)) as db:
        district_id = (await make_district(db)).id
    medians = {}
    for total in (10_000, 1_000_000):
        await fill(perf_engine, district_id, total)
        async with perf_engine.connect() as conn:
            plan = "\n".join(
                (
                    await conn.execute(
                        text(
                            "explain select id from deadline where next_step_at is not null and next_step_at <= :t "
                            "order by next_step_at limit 500 for update skip locked"
                        ),
                        {"t": T0 + timedelta(hours=36)},
                    )
                ).scalars()
            )
        medians[total] = statistics.median(await time_sweeps(perf_engine))
        print(f"\n{DUE} due among {total:>9,} open: median sweep {medians[total] * 1000:.1f} ms")  # noqa: T201
        print("  plan: " + plan.replace("\n", "\n        "))  # noqa: T201
        assert "ix_deadline_next_step_at_pending" in plan
    ratio = medians[1_000_000] / medians[10_000]
    print(f"ratio 1M/10k: {ratio:.2f}")  # noqa: T201
    assert ratio < 3, "the sweeper should not slow down with clocks that are not due"
