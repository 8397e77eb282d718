"""Social-work departments: one per institution, registered by the district or the institution's steward;
social workers and supervisors are scoped to one by a grant naming its institution."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.security.roles import Role
from services.core.teams.models import InstitutionKind
from tests.factories import auth_headers, make_child, make_district, make_institution, make_user, snapshot
from tests.referral_world import bound_user


async def test_a_hospital_steward_registers_its_department_once_and_the_gap_closes(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    district = await make_district(db)
    hospital = await make_institution(db, district, kind=InstitutionKind.DISTRICT_HOSPITAL)
    other = await make_institution(db, district, kind=InstitutionKind.TCM_HOSPITAL)
    steward = await auth_headers(client, await bound_user(db, Role.INSTITUTION_STEWARD, district, hospital))
    admin = await auth_headers(client, await make_user(db, Role.DISTRICT_ADMIN, district))

    gaps = (await client.get("/social-work-departments/missing", headers=admin)).json()
    assert {g["institution_id"] for g in gaps} == {str(hospital.id), str(other.id)}

    body = {"id": str(uuid.uuid4()), "institution_id": str(hospital.id), "name": "社会工作部"}
    created = await client.post("/social-work-departments", json=body, headers=steward)
    assert created.status_code == 201, created.text
    assert created.headers["ETag"] == '"1"'
    assert created.headers["Location"] == f"/social-work-departments/{body['id']}"
    retried = await client.post("/social-work-departments", json=body, headers=steward)
    assert retried.status_code == 200
    assert retried.headers["Idempotent-Replayed"] == "true"
    second = await client.post(
        "/social-work-departments", json={"institution_id": str(hospital.id), "name": "另一个"}, headers=admin
    )
    assert second.status_code == 409
    assert second.json()["existing_id"] == body["id"]
    # the hospital's steward manages its own institution only
    foreign = await client.post(
        "/social-work-departments", json={"institution_id": str(other.id), "name": "社工部"}, headers=steward
    )
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["field"] == "body.institution_id"

    gaps = (await client.get("/social-work-departments/missing", headers=admin)).json()
    assert [g["institution_id"] for g in gaps] == [str(other.id)]
    read = await client.get(f"/social-work-departments/{body['id']}", headers=admin)
    assert read.status_code == 200
    assert read.json()["institution_id"] == str(hospital.id)


async def test_a_town_sees_the_district_hospitals_department_but_not_another_towns(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    district = await make_district(db)
    town_a, town_b = await make_child(db, district, number=1), await make_child(db, district, number=2)
    hospital = await make_institution(db, district, kind=InstitutionKind.DISTRICT_HOSPITAL)
    centre_b = await make_institution(db, town_b)
    admin = await auth_headers(client, await make_user(db, Role.DISTRICT_ADMIN, district))
    ids = []
    for institution in (hospital, centre_b):
        answer = await client.post(
            "/social-work-departments",
            json={"institution_id": str(institution.id), "name": "社工站", "is_station": True},
            headers=admin,
        )
        ids.append(answer.json()["id"])
    town = await auth_headers(client, await make_user(db, Role.TOWN_SUPERVISOR, town_a))
    shown = {d["id"] for d in (await client.get("/social-work-departments", headers=town)).json()["items"]}
    assert shown == {ids[0]}


async def test_a_social_workers_grant_names_the_institution_of_its_department(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    district = snapshot(await make_district(db))
    hospital = await make_institution(db, district, kind=InstitutionKind.DISTRICT_HOSPITAL)
    admin = await auth_headers(client, await make_user(db, Role.DISTRICT_ADMIN, district))
    worker = snapshot(await make_user(db, Role.SENTINEL, district))
    for role in ("social_worker", "social_work_supervisor"):
        unnamed = await client.post(
            f"/users/{worker.id}/grants", json={"role": role, "org_unit_id": str(district.id)}, headers=admin
        )
        assert unnamed.status_code == 422
        assert unnamed.json()["errors"][0]["field"] == "body.institution_id"
        named = await client.post(
            f"/users/{worker.id}/grants",
            json={"role": role, "org_unit_id": str(district.id), "institution_id": str(hospital.id)},
            headers=admin,
        )
        assert named.status_code == 201, named.text
