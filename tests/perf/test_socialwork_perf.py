"""Social-work reads at scale (``make bench``): the case list of a social worker with 200 open cases among
100,000 in the department, and the department's metrics over a year of 100,000 cases (with 10,000
transfers and their follow-up clocks and 10,000 aid applications). The rows are inserted set-based in
SQL; the reads go through the API. Prints median and p95; asserts only that the answers are right.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text

from services.api.app import create_app
from services.core import clock
from services.core.db import make_engine, make_session_factory, session_scope
from services.dev.embedded import drop_database
from tests.conftest import Servers, fresh_database, make_settings
from tests.factories import auth_headers
from tests.socialwork_world import build_social_work_world

N = int(os.environ.get("GRIDCARE_BENCH_CASES", "100000"))
MINE = 200
RUNS = int(os.environ.get("GRIDCARE_BENCH_RUNS", "30"))
YEAR = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def bench_url(servers: Servers) -> AsyncIterator[str]:
    url = await fresh_database(servers, "gridcare_bench_socialwork")
    yield url
    await drop_database(servers.server_url, url.rsplit("/", 1)[1])


async def _timed(name: str, runs: int, call: Callable[[], Awaitable[None]]) -> None:
    await call()  # warm up: not timed
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    ordered = sorted(samples)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    print(f"\n{name}: n={runs} median={statistics.median(samples) * 1000:.1f} ms p95={p95 * 1000:.1f} ms")  # noqa: T201


# Every case is opened in 2026 (one every ~5 minutes); each fifth is closed, each second has an approved
# plan; the social worker under test works every (N / 200)-th case, kept open; a colleague the rest.
CASES = """
insert into social_work_case (id, district_id, department_id, institution_id, org_unit_id, status, source,
  resident_id, grid_id, client_name_masked, service_areas, risk_level, opened_at, opened_by, plan_approved_at,
  closed_at, version, created_at, updated_at)
select gen_random_uuid(), d.district_id, d.id, d.institution_id, d.org_unit_id,
  case when g % :step = 0 then 'active' when g % 5 = 0 then 'closed' else
    (array['intake','assessing','planning','active','closure_requested'])[1 + g % 5] end,
  (array['ward_referral','self','family','sentinel_report','referral','community_organisation'])[1 + g % 6],
  :resident, :grid, '患*',
  case when g % 3 = 0 then array['psychosocial','resource_integration'] else array['psychosocial'] end,
  (array['low','medium','high','critical'])[1 + g % 4],
  cast(:year as timestamptz) + (g * interval '5 minutes'), :opener,
  case when g % 2 = 0 or g % 5 = 0 then cast(:year as timestamptz) + (g * interval '5 minutes') + interval '3 days' end,
  case when g % 5 = 0 and g % :step <> 0
    then cast(:year as timestamptz) + (g * interval '5 minutes') + interval '20 days' end,
  1, now(), now()
from social_work_department d, generate_series(1, :n) g
where d.id = :department
"""
WORKERS = """
insert into social_work_case_worker (id, case_id, user_id, lead, assigned_at)
select gen_random_uuid(), c.id,
  case when c.status = 'active'
    and extract(epoch from c.opened_at - cast(:year as timestamptz))::bigint / 300 % :step = 0
    then cast(:worker as uuid) else cast(:colleague as uuid) end,
  true, c.opened_at
from social_work_case c
"""
TRANSFERS = """
insert into social_work_transfer (id, case_id, department_id, district_id, resident_id, grid_id, village_id,
  status, scope, summary_enc, consent_by, consent_method, consent_at, to_team_id, discharged_at, offered_at,
  offered_by, answered_at, receipt_no, version, created_at, updated_at)
select gen_random_uuid(), c.id, c.department_id, c.district_id, c.resident_id, c.grid_id, :village,
  'accepted', 'summary', '\\x00'::bytea, 'patient', 'written', c.opened_at, :team, c.opened_at, c.opened_at,
  :opener, c.opened_at + interval '1 day', 'ZJ' || substr(c.id::text, 1, 18), 1, now(), now()
