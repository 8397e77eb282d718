"""Responsibility lookup and the coverage-gap report on a district of 3,000 grids and
10,000 sentinels. Prints median and p95; run with ``make bench``."""

from __future__ import annotations

import random
import statistics
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import text

from services.core.assignments import queries
from services.core.db import make_engine, make_session_factory
from services.core.org.models import OrgUnit
from services.dev.embedded import drop_database
from tests.conftest import Servers, fresh_database

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TOWNS, VILLAGES_PER_TOWN, GRIDS_PER_VILLAGE = 10, 30, 10  # 3,000 grids
SENTINELS = 10_000

# Built set-based in SQL: a loop of ORM inserts would take longer than the benchmark itself.
SEED = """
insert into org_unit (id, kind, category, code, name, parent_id, district_id, path, version, created_at, updated_at)
select cast(:district as uuid), 'district', 'district', '500112', 'd', null, cast(:district as uuid), '/500112/',
       1, now(), now();

insert into org_unit (id, kind, category, code, name, parent_id, district_id, path, version, created_at, updated_at)
select gen_random_uuid(), 'town', 'town', '500112' || lpad(t::text, 3, '0') || '000', 't' || t,
       cast(:district as uuid), cast(:district as uuid), '/500112/500112' || lpad(t::text, 3, '0') || '000/',
       1, now(), now()
from generate_series(1, :towns) t;

insert into org_unit (id, kind, category, code, name, parent_id, district_id, path, version, created_at, updated_at)
select gen_random_uuid(), 'village', 'village', substr(town.code, 1, 9) || lpad(v::text, 3, '0'), 'v' || v,
       town.id, town.district_id, town.path || substr(town.code, 1, 9) || lpad(v::text, 3, '0') || '/', 1, now(), now()
from org_unit town, generate_series(1, :villages) v where town.kind = 'town';

insert into org_unit (id, kind, category, code, name, parent_id, district_id, path, version, created_at, updated_at)
select gen_random_uuid(), 'grid', 'grid', village.code || lpad(g::text, 3, '0'), 'g' || g,
       village.id, village.district_id, village.path || village.code || lpad(g::text, 3, '0') || '/', 1, now(), now()
from org_unit village, generate_series(1, :grids) g where village.kind = 'village';

insert into institution (id, name, kind, level, credit_code, org_unit_id, district_id, version, created_at, updated_at)
select gen_random_uuid(), 'c' || town.code, 'township_health_center', 'primary', town.code || '000000',
       town.id, town.district_id, 1, now(), now()
from org_unit town where town.kind = 'town';

-- one team per village, responsible for the village from T0, except every 10th village
insert into team (id, institution_id, name, kind, level, status, org_unit_id, district_id, version,
                  created_at, updated_at)
select gen_random_uuid(), i.id, 'team ' || village.code, 'primary', 'village', 'active', i.org_unit_id,
       village.district_id, 1, now(), now()
from org_unit village join institution i on i.org_unit_id = village.parent_id where village.kind = 'village';

insert into responsibility (id, team_id, org_unit_id, unit_kind, starts_at, ends_at, district_id, version,
                            created_at, updated_at)
select gen_random_uuid(), team.id, village.id, 'village', cast(:t0 as timestamptz), null, village.district_id, 1,
       now(), now()
from team join org_unit village on team.name = 'team ' || village.code
where right(village.code, 1) <> '0';

insert into person (id, name, kind, discipline, mobile_enc, mobile_bidx, mobile_masked, institution_id, org_unit_id,
                    district_id, version,
                    created_at, updated_at)
select gen_random_uuid(), 'm ' || team.name, 'staff', 'doctor', decode('00', 'hex'), decode('00', 'hex'), '139****0000',
       team.institution_id,
       team.org_unit_id, team.district_id, 1, now(), now()
from team;

insert into team_member (id, team_id, person_id, role, discipline, starts_at, ends_at, district_id, version,
                         created_at, updated_at)
select gen_random_uuid(), team.id, p.id, 'leader', 'doctor', cast(:t0 as timestamptz), null, team.district_id, 1,
       now(), now()
from team join person p on p.name = 'm ' || team.name;

-- 10,000 sentinels spread over the grids (every 7th grid gets none)
with grids as (
    select id, district_id, row_number() over (order by path) as n from org_unit where kind = 'grid'
), eligible as (select * from grids where n % 7 <> 0), numbered as (
    select e.*, row_number() over (order by e.n) - 1 as k, count(*) over () as total from eligible e
)
insert into person (id, name, kind, discipline, mobile_enc, mobile_bidx, mobile_masked, institution_id, org_unit_id,
                    district_id, version,
                    created_at, updated_at)
select gen_random_uuid(), 's' || s, 'community_worker', null, decode('00', 'hex'), decode('00', 'hex'), '138****0000',
       null, numbered.id,
       numbered.district_id, 1, now(), now()
from generate_series(0, :sentinels - 1) s join numbered on numbered.k = s % numbered.total;

insert into community_role (id, role, person_id, org_unit_id, starts_at, ends_at, district_id, version,
                            created_at, updated_at)
select gen_random_uuid(), 'sentinel', p.id, p.org_unit_id, cast(:t0 as timestamptz), null, p.district_id, 1,
       now(), now()
from person p where p.kind = 'community_worker';

-- two sentinels in three are paired with their team's leader
insert into pairing (id, kind, institution_steward_id, team_member_id, community_role_id, org_unit_id,
                     starts_at, ends_at, district_id, version, created_at, updated_at)
select gen_random_uuid(), 'member_sentinel', null, tm.id, cr.id, cr.org_unit_id, cast(:t0 as timestamptz), null,
       cr.district_id, 1, now(), now()
from community_role cr
join org_unit grid on grid.id = cr.org_unit_id
join responsibility r on r.org_unit_id = grid.parent_id
join team_member tm on tm.team_id = r.team_id
where abs(hashtext(cr.id::text)) % 3 <> 0;

analyze;
"""


