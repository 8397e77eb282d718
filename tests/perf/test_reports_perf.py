"""Report submissions per second through the API vs the same inserts by raw asyncpg (``make bench``).

Both paths write, per report and in one short transaction each: the report, its first
transition, its deadline and one inbox notification with the member's inbox counter. The API path
also authenticates, validates, checks scope, resolves the responsible team, audits and
renders the answer. Same database, same concurrency, same run, the two paths taking turns in
rounds (a change in the shared machine's load falls on both); prints each round and the median ratio.
Asserts nothing about time.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import timedelta

import asyncpg
import httpx

from services.api.app import create_app
from services.core import clock
from services.core.db import make_engine, make_session_factory, session_scope
from tests.conftest import Servers, make_settings
from tests.factories import auth_headers
from tests.perf.pairs import CONCURRENCY, bench_database, take_turns
from tests.report_world import build_report_world, health_need

N = int(os.environ.get("GRIDCARE_BENCH_REPORTS", "2000"))


async def test_bench_report_submissions_api_vs_raw_asyncpg(servers: Servers) -> None:
    async with bench_database(servers, "gridcare_bench_reports") as bench_url:
        await _bench(bench_url, servers)


async def _bench(bench_url: str, servers: Servers) -> None:
    engine = make_engine(bench_url, pool_size=CONCURRENCY, pre_ping=False)  # as `gridcare api` builds it
    factory = make_session_factory(engine)
    async with session_scope(factory) as db:
        world = await build_report_world(db, at=clock.now() - timedelta(days=1))
    app = create_app(make_settings(bench_url, servers.redis_url), engine=engine, redis=None)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    client = httpx.AsyncClient(transport=transport, base_url="http://gridcare.test")
    headers = await auth_headers(client, world.sentinel)
    bodies = [health_need(world.grid.id, world.resident.id) for _ in range(N)]
    failures: list[str] = []

    async def submit(i: int) -> None:
        response = await client.post("/reports", json=bodies[i], headers=headers)
        if response.status_code != 201:
            failures.append(response.text)

    await submit(0)  # warm up (imports, first connection); not timed

    raw_url = bench_url.replace("postgresql+asyncpg://", "postgresql://")
    pool = await asyncpg.create_pool(raw_url, min_size=CONCURRENCY, max_size=CONCURRENCY)
    assert pool is not None
    details = json.dumps(bodies[0]["details"])
    policy = json.dumps({"due_after_hours": 48, "steps": []})

    async def insert(_: int) -> None:
        rid, now = uuid.uuid4(), clock.now()
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "insert into sentinel_report (id, district_id, town_id, village_id, grid_id, category, status,"
                " details, resident_id, reporter_id, team_id, unrouted, submitted_at, body_digest, version,"
                " created_at, updated_at) values ($1,$2,$3,$4,$5,'health_need','submitted',$6::jsonb,$7,$8,$9,"
                " false,$10,$11,1,$10,$10)",
                rid,
                world.district.id,
                world.town.id,
                world.village.id,
                world.grid.id,
                details,
                world.resident.id,
                world.sentinel.id,
                world.team.id,
                now,
                "0" * 64,
            )
            await conn.execute(
                "insert into record_transition (id, subject_type, subject_id, district_id, action, from_state,"
                " to_state, actor_id, at, details) values ($1,'report',$2,$3,'submit',null,'submitted',$4,$5,"
                " jsonb_build_object('team_id', $6::uuid::text))",
                uuid.uuid4(),
                rid,
                world.district.id,
                world.sentinel.id,
                now,
                world.team.id,
            )
            await conn.execute(
                "insert into deadline (id, subject_type, subject_id, kind, policy, district_id, started_at, due_at,"
                " state, next_step_at, created_at, updated_at) values ($1,'report',$2,'report.follow_up',"
                " $3::jsonb,$4,$5,$6,'open',$7,$5,$5)",
                uuid.uuid4(),
                rid,
                policy,
                world.district.id,
                now,
                now + timedelta(hours=48),
                now + timedelta(hours=2),
            )
            # numbered at commit by the same trigger the API's items go through
            await conn.execute(
                "insert into notification (id, user_id, kind, title, body, subject_type, subject_id, dedupe_key,"
                " created_at, change_seq) values ($1,$2,'report.submitted','t','b','report',$3,$4,$5,0)",
                uuid.uuid4(),
                world.paired.id,
                rid,
                f"report:{rid}:submitted:{world.paired.id}",
                now,
            )

    await insert(0)
    pairs = await take_turns(N, submit, insert)
    await client.aclose()
    await pool.close()
    await engine.dispose()
    assert not failures, failures[:3]
    print(pairs.text("report submissions"))  # noqa: T201
