"""A doctor's report-ins per second through the API vs the same writes by raw asyncpg, and the round
trips per report-in (``make bench``).

Both paths, per report-in and in one short transaction each: the report moved to ``reported_in``
under its version, its history row, and one inbox item for the sentinel with the sentinel's inbox
counter. The API path also authenticates, loads the report in scope, checks If-Match, the
permission and the state, renders the sentinel's message in their language and answers the care
view. Same database, same concurrency, same run; prints both, the ratio, and the statements each
API report-in sent (a SQLAlchemy ``before_cursor_execute`` count, plus its BEGIN and COMMIT).
Asserts nothing about time.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event

from services.api.app import create_app
from services.core import clock
from services.core.db import make_engine, make_session_factory, session_scope
from tests.conftest import Servers, make_settings
from tests.factories import auth_headers
from tests.perf.pairs import CONCURRENCY, bench_database, take_turns
from tests.report_world import ReportWorld, build_report_world

N = int(os.environ.get("GRIDCARE_BENCH_REPORT_INS", "2000"))


async def _submitted(pool: asyncpg.Pool, world: ReportWorld, n: int) -> list[uuid.UUID]:
    """``n`` submitted health-need reports with the rows a submission leaves (report, history, clock)."""
    ids = [uuid.uuid4() for _ in range(n)]
    now = clock.now()
    details = json.dumps({"category": "health_need", "needs": ["home_visit"], "description": "腿脚不便"})
    policy = json.dumps({"due_after_hours": 48, "steps": []})
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            "insert into sentinel_report (id, district_id, town_id, village_id, grid_id, category, status, details,"
            " resident_id, reporter_id, team_id, unrouted, submitted_at, body_digest, version, created_at,"
            " updated_at) values ($1,$2,$3,$4,$5,'health_need','submitted',$6::jsonb,$7,$8,$9,false,$10,$11,1,$10,$10)",
            [
                (
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
                for rid in ids
            ],
        )
        await conn.executemany(
            "insert into record_transition (id, subject_type, subject_id, district_id, action, from_state, to_state,"
            " actor_id, at, details) values ($1,'report',$2,$3,'submit',null,'submitted',$4,$5,"
            " jsonb_build_object('team_id', $6::uuid::text))",
            [(uuid.uuid4(), rid, world.district.id, world.sentinel.id, now, world.team.id) for rid in ids],
        )
        await conn.executemany(
            "insert into deadline (id, subject_type, subject_id, kind, policy, district_id, started_at, due_at, state,"
            " next_step_at, created_at, updated_at) values ($1,'report',$2,'report.follow_up',$3::jsonb,$4,$5,$6,"
            " 'open',$7,$5,$5)",
            [
                (uuid.uuid4(), rid, policy, world.district.id, now, now + timedelta(hours=48), now + timedelta(hours=2))
                for rid in ids
            ],
        )
    return ids


async def test_bench_report_ins_api_vs_raw_asyncpg(servers: Servers) -> None:
    async with bench_database(servers, "gridcare_bench_report_in") as bench_url:
        await _bench(bench_url, servers)


async def _bench(bench_url: str, servers: Servers) -> None:
    engine = make_engine(bench_url, pool_size=CONCURRENCY, pre_ping=False)  # as `gridcare api` builds it
    factory = make_session_factory(engine)
    async with session_scope(factory) as db:
        world = await build_report_world(db, at=clock.now() - timedelta(days=1))
    raw_url = bench_url.replace("postgresql+asyncpg://", "postgresql://")
    pool = await asyncpg.create_pool(raw_url, min_size=CONCURRENCY, max_size=CONCURRENCY)
    assert pool is not None
    for_api = await _submitted(pool, world, N)
    for_raw = await _submitted(pool, world, N)

    counted = {"statements": 0, "transactions": 0}

    def statement(*_: Any) -> None:
        counted["statements"] += 1

    def transaction(*_: Any) -> None:
        counted["transactions"] += 1

    app = create_app(make_settings(bench_url, servers.redis_url), engine=engine, redis=None)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    client = httpx.AsyncClient(transport=transport, base_url="http://gridcare.test")
    headers = await auth_headers(client, world.paired) | {"If-Match": '"1"'}
    failures: list[str] = []

    async def report_in(i: int) -> None:
        response = await client.post(f"/reports/{for_api[i]}/report-in", json={}, headers=headers)
        if response.status_code != 200:
            failures.append(response.text)

    await report_in(0)  # warm up (imports, first connection); not timed

    async def raw(i: int) -> None:
        rid, now = for_raw[i], clock.now()
        async with pool.acquire() as conn, conn.transaction():
            version = await conn.fetchval(
                "update sentinel_report set status = 'reported_in', reported_in_at = $2, reported_in_by = $3,"
                " version = version + 1, updated_at = $2 where id = $1 and version = 1 returning version",
                rid,
                now,
                world.paired.id,
            )
            assert version == 2
            await conn.execute(
                "insert into record_transition (id, subject_type, subject_id, district_id, action, from_state,"
                " to_state, actor_id, at, details) values ($1,'report',$2,$3,'report_in','submitted','reported_in',"
                " $4,$5, jsonb_build_object('team_id', $6::uuid::text))",
                uuid.uuid4(),
                rid,
                world.district.id,
                world.paired.id,
                now,
                world.team.id,
            )
            # numbered at commit by the same trigger the API's items go through
            await conn.execute(
                "insert into notification (id, user_id, kind, title, body, subject_type, subject_id, dedupe_key,"
                " created_at, change_seq) values ($1,$2,'report.reported_in','t','b','report',$3,$4,$5,0)",
                uuid.uuid4(),
                world.sentinel.id,
                rid,
                f"report:{rid}:reported_in:{world.sentinel.id}",
                now,
            )

    await raw(0)
    # Only the API's statements pass through SQLAlchemy: counted over the rounds, they are its own.
    event.listen(engine.sync_engine, "before_cursor_execute", statement)
    event.listen(engine.sync_engine, "commit", transaction)
    event.listen(engine.sync_engine, "rollback", transaction)
    pairs = await take_turns(N, report_in, raw)
    event.remove(engine.sync_engine, "before_cursor_execute", statement)
    event.remove(engine.sync_engine, "commit", transaction)
    event.remove(engine.sync_engine, "rollback", transaction)
    await client.aclose()
    await pool.close()
    await engine.dispose()
    assert not failures, failures[:3]

    done = pairs.per_round * len(pairs.rates)
    statements = counted["statements"] / done
    trips = (counted["statements"] + 2 * counted["transactions"]) / done
    print(  # noqa: T201
        pairs.text("report-ins")
        + f"\n  API round trips per report-in: {trips:.2f} ({statements:.2f} statements + BEGIN and COMMIT;"
        " raw: 5 = 3 statements + BEGIN and COMMIT)"
    )
