"""Supervision at district scale (``make bench``): 30 towns, 3,000 grids and 1,000,000 reports in one half year.

The data set is built set-based with ``generate_series`` (towns, 10 villages each, 10 grids per village,
a team responsible for each village, a paired sentinel and a grid leader in each grid, reports with their
follow-up clocks spread over the half year, some met late, some never). Then, timed, with the peak of
Python's allocations (tracemalloc) and the process's resident set: one town bulletin; every town's
bulletin; the district roll-up once every town has issued; the team assessment. Prints the figures,
asserts only that each snapshot exists once. ``GRIDCARE_BENCH_SUPERVISION_REPORTS`` scales the reports.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select, text

from services.core import clock
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.org import service as org_service
from services.core.org.models import OrgUnit
from services.core.supervision import service
from services.core.supervision.halves import HalfYear
from services.core.supervision.models import Bulletin, SnapshotKind
from services.dev.embedded import drop_database
from tests.conftest import Servers, fresh_database
from tests.supervision_world import AFTER

REPORTS = int(os.environ.get("GRIDCARE_BENCH_SUPERVISION_REPORTS", "1000000"))
TOWNS, VILLAGES, GRIDS = 30, 10, 10
H1 = HalfYear(2026, 1)
T = TypeVar("T")


@pytest.fixture
async def bench_url(servers: Servers) -> AsyncIterator[str]:
    url = await fresh_database(servers, "gridcare_bench_supervision")
    yield url
    await drop_database(servers.server_url, url.rsplit("/", 1)[1])


BUILD = [
    # towns, villages, grids under the district (codes as the statistics bureau's, paths below it)
    """insert into org_unit (id, kind, category, code, name, parent_id, district_id, path, version, created_at,
        updated_at)
    select gen_random_uuid(), 'town', 'town', '500112' || lpad(t::text, 3, '0') || '000', '镇' || t, :district,
        :district, :path || '500112' || lpad(t::text, 3, '0') || '000/', 1, now(), now()
    from generate_series(1, :towns) t""",
    """insert into org_unit (id, kind, category, code, name, parent_id, district_id, path, version, created_at,
        updated_at)
    select gen_random_uuid(), 'village', 'village', left(t.code, 9) || lpad(v::text, 3, '0'), t.name || '村' || v,
        t.id, t.district_id, t.path || left(t.code, 9) || lpad(v::text, 3, '0') || '/', 1, now(), now()
    from org_unit t cross join generate_series(1, :villages) v where t.kind = 'town'""",
    """insert into org_unit (id, kind, category, code, name, parent_id, district_id, path, version, created_at,
        updated_at)
    select gen_random_uuid(), 'grid', 'grid', v.code || lpad(g::text, 3, '0'), v.name || '网格' || g,
        v.id, v.district_id, v.path || v.code || lpad(g::text, 3, '0') || '/', 1, now(), now()
    from org_unit v cross join generate_series(1, :grids) g where v.kind = 'village'""",
    # one primary institution per town, a team per village responsible for it all year
    """insert into institution (id, name, kind, level, credit_code, org_unit_id, district_id, version, created_at,
        updated_at)
    select gen_random_uuid(), t.name || '卫生院', 'township_health_center', 'primary',
        '125001120' || lpad(row_number() over (order by t.code)::text, 9, '0'), t.id, t.district_id, 1, now(), now()
    from org_unit t where t.kind = 'town'""",
    """insert into team (id, institution_id, name, kind, level, status, org_unit_id, district_id, version,
        created_at, updated_at)
    select gen_random_uuid(), i.id, v.name || '家医团队', 'primary', 'village', 'active', i.org_unit_id,
        v.district_id, 1, now(), now()
    from org_unit v join institution i on i.org_unit_id = v.parent_id where v.kind = 'village'""",
    """insert into responsibility (id, team_id, org_unit_id, unit_kind, starts_at, ends_at, district_id, version,
        created_at, updated_at)
    select gen_random_uuid(), tm.id, v.id, 'village', :year_start, null, v.district_id, 1, now(), now()
    from org_unit v join team tm on tm.name = v.name || '家医团队' where v.kind = 'village'""",
    # a sentinel and a grid leader in each grid (community workers)
    """insert into person (id, name, kind, discipline, mobile_enc, mobile_bidx, mobile_masked, org_unit_id,
        district_id, version, created_at, updated_at)
    select gen_random_uuid(), g.name || r.role, 'community_worker', null, '\\x00'::bytea,
        decode(md5(g.code || r.role), 'hex'), '139****0000', g.id, g.district_id, 1, now(), now()
    from org_unit g cross join (values ('sentinel'), ('grid_leader')) r(role) where g.kind = 'grid'""",
    """insert into community_role (id, role, person_id, org_unit_id, starts_at, ends_at, district_id, version,
        created_at, updated_at)
    select gen_random_uuid(), case when p.name like '%sentinel' then 'sentinel' else 'grid_leader' end, p.id,
        p.org_unit_id, :year_start, null, p.district_id, 1, now(), now()
    from person p where p.kind = 'community_worker'""",
    # the reports, spread over the half year and the grids (a grid by its rank, not by a join per row)
    """create table bench_report as
    with grids as (
        select g.id, g.parent_id as village_id, v.parent_id as town_id, tm.id as team_id,
            row_number() over (order by g.code) - 1 as rank
        from org_unit g join org_unit v on v.id = g.parent_id join team tm on tm.name = v.name || '家医团队'
        where g.kind = 'grid'
    )
    select gen_random_uuid() as id, grids.id as grid_id, grids.village_id, grids.town_id, grids.team_id,
        cast(:start as timestamptz) + (n % 4300) * interval '1 hour' + (n % 60) * interval '1 minute'
            as submitted_at, n
    from generate_series(0, :reports - 1) n join grids on grids.rank = n % :all_grids""",
]

# 80 % followed up within 48 hours, 10 % late, 10 % never; a third closed
REPORT_ROWS = [
    """insert into sentinel_report (id, district_id, town_id, village_id, grid_id, category, status, details,
        reporter_id, team_id, unrouted, submitted_at, body_digest, reported_in_at, first_follow_up_at, closed_at,
        version, created_at, updated_at)
    select id, :district, town_id, village_id, grid_id,
        (array['new_key_population','health_need','urgent_risk','medicine_delivery','other'])[n % 5 + 1],
        case when n % 10 = 9 then 'submitted' when n % 3 = 0 then 'closed' else 'followed_up' end, '{}'::jsonb,
        :user, team_id, false, submitted_at, repeat('0', 64),
        case when n % 10 = 9 then null else submitted_at + (n % 7 + 1) * interval '1 hour' end,
        case when n % 10 = 9 then null when n % 10 = 8 then submitted_at + interval '60 hours'
             else submitted_at + (n % 40 + 2) * interval '1 hour' end,
        case when n % 10 <> 9 and n % 3 = 0 then submitted_at + interval '5 days' end,
        1, submitted_at, submitted_at
    from bench_report""",
    """insert into deadline (id, subject_type, subject_id, kind, policy, district_id, started_at, due_at, met_at,
        state, created_at, updated_at)
    select gen_random_uuid(), 'report', r.id, 'report.follow_up', '{}'::jsonb, :district, r.submitted_at,
        r.submitted_at + interval '48 hours', r.first_follow_up_at,
        case when r.first_follow_up_at is null then 'breached' else 'met' end, r.submitted_at, r.submitted_at
    from sentinel_report r""",
    "drop table bench_report",
]


async def measured(label: str, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work``, print its wall time, Python's peak allocation and the process's peak RSS."""
    tracemalloc.start()
    started = time.perf_counter()
    result = await work()
    seconds = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  {label:<44} {seconds:7.2f} s   python peak {peak / 2**20:7.1f} MB   process max RSS {rss:7.1f} MB")  # noqa: T201
    return result


