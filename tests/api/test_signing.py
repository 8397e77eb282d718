"""Family-doctor signing over HTTP: one active signing, renewal, termination, responsibility,
coverage, contacts by the signing team, and the quarterly-contact duty in China time."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.accounts.models import RoleGrant
from services.core.audit.models import AuditEvent
from services.core.org.models import OrgUnit
from services.core.residents.models import KeyPopulation
from services.core.security.roles import Role
from services.core.teams import people as people_service
from services.core.teams.models import Person
from tests.api.test_auth import assert_problem
from tests.factories import (
    TEST_PII,
    auth_headers,
    make_assignment,
    make_child,
    make_district,
    make_institution,
    make_member,
    make_resident,
    make_signing,
    make_team,
    make_user,
    mobile,
    snapshot,
)

# 2026-05-15 10:00 in China: the second quarter (1 April – 30 June).
NOW = datetime(2026, 5, 15, 2, 0, tzinfo=UTC)
TODAY = date(2026, 5, 15)


@dataclass
class World:
    district: Any
    town: Any
    village: Any
    grid: Any
    team: Any
    other_team: Any
    leader: Any  # a user who is the team's leader
    outsider: Any  # a team member of the other team, scoped over the same town
    sentinel: Any


async def _member_user(db: AsyncSession, role: Role, unit: Any, team: Any, institution: Any) -> Any:
    user = await make_user(db, role, unit)
    person = Person(
        name=f"doctor {user.username}",
        kind="staff",
        id=uuid.uuid4(),
        discipline="doctor",
        institution_id=institution.id,
        org_unit_id=institution.org_unit_id,
        user_id=user.id,
        district_id=unit.district_id,
    )
    people_service.seal_mobile(person, TEST_PII, mobile())
    db.add(person)
    await db.flush()
    await make_member(db, team, person, role="leader" if role is Role.TEAM_LEADER else "member")
    return snapshot(user)


@pytest.fixture
async def world(db: AsyncSession) -> World:
    clock.freeze(NOW)
    district = await make_district(db)
    town = await make_child(db, district, number=1)
    village = await make_child(db, town, number=1)
    grid = await make_child(db, village, number=1)
    institution = await make_institution(db, town)
    team = await make_team(db, institution)
    other_team = await make_team(db, institution)
    # The team has served the village since 2025; the other team serves nothing here.
    await make_assignment(db, team, village, starts_at=datetime(2025, 1, 1, tzinfo=UTC))
    clock.freeze(NOW - timedelta(days=200))  # members joined well before the signings start
    leader = await _member_user(db, Role.TEAM_LEADER, town, team, institution)
    outsider = await _member_user(db, Role.TEAM_MEMBER, town, other_team, institution)
    clock.freeze(NOW)
    sentinel = snapshot(await make_user(db, Role.SENTINEL, grid))
    world = World(
        *(snapshot(u) for u in (district, town, village, grid)),
        team=team,
        other_team=other_team,
        leader=leader,
        outsider=outsider,
        sentinel=sentinel,
    )
    await db.commit()
    return world


def signing_body(world: World, **over: Any) -> dict[str, Any]:
    return {"team_id": str(world.team.id), "package": "basic", "starts_on": TODAY.isoformat()} | over


async def resident_in(db: AsyncSession, grid: Any, **kw: Any) -> uuid.UUID:
    resident = await make_resident(db, grid, **kw)
    rid = resident.id
    await db.commit()
    return rid


async def test_a_resident_has_one_active_signing_at_a_time(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    rid = await resident_in(db, world.grid)
    headers = await auth_headers(client, world.leader)
    sid = str(uuid.uuid4())
    first = await client.post(f"/residents/{rid}/signings", json=signing_body(world, id=sid), headers=headers)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["status"], body["starts_on"], body["ends_on"]) == ("active", "2026-05-15", "2027-05-15")
    assert first.headers["ETag"] == '"1"'

    again = await client.post(f"/residents/{rid}/signings", json=signing_body(world, id=sid), headers=headers)
    assert again.status_code == 200, again.text  # a safe retry
    changed = await client.post(
        f"/residents/{rid}/signings", json=signing_body(world, id=sid, package="tcm"), headers=headers
    )
    assert changed.status_code == 409, changed.text

    second = await client.post(
        f"/residents/{rid}/signings",
        json=signing_body(world, package="elderly", starts_on="2026-09-01"),
        headers=headers,
    )
    assert second.status_code == 409, second.text
    assert second.json()["code"] == "already_exists"
    assert second.json()["existing_id"] == sid
    listed = await client.get(f"/residents/{rid}/signings", headers=headers)
    assert [s["id"] for s in listed.json()["items"]] == [sid]
    events = (await db.scalars(select(AuditEvent.action).where(AuditEvent.subject_id == rid))).all()
    assert events.count("resident.signed") == 1


async def test_a_signing_lasts_at_least_a_year(client: httpx.AsyncClient, db: AsyncSession, world: World) -> None:
    rid = await resident_in(db, world.grid)
    headers = await auth_headers(client, world.leader)
    for over, field in (
        ({"ends_on": "2027-05-14"}, "body.ends_on"),
        ({"ends_on": "2040-01-01"}, "body.ends_on"),
        ({"starts_on": "1999-12-31"}, "body.starts_on"),
        ({"package": "gold"}, "body.package"),
    ):
        response = await client.post(f"/residents/{rid}/signings", json=signing_body(world, **over), headers=headers)
        assert response.status_code == 422, response.text
        assert field in {e["field"] for e in response.json()["errors"]}, response.text


async def test_renewal_starts_where_the_old_contract_ends(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    rid = await resident_in(db, world.grid)
    headers = await auth_headers(client, world.leader)
    old = (await client.post(f"/residents/{rid}/signings", json=signing_body(world), headers=headers)).json()
    renewal = await client.post(f"/signings/{old['id']}/renewals", json={"package": "chronic_disease"}, headers=headers)
    assert renewal.status_code == 201, renewal.text
    new = renewal.json()
    assert (new["starts_on"], new["ends_on"], new["package"], new["renews_id"]) == (
        "2027-05-15",
        "2028-05-15",
        "chronic_disease",
        old["id"],
    )
    assert new["status"] == "upcoming"
    twice = await client.post(f"/signings/{old['id']}/renewals", json={}, headers=headers)
    assert twice.status_code == 409, twice.text
    assert twice.json()["existing_id"] == new["id"]
    # Renewing with a team not responsible for the grid is refused like a new signing.
    other = await client.post(
        f"/signings/{new['id']}/renewals", json={"team_id": str(world.other_team.id)}, headers=headers
    )
    assert other.status_code == 422, other.text
    assert other.json()["errors"][0]["field"] == "body.team_id"
    # An upcoming renewal is cancelled by ending it where it starts; the old signing may be renewed again.
    cancel = await client.post(
        f"/signings/{new['id']}/termination",
        json={"reason": "resident_request", "ends_on": new["starts_on"]},
        headers=headers | {"If-Match": '"1"'},
    )
    assert cancel.status_code == 200, cancel.text
    assert cancel.json()["status"] == "terminated"
    again = await client.post(f"/signings/{old['id']}/renewals", json={"package": "elderly"}, headers=headers)
    assert again.status_code == 201, again.text
    assert again.json()["starts_on"] == "2027-05-15"


async def test_termination_takes_a_reason_from_the_list_an_end_date_and_if_match(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    rid = await resident_in(db, world.grid)
    headers = await auth_headers(client, world.leader)
    signing = (await client.post(f"/residents/{rid}/signings", json=signing_body(world), headers=headers)).json()
    url = f"/signings/{signing['id']}/termination"
    body = {"reason": "moved_away", "ends_on": "2026-06-01"}
    assert (await client.post(url, json=body, headers=headers)).status_code == 428
    assert (await client.post(url, json=body, headers=headers | {"If-Match": '"7"'})).status_code == 412
    bad_reason = await client.post(url, json=body | {"reason": "bored"}, headers=headers | {"If-Match": '"1"'})
    assert bad_reason.status_code == 422
    too_late = await client.post(url, json=body | {"ends_on": "2027-06-01"}, headers=headers | {"If-Match": '"1"'})
    assert too_late.status_code == 422
    assert too_late.json()["errors"][0]["field"] == "body.ends_on"

    done = await client.post(url, json=body, headers=headers | {"If-Match": '"1"'})
    assert done.status_code == 200, done.text
    ended = done.json()
    assert (ended["ends_on"], ended["contracted_ends_on"], ended["termination_reason"]) == (
        "2026-06-01",
        "2027-05-15",
        "moved_away",
    )
    assert done.headers["ETag"] == '"2"'
    again = await client.post(url, json=body, headers=headers | {"If-Match": '"2"'})
    assert again.status_code == 409
    assert again.json()["code"] == "illegal_transition"
    renew = await client.post(f"/signings/{signing['id']}/renewals", json={}, headers=headers)
    assert renew.status_code == 409
    # After the termination's end the resident may sign anew.
    anew = await client.post(
        f"/residents/{rid}/signings", json=signing_body(world, starts_on="2026-06-01"), headers=headers
    )
    assert anew.status_code == 201, anew.text


async def test_signing_needs_the_permission_its_routes_require_where_the_resident_lives(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    """signings:write in another town and residents:write (a community steward's) over this village must not
    add up to signing here: core checks signings:write at the resident's grid, as the routes require it
    (before the fix, core scoped a new signing by residents:write alone and answered 201)."""
    rid = await resident_in(db, world.grid)
    leader = await auth_headers(client, world.leader)
    signed = (await client.post(f"/residents/{rid}/signings", json=signing_body(world), headers=leader)).json()
    elsewhere = await make_child(db, world.district, number=2)
    user = await make_user(db, Role.TEAM_MEMBER, elsewhere)
    db.add(RoleGrant(user_id=user.id, role=Role.COMMUNITY_STEWARD.value, org_unit_id=world.village.id, starts_at=NOW))
    await db.commit()
    headers = await auth_headers(client, user)
    other = await resident_in(db, world.grid)
    made = await client.post(f"/residents/{other}/signings", json=signing_body(world), headers=headers)
    assert_problem(made, 403, "forbidden")
    renewed = await client.post(f"/signings/{signed['id']}/renewals", json={}, headers=headers)
    assert_problem(renewed, 403, "forbidden")
    ended = await client.post(
        f"/signings/{signed['id']}/termination",
        json={"reason": "moved_away", "ends_on": "2026-06-01"},
        headers=headers | {"If-Match": '"1"'},
    )
    assert_problem(ended, 403, "forbidden")
    # The steward's grant still reads the village's signings; only signing is the team's.
    assert (await client.get(f"/signings/{signed['id']}", headers=headers)).status_code == 200
    assert (await client.get(f"/residents/{other}/signings", headers=headers)).json()["items"] == []


async def test_signing_with_a_team_not_responsible_for_the_grid_is_refused(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    rid = await resident_in(db, world.grid)
    headers = await auth_headers(client, world.leader)
    response = await client.post(
        f"/residents/{rid}/signings", json=signing_body(world, team_id=str(world.other_team.id)), headers=headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "body.team_id"
    # Before the team's responsibility began (2025-01-01) it is refused too.
    early = await client.post(
        f"/residents/{rid}/signings", json=signing_body(world, starts_on="2024-06-01"), headers=headers
    )
    assert early.status_code == 422
    assert early.json()["errors"][0]["field"] == "body.team_id"
    # Readers and sentinels may not sign at all.
    sentinel = await auth_headers(client, world.sentinel)
    assert (
        await client.post(f"/residents/{rid}/signings", json=signing_body(world), headers=sentinel)
    ).status_code == 403


async def test_coverage_counts_signed_residents_per_team_village_and_key_population(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    signed_ht = await make_resident(db, world.grid, tags=(KeyPopulation.HYPERTENSION,))
    signed = await make_resident(db, world.grid)
    await make_resident(db, world.grid, tags=(KeyPopulation.HYPERTENSION,))
    ended = await make_resident(db, world.grid)
    for r in (signed_ht, signed):
        await make_signing(db, r, world.team, signed_by=world.leader.id, starts_on=date(2026, 1, 1))
    await make_signing(
        db, ended, world.team, signed_by=world.leader.id, starts_on=date(2025, 1, 1), ends_on=date(2026, 1, 1)
    )
    other_grid = await make_child(db, world.village, number=2)
    await make_resident(db, other_grid)
    await db.commit()
    headers = await auth_headers(client, world.leader)

    team = await client.get(f"/teams/{world.team.id}/signing-coverage", headers=headers)
    assert team.status_code == 200, team.text
    t = team.json()
    assert (t["residents"], t["signed"], t["signed_total"], t["rate"]) == (5, 2, 2, 0.4)
    assert t["by_population"] == [{"population": "hypertension", "residents": 2, "signed": 1, "rate": 0.5}]
    other = (await client.get(f"/teams/{world.other_team.id}/signing-coverage", headers=headers)).json()
    assert (other["residents"], other["signed"], other["rate"]) == (0, 0, None)

    villages = await client.get(f"/signing-coverage/villages?org_unit_id={world.town.id}", headers=headers)
    assert villages.status_code == 200, villages.text
    [v] = villages.json()["items"]
    assert (v["village"]["id"], v["residents"], v["signed"], v["rate"]) == (str(world.village.id), 5, 2, 0.4)
    assert v["by_population"][0]["signed"] == 1

    listed = await client.get(f"/teams/{world.team.id}/residents?population=hypertension", headers=headers)
    assert [r["id"] for r in listed.json()["items"]] == [str(signed_ht.id)]
    area = await client.get(f"/teams/{world.team.id}/residents?relation=area&limit=2", headers=headers)
    assert len(area.json()["items"]) == 2
    assert area.json()["next_cursor"]
    rest = await client.get(
        f"/teams/{world.team.id}/residents?relation=area&limit=10&cursor={area.json()['next_cursor']}",
        headers=headers,
    )
    assert len(rest.json()["items"]) == 3


def contact(at: datetime, **over: Any) -> dict[str, Any]:
    return {"channel": "phone", "outcome": "reached", "contacted_at": at.isoformat()} | over


async def test_quarterly_duty_lists_signed_residents_not_contacted_this_quarter(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    last_quarter = await make_resident(db, world.grid, name="上季度")
    this_quarter = await make_resident(db, world.grid, name="本季度")
    never = await make_resident(db, world.grid, name="未联系")
    unreachable = await make_resident(db, world.grid, name="未接通")
    await make_resident(db, world.grid, name="未签约")
    ids = {r.name: str(r.id) for r in (last_quarter, this_quarter, never, unreachable)}
    for r in (last_quarter, this_quarter, never, unreachable):
        await make_signing(db, r, world.team, signed_by=world.leader.id, starts_on=date(2026, 1, 5))
    await db.commit()
    headers = await auth_headers(client, world.leader)
    # 31 March 23:30 in China (15:30 UTC) is still the first quarter.
    q1_late = datetime(2026, 3, 31, 15, 30, tzinfo=UTC)
    # 1 April 00:30 in China (16:30 UTC on 31 March) is already the second quarter.
    q2_early = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)
    for name, body in (
        ("上季度", contact(q1_late)),
        ("本季度", contact(q2_early, channel="home_visit", notes="血压 150/95，已调药")),
        ("未接通", contact(NOW - timedelta(days=1), outcome="unreachable")),
    ):
        response = await client.post(f"/residents/{ids[name]}/contacts", json=body, headers=headers)
        assert response.status_code == 201, response.text

    due = await client.get(f"/teams/{world.team.id}/contacts-due", headers=headers)
    assert due.status_code == 200, due.text
    page = due.json()
    assert page["quarter_starts_at"] == "2026-03-31T16:00:00Z"
    assert {i["name"] for i in page["items"]} == {"上季度", "未联系", "未接通"}
    by_name = {i["name"]: i for i in page["items"]}
    assert datetime.fromisoformat(by_name["上季度"]["last_contacted_at"]) == q1_late
    assert by_name["未联系"]["last_contacted_at"] is None

    clock.freeze(datetime(2026, 7, 1, 1, 0, tzinfo=UTC))  # 1 July 09:00 in China: the third quarter
    headers = await auth_headers(client, world.leader)
    due = (await client.get(f"/teams/{world.team.id}/contacts-due", headers=headers)).json()
    assert {i["name"] for i in due["items"]} == {"上季度", "本季度", "未联系", "未接通"}


async def test_a_contact_by_someone_not_on_the_signing_team_is_refused(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    resident = await make_resident(db, world.grid)
    await make_signing(db, resident, world.team, signed_by=world.leader.id, starts_on=date(2026, 1, 5))
    unsigned = await make_resident(db, world.grid)
    rid, unsigned_id = resident.id, unsigned.id
    await db.commit()
    for user in (world.outsider, world.sentinel):
        response = await client.post(
            f"/residents/{rid}/contacts", json=contact(NOW), headers=await auth_headers(client, user)
        )
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "not_team_member"
    leader = await auth_headers(client, world.leader)
    future = await client.post(f"/residents/{rid}/contacts", json=contact(NOW + timedelta(minutes=5)), headers=leader)
    assert future.status_code == 422
    assert future.json()["errors"][0]["field"] == "body.contacted_at"
    before = await client.post(
        f"/residents/{rid}/contacts", json=contact(datetime(2026, 1, 1, tzinfo=UTC)), headers=leader
    )
    assert before.status_code == 422
    assert before.json()["errors"][0]["field"] == "body.contacted_at"
    naive = await client.post(
        f"/residents/{rid}/contacts", json=contact(NOW) | {"contacted_at": "2026-05-01T10:00:00"}, headers=leader
    )
    assert naive.status_code == 422
    not_signed = await client.post(f"/residents/{unsigned_id}/contacts", json=contact(NOW), headers=leader)
    assert not_signed.status_code == 422
    assert (await client.get(f"/residents/{rid}/contacts", headers=leader)).json()["items"] == []


async def test_contact_notes_are_encrypted_and_never_shown_to_sentinels(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    resident = await make_resident(db, world.grid)
    await make_signing(db, resident, world.team, signed_by=world.leader.id, starts_on=date(2026, 1, 5))
    rid = resident.id
    await db.commit()
    leader = await auth_headers(client, world.leader)
    cid = str(uuid.uuid4())
    body = contact(NOW - timedelta(hours=2), id=cid, notes="情绪不稳定，家属陪护")
    created = await client.post(f"/residents/{rid}/contacts", json=body, headers=leader)
    assert created.status_code == 201, created.text
    assert created.json()["notes"] == "情绪不稳定，家属陪护"
    assert (await client.post(f"/residents/{rid}/contacts", json=body, headers=leader)).status_code == 200
    changed = await client.post(f"/residents/{rid}/contacts", json=body | {"notes": "别的"}, headers=leader)
    assert changed.status_code == 409
    raw = await db.scalar(text("select notes_enc::text from resident_contact where id = :id"), {"id": cid})
    assert raw is not None
    assert "情绪" not in raw

    sentinel = await auth_headers(client, world.sentinel)
    seen = await client.get(f"/contacts/{cid}", headers=sentinel)
    assert seen.status_code == 200, seen.text
    assert seen.json()["notes"] is None
    assert seen.json()["outcome"] == "reached"
    listed = await client.get(f"/residents/{rid}/contacts", headers=sentinel)
    assert [c["notes"] for c in listed.json()["items"]] == [None]
    assert (await client.get(f"/contacts/{cid}", headers=leader)).json()["notes"] == "情绪不稳定，家属陪护"


async def test_town_a_lists_and_coverage_never_count_town_b(
    client: httpx.AsyncClient, db: AsyncSession, world: World
) -> None:
    resident = await make_resident(db, world.grid)
    await make_signing(db, resident, world.team, signed_by=world.leader.id, starts_on=date(2026, 1, 5))
    town_a = await make_child(db, await db.get(OrgUnit, world.district.id), number=2)
    await db.commit()
    headers = await auth_headers(client, await make_user(db, Role.TOWN_SUPERVISOR, town_a))
    district_wide = await client.get(f"/signing-coverage/villages?org_unit_id={world.district.id}", headers=headers)
    assert district_wide.status_code == 200, district_wide.text
    assert district_wide.json()["items"] == []
    assert (await client.get(f"/teams/{world.team.id}/contacts-due", headers=headers)).status_code == 404
