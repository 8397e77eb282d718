"""Referral creates per second by a HIS client through the API vs the same rows by raw asyncpg (``make bench``).

The HIS sends downward referrals (each with its own identifier) at 8 concurrent. Both paths write, per
referral and in one short transaction each: the referral, its identifier, its first transition, its two
clocks (take over, follow up), one change per end institution (with the per-institution counters) and one
inbox notification for each of the team's two members and the centre's steward (with their counters).
The API path also authenticates, validates, resolves the patient and the responsible team, seals the
clinical text, audits and renders the answer. Same database, same concurrency, same run; prints both and
the ratio. Asserts nothing about time.
"""

from __future__ import annotations

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
from tests.perf.pairs import CONCURRENCY, bench_database, bounded
from tests.referral_world import build_referral_world, downward_body

N = int(os.environ.get("GRIDCARE_BENCH_REFERRALS", "1000"))


async def test_bench_referral_creates_by_a_his_api_vs_raw_asyncpg(servers: Servers) -> None:
    async with bench_database(servers, "gridcare_bench_referrals") as bench_url:
        await _bench(bench_url, servers)


async def _bench(bench_url: str, servers: Servers) -> None:
    engine = make_engine(bench_url, pool_size=CONCURRENCY)
    factory = make_session_factory(engine)
    async with session_scope(factory) as db:
        world = await build_referral_world(db, at=clock.now() - timedelta(days=1))
    app = create_app(make_settings(bench_url, servers.redis_url), engine=engine, redis=None)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gridcare.test") as client:
        headers = await auth_headers(client, world.his)
        bodies = [
            downward_body(world, identifiers=[{"system": "urn:his:bench", "value": f"API-{i}"}]) for i in range(N)
        ]
        failures: list[str] = []

        async def create(i: int) -> None:
            response = await client.post("/referrals", json=bodies[i], headers=headers)
            if response.status_code != 201:
                failures.append(response.text)

        await create(0)  # warm up (imports, first connection); not timed
        api_seconds = await bounded(N - 1, create, first=1)
    assert not failures, failures[:3]
    await engine.dispose()

    raw_url = bench_url.replace("postgresql+asyncpg://", "postgresql://")
    pool = await asyncpg.create_pool(raw_url, min_size=CONCURRENCY, max_size=CONCURRENCY)
    assert pool is not None
    async with pool.acquire() as conn:
        recipients = [
            r["user_id"]
            for r in await conn.fetch(
                "select p.user_id from person p where p.user_id is not null and p.institution_id = $1",
                world.centre.id,
            )
        ]
    policy = '{"due_after_hours": 24, "steps": []}'

    async def insert(i: int) -> None:
        rid, now = uuid.uuid4(), clock.now()
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "insert into referral (id, district_id, direction, status, resident_id, grid_id, village_id,"
                " town_id, priority, from_institution_id, to_institution_id, to_team_id, urgency, reason_enc,"
                " consent_by, consent_method, consent_at, consent_recorded_by, requested_by, requested_at,"
                " body_digest, discharged_at, version, created_at, updated_at) values ($1,$2,'downward',"
                " 'requested',$3,$4,$5,$6,true,$7,$8,$9,'routine',$10,'patient','written',$11,$12,$12,$11,$13,"
                " $11,1,$11,$11)",
                rid,
                world.district.id,
                world.resident.id,
                world.grid.id,
                world.village.id,
                world.town.id,
                world.hospital.id,
                world.centre.id,
                world.team.id,
                os.urandom(64),
                now,
                world.his.id,
                "0" * 64,
            )
            await conn.execute(
                "insert into referral_identifier (id, referral_id, district_id, system, value, assigned_by,"
                " assigned_at) values ($1,$2,$3,'urn:his:bench',$4,$5,$6)",
                uuid.uuid4(),
                rid,
                world.district.id,
                f"RAW-{i}",
                world.his.id,
                now,
            )
            await conn.execute(
                "insert into record_transition (id, subject_type, subject_id, district_id, action, from_state,"
                " to_state, actor_id, at, details) values ($1,'referral',$2,$3,'request',null,'requested',$4,$5,"
                " '{}'::jsonb)",
                uuid.uuid4(),
                rid,
                world.district.id,
                world.his.id,
                now,
            )
            for kind, hours in (("referral.take_over", 24), ("referral.follow_up", 48)):
                await conn.execute(
                    "insert into deadline (id, subject_type, subject_id, kind, policy, district_id, started_at,"
                    " due_at, state, next_step_at, created_at, updated_at) values ($1,'referral',$2,$3,$4::jsonb,"
                    " $5,$6,$7,'open',$7,$6,$6)",
                    uuid.uuid4(),
                    rid,
                    kind,
                    policy,
                    world.district.id,
                    now,
                    now + timedelta(hours=hours),
                )
            for user_id in sorted(recipients):
                seq = await conn.fetchval(
                    "insert into inbox_counter (user_id, seq) values ($1, 1)"
                    " on conflict (user_id) do update set seq = inbox_counter.seq + 1 returning seq",
                    user_id,
                )
                await conn.execute(
                    "insert into notification (id, user_id, kind, title, body, subject_type, subject_id,"
                    " dedupe_key, created_at, change_seq) values ($1,$2,'referral.requested','t','b','referral',"
                    " $3,$4,$5,$6)",
                    uuid.uuid4(),
                    user_id,
                    rid,
                    f"referral:{rid}:requested:1:{user_id}",
                    now,
                    seq,
                )
            for institution_id in sorted((world.hospital.id, world.centre.id)):
                seq = await conn.fetchval(
                    "insert into referral_feed_counter (institution_id, seq) values ($1, 1) on conflict"
                    " (institution_id) do update set seq = referral_feed_counter.seq + 1 returning seq",
                    institution_id,
                )
                await conn.execute(
                    "insert into referral_change (institution_id, seq, referral_id, event_type, version, status,"
                    " occurred_at) values ($1,$2,$3,'referral.requested',1,'requested',$4)",
                    institution_id,
                    seq,
                    rid,
                    now,
                )

    await insert(0)
    raw_seconds = await bounded(N - 1, insert, first=1)
    await pool.close()

    api_rate, raw_rate = (N - 1) / api_seconds, (N - 1) / raw_seconds
    print(  # noqa: T201
        f"\nreferral creates by a HIS client, N={N - 1}, concurrency {CONCURRENCY}:"
        f"\n  API (httpx -> ASGI -> SQLAlchemy/asyncpg): {api_rate:8.1f} referrals/s ({api_seconds:.2f} s)"
        f"\n  raw asyncpg, same rows:                   {raw_rate:8.1f} referrals/s ({raw_seconds:.2f} s)"
        f"\n  ratio API / raw: {api_rate / raw_rate:.3f} (raw is {raw_rate / api_rate:.1f}x faster)"
    )
