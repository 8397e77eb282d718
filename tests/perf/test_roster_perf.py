"""Roster export and import for a district of 3,000 grids. Prints timings; run with ``make bench``.

The first import creates everything through the core services (one call per record, as
the API would); the re-import of the exported file is the yearly "nothing changed" case.
"""

from __future__ import annotations

import statistics
import time
import uuid

from sqlalchemy import func, select

from services.core.assignments.models import CommunityRoleKind
from services.core.db import make_engine, make_session_factory
from services.core.org import service as org_service
from services.core.org.models import OrgUnit, OrgUnitCategory, OrgUnitKind
from services.core.roster import service as roster_service
from services.core.roster import workbook
from services.core.roster.workbook import CommunityRow, GridRow, InstitutionRow, MemberRow, Roster, TeamRow
from services.core.security.principal import Grant, Principal
from services.core.security.roles import Role
from services.core.teams.models import Discipline, InstitutionKind, MemberRole, TeamKind, TeamLevel
from services.dev.demo_roster import credit_code
from services.dev.embedded import drop_database
from tests.conftest import Servers, fresh_database
from tests.factories import TEST_PII

TOWNS, VILLAGES_PER_TOWN, GRIDS_PER_VILLAGE, VILLAGES_PER_TEAM = 30, 20, 5, 5  # 3,000 grids


def big_roster() -> Roster:
    r = Roster()
    phone = iter(range(10_000_000))

    def mobile() -> str:
        return f"138{next(phone):08d}"

    for t in range(1, TOWNS + 1):
        town = f"500112{t:03d}000"
        code = credit_code(1000 + t)
        r.institutions.append(
            InstitutionRow(
                0,
                f"卫生院{t}",
                InstitutionKind.TOWNSHIP_HEALTH_CENTER,
                code,
                town,
                f"管家{t}",
                mobile(),
                Discipline.DOCTOR,
            )
        )
        for k in range(VILLAGES_PER_TOWN // VILLAGES_PER_TEAM):
            villages = [f"500112{t:03d}{v + 1:03d}" for v in range(k * VILLAGES_PER_TEAM, (k + 1) * VILLAGES_PER_TEAM)]
            name = f"团队{k + 1}"
            r.teams.append(TeamRow(0, name, code, TeamKind.PRIMARY, TeamLevel.VILLAGE, "023-1234", villages))
            members = [mobile() for _ in range(4)]
            for i, m in enumerate(members):
                role = MemberRole.LEADER if i == 0 else MemberRole.MEMBER
                r.members.append(MemberRow(0, name, code, f"医生{t}-{k}-{i}", m, Discipline.DOCTOR, role))
            for village in villages:
                r.community.append(
                    CommunityRow(0, village, CommunityRoleKind.COMMUNITY_STEWARD, "管家", mobile(), None)
                )
                for g in range(1, GRIDS_PER_VILLAGE + 1):
                    grid = f"{village}{g:03d}"
                    r.grids.append(GridRow(0, town, "", village, f"村{village}", "village", grid, f"网格{g}"))
                    r.community.append(CommunityRow(0, grid, CommunityRoleKind.GRID_LEADER, "网格长", mobile(), None))
                    r.community.append(
                        CommunityRow(0, grid, CommunityRoleKind.SENTINEL, "哨兵", mobile(), members[1 + g % 3])
                    )
    return r


def _report(name: str, samples: list[float]) -> None:
    print(f"{name}: n={len(samples)} median={statistics.median(samples):.2f} s max={max(samples):.2f} s")  # noqa: T201


async def test_roster_export_and_import_at_district_scale(servers: Servers) -> None:
    url = await fresh_database(servers, "gridcare_roster_perf")
    engine = make_engine(url, pool_size=2)
    sessions = make_session_factory(engine)
    try:
        async with sessions() as db:
            district = await org_service.create_district(db, code="500112", name="渝北区")
            for t in range(1, TOWNS + 1):
                code = f"500112{t:03d}000"
                db.add(
                    OrgUnit(
                        kind=OrgUnitKind.TOWN,
                        category=OrgUnitCategory.TOWN,
                        code=code,
                        name=f"镇{t}",
                        parent_id=district.id,
                        district_id=district.id,
                        path=f"/500112/{code}/",
                    )
                )
            await db.commit()
            district_id = district.id
        principal = Principal(
            user_id=uuid.uuid4(),
            username="bench",
            kind="person",
            session_id=uuid.uuid4(),
            grants=(Grant(uuid.uuid4(), Role.DISTRICT_ADMIN, district_id, "/500112/"),),
        )
        content = workbook.write(big_roster(), title="bench")
        print(f"workbook: {len(content) / 1024:.0f} KiB")  # noqa: T201
        async with sessions() as db:
            district = await db.get(OrgUnit, district_id)
            assert district is not None
            started = time.perf_counter()
            summary = await roster_service.import_roster(
                db, principal=principal, target=district, content=content, pii=TEST_PII
            )
            await db.commit()
            _report("first import (creates everything)", [time.perf_counter() - started])
            print(f"created {summary.created}: {summary.by_kind}")  # noqa: T201
            grids = await db.scalar(select(func.count()).select_from(OrgUnit).where(OrgUnit.kind == "grid"))
            assert grids == TOWNS * VILLAGES_PER_TOWN * GRIDS_PER_VILLAGE
        exports, reimports = [], []
        for _ in range(3):
            async with sessions() as db:
                district = await db.get(OrgUnit, district_id)
                assert district is not None
                started = time.perf_counter()
                exported = await roster_service.export_xlsx(db, district, summary.at, pii=TEST_PII, actor_id=None)
                exports.append(time.perf_counter() - started)
                started = time.perf_counter()
                again = await roster_service.import_roster(
                    db, principal=principal, target=district, content=exported, pii=TEST_PII
                )
                reimports.append(time.perf_counter() - started)
                assert again.created == 0
                await db.rollback()
        _report("export (district, 3,000 grids)", exports)
        _report("re-import unchanged", reimports)
    finally:
        await engine.dispose()
        await drop_database(servers.server_url, url.rsplit("/", 1)[1].split("?")[0])
