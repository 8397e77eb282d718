"""The audit trail is scoped like everything else: by the org path each event records of its subject."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.accounts.models import User
from services.core.assignments.models import CommunityRole, Pairing, Responsibility
from services.core.assignments.queries import responsible_for
from services.core.audit import service as audit
from services.core.audit.models import AuditEvent
from services.core.org.models import Institution, OrgUnit
from services.core.reports.models import SentinelReport
from services.core.residents.models import Resident
from services.core.security.roles import Role
from services.core.signing.service import today
from services.core.teams.models import InstitutionSteward, Person, Team, TeamBacking, TeamMember
from services.dev.bootstrap import bootstrap_demo
from services.dev.demo_roster import DEMO_TOWNS
from tests.factories import TEST_PII, auth_headers, make_user, resident_id_number
from tests.org_world import build_world
from tests.report_world import health_need

# What each subject type is about, resolved through its record as the old per-type joins did:
# the test's oracle for the path every call site must record.
_UNIT = OrgUnit.__table__.alias("unit")
_TEAM = Team.__table__.alias("owner_team")
_INSTITUTION = Institution.__table__.alias("owner_institution")
ORACLE: dict[str, Select[Any]] = {
    "org_unit": select(OrgUnit.id, OrgUnit.path),
    "user": select(User.id, _UNIT.c.path).join(_UNIT, _UNIT.c.id == User.org_unit_id),
    "resident": select(Resident.id, _UNIT.c.path).join(_UNIT, _UNIT.c.id == Resident.grid_id),
    "report": select(SentinelReport.id, _UNIT.c.path).join(_UNIT, _UNIT.c.id == SentinelReport.grid_id),
    "person": select(Person.id, _UNIT.c.path).join(_UNIT, _UNIT.c.id == Person.org_unit_id),
    "institution": select(Institution.id, _UNIT.c.path).join(_UNIT, _UNIT.c.id == Institution.org_unit_id),
    "institution_steward": select(InstitutionSteward.id, _UNIT.c.path)
    .join(_INSTITUTION, _INSTITUTION.c.id == InstitutionSteward.institution_id)
    .join(_UNIT, _UNIT.c.id == _INSTITUTION.c.org_unit_id),
    "team": select(Team.id, _UNIT.c.path).join(_UNIT, _UNIT.c.id == Team.org_unit_id),
    "team_member": select(TeamMember.id, _UNIT.c.path)
    .join(_TEAM, _TEAM.c.id == TeamMember.team_id)
    .join(_UNIT, _UNIT.c.id == _TEAM.c.org_unit_id),
    "team_backing": select(TeamBacking.id, _UNIT.c.path)
    .join(_TEAM, _TEAM.c.id == TeamBacking.backed_team_id)
    .join(_UNIT, _UNIT.c.id == _TEAM.c.org_unit_id),
    "responsibility": select(Responsibility.id, _UNIT.c.path).join(_UNIT, _UNIT.c.id == Responsibility.org_unit_id),
    "community_role": select(CommunityRole.id, _UNIT.c.path).join(_UNIT, _UNIT.c.id == CommunityRole.org_unit_id),
    "pairing": select(Pairing.id, _UNIT.c.path).join(_UNIT, _UNIT.c.id == Pairing.org_unit_id),
}


async def _care_in_town(
    client: httpx.AsyncClient, db: AsyncSession, headers: dict[str, str], town: OrgUnit, n: int
) -> None:
    """A resident, a tag, a signing and a report in a grid of ``town``, and a reveal of a town worker's mobile."""
    grids = (
        await db.scalars(
            select(OrgUnit).where(OrgUnit.kind == "grid", OrgUnit.path.startswith(town.path)).order_by(OrgUnit.code)
        )
    ).all()
    for grid in grids:
        team = (await responsible_for(db, grid_id=grid.id, at=clock.now())).team
        if team is not None:
            break
    else:
        raise AssertionError(f"no grid of {town.code} has a responsible team")
    number = resident_id_number(date(1950, 3, n), male=n % 2 == 1)
    made = await client.post(
        "/residents", json={"grid_id": str(grid.id), "name": f"居民{n}", "id_number": number}, headers=headers
    )
    assert made.status_code == 201, made.text
    rid = made.json()["id"]
    tag = await client.post(
        f"/residents/{rid}/tags",
        json={"population": "hypertension", "since_on": "2020-01-01", "source": "clinic"},
        headers=headers,
    )
    assert tag.status_code == 201, tag.text
    signed = await client.post(
        f"/residents/{rid}/signings",
        json={"team_id": str(team.id), "package": "basic", "starts_on": today().isoformat()},
        headers=headers,
    )
    assert signed.status_code == 201, signed.text
    reported = await client.post("/reports", json=health_need(grid.id, uuid.UUID(rid)), headers=headers)
    assert reported.status_code == 201, reported.text
    worker = await db.scalar(
        select(Person.id)
        .join(OrgUnit, OrgUnit.id == Person.org_unit_id)
        .where(OrgUnit.path.startswith(town.path))
        .order_by(Person.id)
        .limit(1)
    )
    assert (await client.get(f"/people/{worker}/mobile", headers=headers)).status_code == 200


