"""Org units over the API: kinds follow parents, codes extend parents', safe retries, If-Match."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.security.roles import Role
from tests.api.test_auth import assert_problem
from tests.factories import auth_headers, make_district, make_user


async def _admin(client: httpx.AsyncClient, db: AsyncSession) -> tuple[uuid.UUID, dict[str, str]]:
    district = await make_district(db)
    return district.id, await auth_headers(client, await make_user(db, Role.DISTRICT_ADMIN, district))


async def test_a_district_grows_towns_villages_and_grids(client: httpx.AsyncClient, db: AsyncSession) -> None:
    district_id, headers = await _admin(client, db)
    town = await client.post(
        "/org-units",
        headers=headers,
        json={"parent_id": str(district_id), "code": "500112101000", "name": "兴隆镇", "category": "town"},
    )
    assert town.status_code == 201, town.text
    assert town.json()["kind"] == "town"
    assert town.headers["etag"] == '"1"'
    village = await client.post(
        "/org-units", headers=headers, json={"parent_id": town.json()["id"], "code": "500112101001", "name": "牛皇村"}
    )
    assert village.json()["kind"] == "village"
    grid = await client.post(
        "/org-units",
        headers=headers,
        json={"parent_id": village.json()["id"], "code": "500112101001001", "name": "第一网格"},
    )
    assert grid.json()["kind"] == "grid"
    child_of_grid = await client.post(
        "/org-units", headers=headers, json={"parent_id": grid.json()["id"], "code": "500112101001001", "name": "x"}
    )
    assert assert_problem(child_of_grid, 422, "validation_error")["errors"][0]["field"] == "body.parent_id"  # type: ignore[index]

    listed = await client.get(f"/org-units?parent_id={town.json()['id']}", headers=headers)
    assert [u["code"] for u in listed.json()["items"]] == ["500112101001"]


async def test_create_with_a_client_id_is_safe_to_retry(client: httpx.AsyncClient, db: AsyncSession) -> None:
    district_id, headers = await _admin(client, db)
    body = {"id": str(uuid.uuid4()), "parent_id": str(district_id), "code": "500112102000", "name": "石船镇"}
    first = await client.post("/org-units", headers=headers, json=body)
    again = await client.post("/org-units", headers=headers, json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    different = await client.post("/org-units", headers=headers, json={**body, "name": "别的镇"})
    assert_problem(different, 409, "conflict")


async def test_duplicate_code_is_409_with_the_existing_id(client: httpx.AsyncClient, db: AsyncSession) -> None:
    district_id, headers = await _admin(client, db)
    body = {"parent_id": str(district_id), "code": "500112103000", "name": "大盛镇"}
    first = await client.post("/org-units", headers=headers, json=body)
    clash = assert_problem(await client.post("/org-units", headers=headers, json=body), 409, "already_exists")
    assert clash["existing_id"] == first.json()["id"]


async def test_update_needs_the_current_version(client: httpx.AsyncClient, db: AsyncSession) -> None:
    district_id, headers = await _admin(client, db)
    town = (
        await client.post(
            "/org-units",
            headers=headers,
            json={"parent_id": str(district_id), "code": "500112104000", "name": "茨竹镇"},
        )
    ).json()
    url = f"/org-units/{town['id']}"
    assert_problem(await client.patch(url, headers=headers, json={"name": "茨竹"}), 428, "if_match_required")
    renamed = await client.patch(url, headers={**headers, "If-Match": '"1"'}, json={"name": "茨竹新镇"})
    assert renamed.status_code == 200
    assert renamed.headers["etag"] == '"2"'
    stale = await client.patch(url, headers={**headers, "If-Match": '"1"'}, json={"name": "又改"})
    assert assert_problem(stale, 412, "version_mismatch")["current_version"] == 2
    assert_problem(
        await client.patch(url, headers={**headers, "If-Match": "garbage"}, json={}), 422, "validation_error"
    )


async def test_pages_follow_the_cursor_without_gaps_or_repeats(client: httpx.AsyncClient, db: AsyncSession) -> None:
    district_id, headers = await _admin(client, db)
    for n in range(1, 8):
        await client.post(
            "/org-units",
            headers=headers,
            json={"parent_id": str(district_id), "code": f"500112{200 + n}000", "name": f"镇{n}"},
        )
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, "kind": "town"} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/org-units", headers=headers, params=params)).json()
        seen += [u["code"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"500112{200 + n}000" for n in range(1, 8)]


async def test_a_reader_may_not_write(client: httpx.AsyncClient, db: AsyncSession) -> None:
    district = await make_district(db)
    headers = await auth_headers(client, await make_user(db, Role.DISTRICT_COMMISSION, district))
    response = await client.post(
        "/org-units", headers=headers, json={"parent_id": str(district.id), "code": "500112105000", "name": "镇"}
    )
    assert_problem(response, 403, "forbidden")