from social_work_case c where c.status = 'closed' limit :transfers
"""
CLOCKS = """
insert into deadline (id, subject_type, subject_id, kind, policy, district_id, started_at, due_at, met_at,
  breached_at, state, created_at, updated_at)
select gen_random_uuid(), 'social_work_transfer', t.id, 'socialwork.transfer_follow_up',
  '{"due_after_hours": 168, "steps": []}'::jsonb, t.district_id, t.answered_at, t.answered_at + interval '7 days',
  case when random() < 0.8 then t.answered_at + interval '2 days' end, null, 'met', now(), now()
from social_work_transfer t
"""
AID = """
insert into social_work_aid_application (id, case_id, department_id, district_id, kind, programme,
  amount_requested, documents, status, amount_approved, created_by, version, created_at, updated_at)
select gen_random_uuid(), c.id, c.department_id, c.district_id,
  case when random() < 0.5 then 'medical_aid' else 'charity' end, '城乡医疗救助', 10000,
  '[{"name": "低保证明", "kind": "income"}]'::jsonb,
  case when random() < 0.6 then 'approved' else 'submitted' end, 5000, :opener, 1, c.opened_at, c.opened_at
from social_work_case c where c.status = 'active' limit :aid
"""


async def test_bench_a_social_workers_case_list_and_the_department_metrics_over_a_year(
    bench_url: str, servers: Servers
) -> None:
    engine = make_engine(bench_url, pool_size=4)
    factory = make_session_factory(engine)
    step = N // MINE
    async with session_scope(factory) as db:
        w = await build_social_work_world(db, at=clock.now() - timedelta(days=400))
        started = time.perf_counter()
        common = {"year": YEAR, "step": step}
        await db.execute(
            text(CASES),
            common
            | {
                "n": N,
                "department": w.department.id,
                "resident": w.base.resident.id,
                "grid": w.base.grid.id,
                "opener": w.worker.id,
            },
        )
        await db.execute(text(WORKERS), common | {"worker": w.worker.id, "colleague": w.colleague.id})
        await db.execute(
            text(TRANSFERS),
            {"village": w.base.village.id, "team": w.base.team.id, "opener": w.worker.id, "transfers": N // 10},
        )
        await db.execute(text(CLOCKS))
        await db.execute(text(AID), {"opener": w.worker.id, "aid": N // 10})
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("analyze"))
        mine = await conn.scalar(
            text("select count(*) from social_work_case_worker where user_id = :u"), {"u": w.worker.id}
        )
    print(f"\ninserted {N} cases set-based in {time.perf_counter() - started:.1f} s")  # noqa: T201
    assert mine == MINE

    app = create_app(make_settings(bench_url, servers.redis_url), engine=engine, redis=None)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gridcare.test") as client:
        worker = await auth_headers(client, w.worker)
        supervisor = await auth_headers(client, w.supervisor)

        async def my_open_cases() -> None:
            response = await client.get(f"/social-work-cases?mine=true&open=true&limit={MINE}", headers=worker)
            assert response.status_code == 200, response.text
            assert len(response.json()["items"]) == MINE

        async def department_page() -> None:
            response = await client.get("/social-work-cases?open=true&limit=50", headers=supervisor)
            assert response.status_code == 200, response.text
            assert len(response.json()["items"]) == 50

        period = "from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z"

        async def year_metrics() -> None:
            response = await client.get(
                f"/social-work-metrics?department_id={w.department.id}&{period}", headers=supervisor
            )
            assert response.status_code == 200, response.text
            assert response.json()["opened"] == N

        await _timed(f"case list: a social worker's {MINE} open cases among {N}", RUNS, my_open_cases)
        await _timed(f"case list: the department's newest 50 open cases among {N}", RUNS, department_page)
        await _timed(f"department metrics over a year of {N} cases", max(5, RUNS // 3), year_metrics)
    await engine.dispose()