async def _events_seen(client: httpx.AsyncClient, headers: dict[str, str]) -> set[int]:
    seen: set[int] = set()
    cursor = ""
    while True:
        page = await client.get(f"/audit-events?limit=500{cursor}", headers=headers)
        assert page.status_code == 200, page.text
        seen |= {e["id"] for e in page.json()["items"]}
        if page.json()["next_cursor"] is None:
            return seen
        cursor = f"&cursor={page.json()['next_cursor']}"


async def test_an_auditor_of_town_a_sees_events_about_town_a_of_every_subject_type_and_none_of_town_b(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    await bootstrap_demo(db, pii=TEST_PII)
    district = await db.scalar(select(OrgUnit).where(OrgUnit.code == "500112"))
    town_a = await db.scalar(select(OrgUnit).where(OrgUnit.code == DEMO_TOWNS[0] + "000"))
    town_b = await db.scalar(select(OrgUnit).where(OrgUnit.code == DEMO_TOWNS[1] + "000"))
    assert district is not None
    assert town_a is not None
    assert town_b is not None
    admin = await auth_headers(client, await make_user(db, Role.DISTRICT_ADMIN, district))
    await _care_in_town(client, db, admin, town_a, 1)
    await _care_in_town(client, db, admin, town_b, 2)
    # A domain core/audit has never heard of: its events are scoped by the path they carry.
    for town in (town_a, town_b):
        await audit.record(
            db, actor_id=None, action="referral.created", subject_type="referral", subject_id=uuid.uuid4(),
            org_path=town.path,
        )  # fmt: skip
    await db.commit()

    events = (await db.scalars(select(AuditEvent))).all()
    resolved: dict[uuid.UUID, str] = {}
    for stmt in ORACLE.values():
        resolved |= {row[0]: row[1] for row in (await db.execute(stmt)).all()}
    for event in events:  # every call site recorded the path of its subject's org unit
        if event.subject_type in ORACLE and event.subject_id is not None:
            assert event.org_path == resolved[event.subject_id], (event.action, event.org_path)

    def about(town: OrgUnit) -> dict[int, str]:
        return {e.id: e.subject_type for e in events if (e.org_path or "").startswith(town.path)}

    in_a, in_b = about(town_a), about(town_b)
    every_type = set(ORACLE) - {"team_backing"} | {"referral"}  # the demo district has no backings
    assert set(in_a.values()) >= every_type
    assert set(in_b.values()) >= every_type
    assert {e.action for e in events if e.id in in_a} >= {
        "resident.signed",
        "report.submitted",
        "person.mobile_read",
        "pairing.created",
    }

    seen = await _events_seen(client, await auth_headers(client, await make_user(db, Role.AUDITOR, town_a)))
    assert set(in_a) <= seen
    assert not seen & set(in_b)
    town_b_auditor = await _events_seen(client, await auth_headers(client, await make_user(db, Role.AUDITOR, town_b)))
    assert set(in_b) <= town_b_auditor
    assert not town_b_auditor & set(in_a)


async def test_a_lookup_that_finds_nobody_is_audited_where_it_searched(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await build_world(db)
    member = await auth_headers(client, await make_user(db, Role.TEAM_MEMBER, world.village_a1))
    found = await client.post("/residents/lookup", json={"id_number": resident_id_number()}, headers=member)
    assert found.status_code == 200, found.text
    assert found.json()["items"] == []

    async def lookups(unit: OrgUnit) -> list[Any]:
        headers = await auth_headers(client, await make_user(db, Role.AUDITOR, unit))
        items = (await client.get("/audit-events?limit=500", headers=headers)).json()["items"]
        return [e for e in items if e["action"] == "resident.looked_up"]

    assert [e["details"] for e in await lookups(world.town_a)] == [{"matches": 0}]
    assert await lookups(world.town_b) == []
    assert await lookups(world.village_a2) == []