async def test_bench_town_bulletins_rollup_and_assessment_at_district_scale(bench_url: str) -> None:
    engine = make_engine(bench_url, pool_size=2)
    factory = make_session_factory(engine)
    clock.freeze(H1.starts_at)
    built = time.perf_counter()
    async with session_scope(factory) as db:
        district = await org_service.create_district(db, code="500112", name="渝北区")
        await db.execute(
            text(
                "insert into app_user (id, username, display_name, kind, secret_hash, org_unit_id, is_active, locale,"
                " version, created_at, updated_at) values (gen_random_uuid(), 'bench', 'bench', 'person', 'x', :d,"
                " true, 'zh-CN', 1, now(), now())"
            ),
            {"d": district.id},
        )
        user = await db.scalar(text("select id from app_user where username = 'bench'"))
        params: dict[str, Any] = {
            "district": district.id,
            "path": district.path,
            "towns": TOWNS,
            "villages": VILLAGES,
            "grids": GRIDS,
            "all_grids": TOWNS * VILLAGES * GRIDS,
            "year_start": H1.starts_at,
            "start": H1.starts_at,
            "reports": REPORTS,
            "user": user,
        }
        for statement in BUILD:
            await db.execute(text(statement), {k: v for k, v in params.items() if f":{k}" in statement})
    async with session_scope(factory) as db:
        for statement in REPORT_ROWS[:2]:
            await db.execute(text(statement), {k: v for k, v in params.items() if f":{k}" in statement})
        await db.execute(text(REPORT_ROWS[2]))
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("analyze"))
    async with session_scope(factory) as db:
        counts = (
            await db.execute(
                text(
                    "select (select count(*) from org_unit where kind = 'town'), (select count(*) from org_unit"
                    " where kind = 'grid'), (select count(*) from sentinel_report)"
                )
            )
        ).one()
    print(  # noqa: T201
        f"\nsupervision at scale: {counts[0]} towns, {counts[1]} grids, {counts[2]:,} reports in {H1.name}"
        f" (built set-based in {time.perf_counter() - built:.1f} s)"
    )
    clock.freeze(AFTER)

    async with session_scope(factory) as db:
        towns = list(await db.scalars(select(OrgUnit).where(OrgUnit.kind == "town").order_by(OrgUnit.code)))
        district_row = await db.get(OrgUnit, district.id)
    assert district_row is not None

    async def one_town() -> Any:
        async with session_scope(factory) as db:
            return await service.produce_town(db, towns[0], H1)

    first, made = await measured("one town bulletin (1 of 30)", one_town)
    assert made
    print(f"    its reports: {first.figures['sections']['reports']['town']['reports']:,}")  # noqa: T201

    async def all_towns() -> int:
        made = 0
        for town in towns[1:]:
            async with session_scope(factory) as db:
                made += (await service.produce_town(db, town, H1))[1]
        return made

    assert await measured("the other 29 town bulletins", all_towns) == TOWNS - 1
    async with session_scope(factory) as db:
        await db.execute(text("update supervision_bulletin set status = 'issued', issued_at = now()"))

    async def rollup() -> Any:
        async with session_scope(factory) as db:
            return await service.maybe_rollup(db, district_row, H1)

    row, ready = await measured("the district roll-up (30 towns)", rollup)
    assert row is not None
    assert ready.ready

    async def assessment() -> Any:
        async with session_scope(factory) as db:
            return await service.produce_assessment(db, district_row, H1)

    assessed, _ = await measured("the team assessment (300 teams)", assessment)
    print(f"    teams ranked: {len(assessed.figures['teams'])}")  # noqa: T201
    async with session_scope(factory) as db:
        assert await db.scalar(select(func.count()).select_from(Bulletin)) == TOWNS + 2
        assert await service.count_editions(db, SnapshotKind.DISTRICT, district.id, H1.name) == 1
    await engine.dispose()
    await asyncio.sleep(0)