def _report(name: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    print(f"{name}: n={len(samples)} median={statistics.median(samples) * 1000:.2f} ms p95={p95 * 1000:.2f} ms")  # noqa: T201


async def test_responsibility_lookup_and_coverage_gaps_at_district_scale(servers: Servers) -> None:
    url = await fresh_database(servers, "gridcare_perf")
    engine = make_engine(url, pool_size=2)
    sessions = make_session_factory(engine)
    district_id = uuid.uuid4()
    try:
        async with sessions() as db:
            params = {
                "district": str(district_id),
                "towns": TOWNS,
                "villages": VILLAGES_PER_TOWN,
                "grids": GRIDS_PER_VILLAGE,
                "sentinels": SENTINELS,
                "t0": T0,
            }
            for statement in filter(str.strip, SEED.split(";\n")):
                used = {k: v for k, v in params.items() if f":{k}" in statement}
                await db.execute(text(statement), used)
            await db.commit()
        async with sessions() as db:
            grids = list((await db.scalars(text("select id from org_unit where kind = 'grid'"))).all())
            sentinels = await db.scalar(text("select count(*) from community_role"))
            assert len(grids) == 3000
            assert sentinels == SENTINELS
            at = datetime(2026, 6, 1, tzinfo=UTC)
            lookups = []
            for grid_id in random.sample(grids, 300):
                started = time.perf_counter()
                await queries.responsible_for(db, grid_id=grid_id, at=at)
                lookups.append(time.perf_counter() - started)
            _report("responsible_for(grid)", lookups)

            district = await db.get(OrgUnit, district_id)
            assert district is not None
            reports = []
            for _ in range(10):
                started = time.perf_counter()
                gaps = await queries.coverage_gaps(db, unit=district, at=at)
                reports.append(time.perf_counter() - started)
            _report("coverage_gaps(district)", reports)
            print(  # noqa: T201
                f"gaps: {len(gaps.grids_without_sentinel)} grids w/o sentinel, "
                f"{len(gaps.grids_without_team)} w/o team, {len(gaps.sentinels_without_member)} unpaired sentinels, "
                f"{len(gaps.villages_without_steward)} villages w/o steward"
            )
            assert len(gaps.grids_without_team) == 300
    finally:
        await engine.dispose()
        await drop_database(servers.server_url, url.rsplit("/", 1)[1].split("?")[0])
