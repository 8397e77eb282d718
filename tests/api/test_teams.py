"""Institutions, people and teams over the API: checked inputs, safe retries, If-Match, access."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.audit.models import AuditEvent
from services.core.security.roles import Role
from tests.api.test_auth import assert_problem
from tests.factories import auth_headers, credit_code, make_institution, make_staff, make_team, make_user
from tests.org_world import build_world


def _field(body: dict[str, object]) -> list[object]:
    errors = body.get("errors") or []
    assert isinstance(errors, list)
    return [e["field"] for e in errors]


async def test_institution_is_registered_with_a_checked_credit_code_and_retries_are_safe(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await build_world(db)
    headers = await auth_headers(client, world.admin)
    body = {
        "id": str(uuid.uuid4()),
        "name": "兴隆镇卫生院",
        "kind": "township_health_center",
        "credit_code": credit_code(1).lower(),
        "org_unit_id": str(world.town_a.id),
    }
    first = await client.post("/institutions", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["level"] == "primary"
    assert first.json()["credit_code"] == credit_code(1)
    again = await client.post("/institutions", json=body, headers=headers)
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    changed = await client.post("/institutions", json=body | {"name": "another"}, headers=headers)
    assert_problem(changed, 409, "conflict")
    duplicate_code = await client.post("/institutions", json=body | {"id": str(uuid.uuid4())}, headers=headers)
    assert_problem(duplicate_code, 409, "already_exists")


async def test_bad_credit_code_is_422_naming_the_field(client: httpx.AsyncClient, db: AsyncSession) -> None:
    world = await build_world(db)
    headers = await auth_headers(client, world.admin)
    good = credit_code(2)
    for bad in (good[:-1] + ("0" if good[-1] != "0" else "1"), "123", "91500112ABCDEFGHIO"):
        response = await client.post(
            "/institutions",
            json={"name": "x", "kind": "cdc", "credit_code": bad, "org_unit_id": str(world.district.id)},
            headers=headers,
        )
        body = assert_problem(response, 422, "validation_error")
        assert _field(body) == ["body.credit_code"]


async def test_institution_sits_in_the_district_or_a_town(client: httpx.AsyncClient, db: AsyncSession) -> None:
    world = await build_world(db)
    response = await client.post(
        "/institutions",
        json={
            "name": "x",
            "kind": "social_clinic",
            "credit_code": credit_code(3),
            "org_unit_id": str(world.grid_a1_1.id),
        },
        headers=await auth_headers(client, world.admin),
    )
    assert _field(assert_problem(response, 422, "validation_error")) == ["body.org_unit_id"]


async def test_people_have_checked_mobiles(client: httpx.AsyncClient, db: AsyncSession) -> None:
    world = await build_world(db)
    headers = await auth_headers(client, world.admin)
    institution = await make_institution(db, world.town_a)
    ok = await client.post(
        "/people",
        json={
            "name": "李医生",
            "kind": "staff",
            "discipline": "doctor",
            "mobile": "+86 139-1234-5678",
            "institution_id": str(institution.id),
        },
        headers=headers,
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["mobile_masked"] == "139****5678"
    assert "mobile" not in ok.json()
    assert ok.json()["org_unit_id"] == str(world.town_a.id)
    for bad in ("12912345678", "1391234567", "not a phone", "+1 415 555 0100"):
        response = await client.post(
            "/people",
            json={"name": "x", "kind": "community_worker", "mobile": bad, "org_unit_id": str(world.grid_a1_1.id)},
            headers=headers,
        )
        assert _field(assert_problem(response, 422, "validation_error")) == ["body.mobile"]
    no_discipline = await client.post(
        "/people",
        json={"name": "x", "kind": "staff", "mobile": "13912345679", "institution_id": str(institution.id)},
        headers=headers,
    )
    assert _field(assert_problem(no_discipline, 422, "validation_error")) == ["body.discipline"]


async def test_unknown_ids_and_bad_if_match_are_problems_not_500(client: httpx.AsyncClient, db: AsyncSession) -> None:
    world = await build_world(db)
    headers = await auth_headers(client, world.admin)
    unknown = await client.post("/teams", json={"institution_id": str(uuid.uuid4()), "name": "t"}, headers=headers)
    assert _field(assert_problem(unknown, 422, "validation_error")) == ["body.institution_id"]
    assert_problem(await client.get(f"/teams/{uuid.uuid4()}", headers=headers), 404, "not_found")
    assert_problem(await client.get("/teams/not-a-uuid", headers=headers), 422, "validation_error")
    team = await make_team(db, await make_institution(db, world.town_a))
    await db.commit()  # a failed request rolls back to the last commit, as in production
    url = f"/teams/{team.id}"
    assert_problem(await client.patch(url, json={"name": "n"}, headers=headers), 428, "if_match_required")
    stale = await client.patch(url, json={"name": "n"}, headers=headers | {"If-Match": '"7"'})
    assert_problem(stale, 412, "version_mismatch")
    junk = await client.patch(url, json={"name": "n"}, headers=headers | {"If-Match": "junk"})
    assert _field(assert_problem(junk, 422, "validation_error")) == ["header.if-match"]
    ok = await client.patch(url, json={"status": "dissolved"}, headers=headers | {"If-Match": '"1"'})
    assert ok.status_code == 200, ok.text
    assert ok.headers["ETag"] == '"2"'
    back = await client.patch(url, json={"status": "active"}, headers=headers | {"If-Match": '"2"'})
    assert_problem(back, 409, "illegal_transition")


async def test_one_team_leader_at_a_time(client: httpx.AsyncClient, db: AsyncSession) -> None:
    world = await build_world(db)
    headers = await auth_headers(client, world.admin)
    institution = await make_institution(db, world.town_a)
    team = await make_team(db, institution)
    first, second = await make_staff(db, institution), await make_staff(db, institution, discipline="nurse")
    await db.commit()
    lead = await client.post(
        f"/teams/{team.id}/members", json={"person_id": str(first.id), "role": "leader"}, headers=headers
    )
    assert lead.status_code == 201, lead.text
    assert lead.json()["discipline"] == "doctor"
    clash = await client.post(
        f"/teams/{team.id}/members", json={"person_id": str(second.id), "role": "leader"}, headers=headers
    )
    body = assert_problem(clash, 409, "period_overlap")
    assert body["conflicting_member_id"] == lead.json()["id"]
    member = await client.post(f"/teams/{team.id}/members", json={"person_id": str(second.id)}, headers=headers)
    assert member.status_code == 201
    listed = await client.get(f"/teams/{team.id}/members", headers=headers)
    assert [m["role"] for m in listed.json()] == ["leader", "member"]
    assert (await client.get(f"/teams/{team.id}", headers=headers)).json()["leader_person_id"] == str(first.id)


async def test_a_district_department_backs_a_primary_team_but_not_the_other_way(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await build_world(db)
    headers = await auth_headers(client, world.admin)
    hospital = await make_institution(db, world.district, kind="district_hospital")  # type: ignore[arg-type]
    department_body = {"institution_id": str(hospital.id), "name": "慢病部", "kind": "chronic_disease"}
    department = await client.post("/teams", json=department_body, headers=headers)
    assert department.status_code == 201, department.text
    assert department.json()["level"] == "district"
    primary = await make_team(db, await make_institution(db, world.town_a))
    ok = await client.post(
        "/team-backings",
        json={"backing_team_id": department.json()["id"], "backed_team_id": str(primary.id)},
        headers=headers,
    )
    assert ok.status_code == 201, ok.text
    wrong = await client.post(
        "/team-backings",
        json={"backing_team_id": str(primary.id), "backed_team_id": department.json()["id"]},
        headers=headers,
    )
    assert _field(assert_problem(wrong, 422, "validation_error")) == ["body.backing_team_id"]


async def test_town_a_user_cannot_see_or_change_town_b_institutions_and_teams(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await build_world(db)
    inst_a = await make_institution(db, world.town_a)
    inst_b = await make_institution(db, world.town_b)
    hospital = await make_institution(db, world.district, kind="district_hospital")  # type: ignore[arg-type]
    team_b = await make_team(db, inst_b)
    staff_b = await make_staff(db, inst_b)
    supervisor = await make_user(db, Role.TOWN_SUPERVISOR, world.town_a)
    headers = await auth_headers(client, supervisor)

    listed = {i["id"] for i in (await client.get("/institutions", headers=headers)).json()["items"]}
    assert listed == {str(inst_a.id), str(hospital.id)}  # its town's, and the district-level ones above it
    assert_problem(await client.get(f"/institutions/{inst_b.id}", headers=headers), 404, "not_found")
    assert_problem(await client.get(f"/teams/{team_b.id}", headers=headers), 404, "not_found")
    assert str(team_b.id) not in {t["id"] for t in (await client.get("/teams", headers=headers)).json()["items"]}
    assert_problem(await client.get(f"/people/{staff_b.id}", headers=headers), 404, "not_found")
    assert (await client.get("/people", headers=headers)).json()["items"] == []
    # a supervisor reads but does not write
    write = await client.patch(f"/teams/{team_b.id}", json={"name": "x"}, headers=headers | {"If-Match": '"1"'})
    assert_problem(write, 403, "forbidden")


async def test_institution_steward_manages_teams_in_its_area_only(client: httpx.AsyncClient, db: AsyncSession) -> None:
    world = await build_world(db)
    inst_a = await make_institution(db, world.town_a)
    inst_b = await make_institution(db, world.town_b)
    team_b = await make_team(db, inst_b)
    steward = await make_user(db, Role.INSTITUTION_STEWARD, world.town_a)
    headers = await auth_headers(client, steward)
    mine = await client.post("/teams", json={"institution_id": str(inst_a.id), "name": "一团队"}, headers=headers)
    assert mine.status_code == 201, mine.text
    theirs = await client.post("/teams", json={"institution_id": str(inst_b.id), "name": "x"}, headers=headers)
    assert_problem(theirs, 422, "validation_error")
    change = await client.patch(f"/teams/{team_b.id}", json={"name": "x"}, headers=headers | {"If-Match": '"1"'})
    assert_problem(change, 404, "not_found")
    institution = await client.post(
        "/institutions",
        json={"name": "x", "kind": "social_clinic", "credit_code": credit_code(9), "org_unit_id": str(world.town_a.id)},
        headers=headers,
    )
    assert_problem(institution, 403, "forbidden")


async def test_a_steward_grant_naming_an_institution_manages_only_that_institution(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await build_world(db)
    center = await make_institution(db, world.town_a)
    clinic = await make_institution(db, world.town_a, kind="social_clinic")  # type: ignore[arg-type]
    clinic_team = await make_team(db, clinic)
    clinic_staff = await make_staff(db, clinic)
    admin_headers = await auth_headers(client, world.admin)
    created = await client.post(
        "/users",
        json={
            "username": "center-steward",
            "display_name": "管家",
            "secret": "correct-horse-battery",
            "org_unit_id": str(world.town_a.id),
            "grants": [
                {"role": "institution_steward", "org_unit_id": str(world.town_a.id), "institution_id": str(center.id)}
            ],
        },
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["grants"][0]["institution_id"] == str(center.id)
    wrong_role = await client.post(
        f"/users/{created.json()['id']}/grants",
        json={"role": "town_supervisor", "org_unit_id": str(world.town_a.id), "institution_id": str(center.id)},
        headers=admin_headers,
    )
    assert _field(assert_problem(wrong_role, 422, "validation_error")) == ["body.institution_id"]

    token = await client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "center-steward", "password": "correct-horse-battery"},
    )
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    mine = await client.post("/teams", json={"institution_id": str(center.id), "name": "一团队"}, headers=headers)
    assert mine.status_code == 201, mine.text
    other = await client.post("/teams", json={"institution_id": str(clinic.id), "name": "x"}, headers=headers)
    assert _field(assert_problem(other, 422, "validation_error")) == ["body.institution_id"]
    assert (await client.get(f"/teams/{clinic_team.id}", headers=headers)).status_code == 200  # reads its town
    change = await client.patch(f"/teams/{clinic_team.id}", json={"name": "x"}, headers=headers | {"If-Match": '"1"'})
    assert_problem(change, 404, "not_found")
    poach = await client.patch(f"/people/{clinic_staff.id}", json={"name": "x"}, headers=headers | {"If-Match": '"1"'})
    assert_problem(poach, 404, "not_found")
    hire = await client.post(
        "/people",
        json={
            "name": "王护士",
            "kind": "staff",
            "discipline": "nurse",
            "mobile": "13700000001",
            "institution_id": str(center.id),
        },
        headers=headers,
    )
    assert hire.status_code == 201, hire.text


async def test_mobiles_are_sealed_at_rest_masked_in_answers_and_revealed_only_audited(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await build_world(db)
    admin = await auth_headers(client, world.admin)
    made = await client.post(
        "/people",
        json={
            "name": "赵哨兵",
            "kind": "community_worker",
            "mobile": "13912345678",
            "org_unit_id": str(world.grid_a1_1.id),
        },
        headers=admin,
    )
    assert made.status_code == 201, made.text
    pid = made.json()["id"]
    assert made.json()["mobile_masked"] == "139****5678"
    columns = set(
        (await db.scalars(text("select column_name from information_schema.columns where table_name = 'person'"))).all()
    )
    assert "mobile" not in columns
    enc, bidx, masked = (
        await db.execute(
            text("select mobile_enc, mobile_bidx, mobile_masked from person where id = :id"), {"id": uuid.UUID(pid)}
        )
    ).one()
    for blob in (bytes(enc), bytes(bidx)):
        assert b"13912345678" not in blob
        assert "13912345678" not in blob.hex()
        assert b"12345678" not in blob
    assert masked == "139****5678"
    listed = (await client.get(f"/people?org_unit_id={world.grid_a1_1.id}", headers=admin)).json()["items"]
    assert [p["mobile_masked"] for p in listed if p["id"] == pid] == ["139****5678"]
    assert "13912345678" not in str(listed)
    assert all("mobile" not in p for p in listed)

    async def reveals() -> int:
        return int(
            await db.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "person.mobile_read", AuditEvent.subject_id == uuid.UUID(pid))
            )
            or 0
        )

    for role, unit in (
        (Role.TEAM_MEMBER, world.town_a),
        (Role.TOWN_SUPERVISOR, world.town_a),
        (Role.SENTINEL, world.grid_a1_1),
        (Role.AUDITOR, world.district),
    ):
        headers = await auth_headers(client, await make_user(db, role, unit))
        refused = await client.get(f"/people/{pid}/mobile", headers=headers)
        assert_problem(refused, 403, "mobile_not_permitted")
    other_town = await auth_headers(client, await make_user(db, Role.TEAM_LEADER, world.town_b))
    assert_problem(await client.get(f"/people/{pid}/mobile", headers=other_town), 404, "not_found")
    assert await reveals() == 0
    for role, unit in ((Role.DISTRICT_ADMIN, world.district), (Role.TEAM_LEADER, world.village_a1)):
        headers = await auth_headers(client, await make_user(db, role, unit))
        full = await client.get(f"/people/{pid}/mobile", headers=headers)
        assert full.status_code == 200, full.text
        assert full.json() == {"person_id": pid, "mobile": "13912345678"}
        assert full.headers["cache-control"] == "no-store"
    assert await reveals() == 2
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "person.mobile_read").limit(1))
    assert event is not None
    assert "13912345678" not in str(event.details)

    version = made.headers["etag"]
    changed = await client.patch(
        f"/people/{pid}", json={"mobile": "139 8765 4321"}, headers={**admin, "If-Match": version}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["mobile_masked"] == "139****4321"
    assert (await client.get(f"/people/{pid}/mobile", headers=admin)).json()["mobile"] == "13987654321"
    retry = await client.post(
        "/people",
        json={
            "id": pid,
            "name": "赵哨兵",
            "kind": "community_worker",
            "mobile": "13987654321",
            "org_unit_id": str(world.grid_a1_1.id),
        },
        headers=admin,
    )
    assert retry.status_code == 200, retry.text
