"""People lent across institutions over the API: a district doctor posted down (县聘乡用) and a nursing
station's nurse on a primary institution's team, dated, answering "who was on this team at T"."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import httpx
import openpyxl
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.security.roles import Role
from services.core.teams.models import InstitutionKind
from tests.api.test_auth import assert_problem
from tests.factories import auth_headers, make_institution, make_staff, make_team, make_user
from tests.org_world import build_world


def _version(response: httpx.Response) -> dict[str, str]:
    return {"If-Match": response.headers["ETag"]}


def _fields(response: httpx.Response) -> list[Any]:
    return [e["field"] for e in response.json()["errors"]]


async def _members_at(client: httpx.AsyncClient, headers: dict[str, str], team_id: Any, at: Any) -> set[str]:
    response = await client.get(f"/teams/{team_id}/members", params={"at": at.isoformat()}, headers=headers)
    assert response.status_code == 200, response.text
    return {m["person_id"] for m in response.json()}


async def test_a_posted_district_doctor_is_on_the_primary_team_during_the_posting_and_not_after(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await build_world(db)
    hospital = await make_institution(db, world.district, kind=InstitutionKind.DISTRICT_HOSPITAL)
    health_center = await make_institution(db, world.town_a)
    team = await make_team(db, health_center)
    doctor = await make_staff(db, hospital)
    steward = await make_user(db, Role.INSTITUTION_STEWARD, world.town_a)
    await db.commit()
    admin = await auth_headers(client, world.admin)
    host = await auth_headers(client, steward)
    start = clock.now() - timedelta(days=30)
    year_end = start + timedelta(days=365)

    # The town's steward cannot reach a district hospital's staff directly: the posting is the way in.
    direct = await client.post(f"/teams/{team.id}/members", json={"person_id": str(doctor.id)}, headers=host)
    assert_problem(direct, 422, "validation_error")
    posted = await client.post(
        "/postings",
        json={
            "person_id": str(doctor.id),
            "host_institution_id": str(health_center.id),
            "kind": "county_hired",
            "starts_at": start.isoformat(),
            "ends_at": year_end.isoformat(),
        },
        headers=admin,
    )
    assert posted.status_code == 201, posted.text
    posting = posted.json()
    assert posting["home_institution_id"] == str(hospital.id)
    assert posting["full_time"] is True
    joined = await client.post(f"/postings/{posting['id']}/members", json={"team_id": str(team.id)}, headers=host)
    assert joined.status_code == 201, joined.text
    assert joined.json()["posting_id"] == posting["id"]
    assert joined.json()["ends_at"] is not None  # the posting's end

    inside = start + timedelta(days=20)
    assert str(doctor.id) in await _members_at(client, host, team.id, inside)
    assert str(doctor.id) not in await _members_at(client, host, team.id, year_end + timedelta(days=1))
    assert str(doctor.id) not in await _members_at(client, host, team.id, start - timedelta(days=1))

    # In the roster as it stood inside the posting.
    roster = await client.get(
        "/roster.xlsx", params={"org_unit_id": str(world.town_a.id), "at": inside.isoformat()}, headers=admin
    )
    assert roster.status_code == 200, roster.text
    sheet = openpyxl.load_workbook(io.BytesIO(roster.content))["团队成员"]
    assert doctor.name in {row[2] for row in sheet.iter_rows(values_only=True)}

    # Recalled early: the membership ends with the posting.
    early = start + timedelta(days=60)
    ended = await client.patch(
        f"/postings/{posting['id']}", json={"ends_at": early.isoformat()}, headers=admin | {"If-Match": '"1"'}
    )
    assert ended.status_code == 200, ended.text
    reopened = await client.patch(f"/postings/{posting['id']}", json={"ends_at": None}, headers=admin | _version(ended))
    assert _fields(reopened) == ["body.ends_at"]  # 县聘乡用 has a term
    assert str(doctor.id) in await _members_at(client, host, team.id, early - timedelta(seconds=1))
    assert str(doctor.id) not in await _members_at(client, host, team.id, early)
    listed = await client.get(
        "/postings", params={"institution_id": str(health_center.id), "at": inside.isoformat()}, headers=host
    )
    assert [p["id"] for p in listed.json()["items"]] == [posting["id"]]


async def test_a_nursing_station_nurse_is_a_member_of_a_primary_institutions_team(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await build_world(db)
    health_center = await make_institution(db, world.town_a, kind=InstitutionKind.COMMUNITY_HEALTH_CENTER)
    station = await make_institution(db, world.town_a, kind=InstitutionKind.NURSING_STATION)
    team = await make_team(db, health_center)
    nurse = await make_staff(db, station, discipline="nurse")
    await db.commit()
    admin = await auth_headers(client, world.admin)
    start = clock.now() - timedelta(days=1)
    posted = await client.post(
        "/postings",
        json={
            "person_id": str(nurse.id),
            "host_institution_id": str(health_center.id),
            "kind": "social_partner",
            "starts_at": start.isoformat(),
        },
        headers=admin,
    )
    assert posted.status_code == 201, posted.text
    assert posted.json()["ends_at"] is None  # an open-ended partnership
    joined = await client.post(
        f"/postings/{posted.json()['id']}/members", json={"team_id": str(team.id)}, headers=admin
    )
    assert joined.status_code == 201, joined.text
    assert joined.json()["discipline"] == "nurse"
    assert str(nurse.id) in await _members_at(client, admin, team.id, clock.now())
    assert str(nurse.id) not in await _members_at(client, admin, team.id, start - timedelta(hours=1))


async def test_bad_postings_are_refused_naming_the_field(client: httpx.AsyncClient, db: AsyncSession) -> None:
    world = await build_world(db)
    hospital = await make_institution(db, world.district, kind=InstitutionKind.DISTRICT_HOSPITAL)
    health_center = await make_institution(db, world.town_a)
    other_center = await make_institution(db, world.town_a)
    station = await make_institution(db, world.town_a, kind=InstitutionKind.NURSING_STATION)
    other_team = await make_team(db, other_center)
    team = await make_team(db, health_center)
    doctor = await make_staff(db, hospital)
    nurse = await make_staff(db, station, discipline="nurse")
    supervisor = await make_user(db, Role.TOWN_SUPERVISOR, world.town_a)
    await db.commit()
    admin = await auth_headers(client, world.admin)
    reader_headers = await auth_headers(client, supervisor)
    start = clock.now()
    good = {
        "person_id": str(doctor.id),
        "host_institution_id": str(health_center.id),
        "kind": "county_hired",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(days=365)).isoformat(),
    }
    no_term = await client.post("/postings", json=good | {"ends_at": None}, headers=admin)
    assert _fields(no_term) == ["body.ends_at"]
    wrong_kind = await client.post("/postings", json=good | {"person_id": str(nurse.id)}, headers=admin)
    assert _fields(wrong_kind) == ["body.person_id"]
    not_primary = await client.post("/postings", json=good | {"host_institution_id": str(hospital.id)}, headers=admin)
    assert _fields(not_primary) == ["body.host_institution_id"]
    backwards = await client.post("/postings", json=good | {"ends_at": start.isoformat()}, headers=admin)
    assert _fields(backwards) == ["body.ends_at"]
    reader = await client.post("/postings", json=good, headers=reader_headers)
    assert_problem(reader, 403, "forbidden")

    first = await client.post("/postings", json=good, headers=admin)
    assert first.status_code == 201, first.text
    twice = await client.post("/postings", json=good | {"host_institution_id": str(other_center.id)}, headers=admin)
    body = assert_problem(twice, 409, "period_overlap")
    assert body["conflicting_posting_id"] == first.json()["id"]
    elsewhere = await client.post(
        f"/postings/{first.json()['id']}/members", json={"team_id": str(other_team.id)}, headers=admin
    )
    assert _fields(elsewhere) == ["body.team_id"]
    too_long = await client.post(
        f"/postings/{first.json()['id']}/members",
        json={"team_id": str(team.id), "ends_at": (start + timedelta(days=400)).isoformat()},
        headers=admin,
    )
    assert _fields(too_long) == ["body.ends_at"]
