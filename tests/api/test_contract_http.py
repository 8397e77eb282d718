"""The contract's promises kept over HTTP (issue 9, items 1-7 and 10): headers, If-Match, every status,
dates, replays, the workbook for generic clients, tokens never cached."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.config import Settings
from services.core.security.roles import Role
from tests.api.test_auth import assert_problem
from tests.api.test_residents import Area, area, headers_for, new_body  # noqa: F401 - the area fixture
from tests.factories import PASSWORD, auth_headers, make_district, make_user


async def _admin(client: httpx.AsyncClient, db: AsyncSession) -> tuple[uuid.UUID, dict[str, str]]:
    district = await make_district(db)
    return district.id, await auth_headers(client, await make_user(db, Role.DISTRICT_ADMIN, district))


def _town(district_id: uuid.UUID, **over: str) -> dict[str, str]:
    return {"parent_id": str(district_id), "code": "500112101000", "name": "兴隆镇", "category": "town", **over}


async def test_a_created_record_answers_its_etag_location_and_request_id(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    district_id, headers = await _admin(client, db)
    body = _town(district_id, id=str(uuid.uuid4()))
    created = await client.post("/org-units", headers=headers, json=body)
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == f"/org-units/{body['id']}"
    assert created.headers["x-request-id"]
    assert "idempotent-replayed" not in created.headers
    replay = await client.post("/org-units", headers=headers, json=body)
    assert replay.status_code == 200
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["etag"] == '"1"'
    anonymous = await client.get("/org-units")
    assert_problem(anonymous, 401, "unauthenticated")
    assert anonymous.headers["www-authenticate"].startswith("Bearer")


async def test_if_match_is_required_and_checked_against_its_pattern(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    district_id, headers = await _admin(client, db)
    unit = (await client.post("/org-units", headers=headers, json=_town(district_id))).json()
    path = f"/org-units/{unit['id']}"
    assert_problem(await client.patch(path, headers=headers, json={"name": "新名"}), 428, "if_match_required")
    bad = await client.patch(path, headers={**headers, "If-Match": "v1"}, json={"name": "新名"})
    assert assert_problem(bad, 422, "validation_error")["errors"][0]["field"] == "header.if-match"  # type: ignore[index]
    control = await client.patch(path, headers={**headers, "If-Match": '"1"'}, json={"name": "新\x07名"})
    assert_problem(control, 422, "validation_error")
    ok = await client.patch(path, headers={**headers, "If-Match": '"1"'}, json={"name": "新名"})
    assert ok.status_code == 200
    assert ok.headers["etag"] == '"2"'


async def test_every_status_is_a_documented_problem(client: httpx.AsyncClient, db: AsyncSession) -> None:
    _, headers = await _admin(client, db)
    options = await client.options("/org-units", headers=headers)
    assert_problem(options, 405, "method_not_allowed")
    assert options.headers["allow"] == "GET, POST"
    # No literal path is shadowed by an {id} sibling: the other methods are 405, naming the literal's own.
    batch = await client.get("/reports/batch", headers=headers)
    assert_problem(batch, 405, "method_not_allowed")
    assert batch.headers["allow"] == "POST"
    imports = await client.patch("/residents/imports", headers=headers)
    assert_problem(imports, 405, "method_not_allowed")
    assert imports.headers["allow"] == "POST"
    item = await client.delete(f"/reports/{uuid.uuid4()}", headers=headers)
    assert item.headers["allow"] == "GET"
    malformed = await client.post(
        "/org-units", headers={**headers, "Content-Type": "application/json"}, content=b'{"name": '
    )
    assert_problem(malformed, 400, "malformed_json")
    huge = await client.post("/org-units", headers=headers, json={"name": "x" * 2_000_000})
    assert_problem(huge, 413, "payload_too_large")


async def test_dates_are_dates(client: httpx.AsyncClient, db: AsyncSession, area: Area) -> None:  # noqa: F811
    _, admin = await _admin(client, db)
    member = await headers_for(client, db, Role.TEAM_MEMBER, area.village)
    sentinel = await headers_for(client, db, Role.SENTINEL, area.grid)  # before a failed request expires area
    at = await client.get("/coverage-gaps", params={"org_unit_id": str(area.village_id), "at": "0.5"}, headers=admin)
    assert assert_problem(at, 422, "validation_error")["errors"][0]["field"] == "query.at"  # type: ignore[index]
    iso = await client.get(
        "/coverage-gaps", params={"org_unit_id": str(area.village_id), "at": "2026-01-01T00:00:00+08:00"}, headers=admin
    )
    assert iso.status_code == 200, iso.text
    resident = await client.post("/residents", json=new_body(area), headers=member)
    assert resident.status_code == 201, resident.text
    tag = await client.post(
        f"/residents/{resident.json()['id']}/tags",
        json={"population": "diabetes", "since_on": 0},
        headers=member,
    )
    assert assert_problem(tag, 422, "validation_error")["errors"][0]["field"] == "body.since_on"  # type: ignore[index]
    report = await client.post(
        "/reports",
        json={
            "id": str(uuid.uuid4()),
            "grid_id": str(area.grid_id),
            "observed_at": 0,
            "details": {"category": "health_need", "description": "需要上门"},
        },
        headers=sentinel,
    )
    fields = [e["field"] for e in assert_problem(report, 422, "validation_error")["errors"]]  # type: ignore[attr-defined]
    assert "body.observed_at" in fields


async def test_an_idempotency_key_replay_is_200_like_every_replay(
    client: httpx.AsyncClient,
    db: AsyncSession,
    area: Area,  # noqa: F811
) -> None:
    member = {**await headers_for(client, db, Role.TEAM_MEMBER, area.village), "Idempotency-Key": "k-1"}
    body = new_body(area)
    first = await client.post("/residents", json=body, headers=member)
    again = await client.post("/residents", json=body, headers=member)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["etag"] == first.headers["etag"]


async def test_the_roster_workbook_answers_octet_stream_when_asked(client: httpx.AsyncClient, db: AsyncSession) -> None:
    district_id, headers = await _admin(client, db)
    xlsx = await client.get("/roster.xlsx", params={"org_unit_id": str(district_id)}, headers=headers)
    assert xlsx.status_code == 200, xlsx.text
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    raw = await client.get(
        "/roster.xlsx",
        params={"org_unit_id": str(district_id)},
        headers={**headers, "Accept": "application/octet-stream"},
    )
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.content == xlsx.content or raw.content[:2] == b"PK"
    assert raw.headers["content-disposition"].startswith("attachment; filename=")


async def test_token_answers_are_never_cached(client: httpx.AsyncClient, db: AsyncSession) -> None:
    user = await make_user(db, Role.DISTRICT_ADMIN, await make_district(db))
    await db.commit()
    form = {"grant_type": "password", "username": user.username}
    good = await client.post("/oauth/token", data={**form, "password": PASSWORD})
    assert good.status_code == 200
    bad = await client.post("/oauth/token", data={**form, "password": "wrong"})
    invalid = await client.post("/oauth/token", data={"grant_type": "nonsense"})
    for response in (good, bad, invalid):
        assert response.headers["cache-control"] == "no-store", response.status_code
        assert response.headers["pragma"] == "no-cache", response.status_code
    assert bad.status_code in (400, 401)
    assert invalid.status_code == 422
    assert "no-store" not in (await client.get("/healthz")).headers.get("cache-control", "")


async def test_no_literal_path_is_taken_by_an_id_sibling(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    """Walk the routes: wherever `/x/{id}` would match a literal `/x/word`, the methods only the former
    answers are 405 at the latter, with `Allow` naming the literal path's own methods."""
    from fastapi.routing import iter_route_contexts
    from starlette.routing import compile_path

    from services.api.app import create_app
    from services.api.routing import METHODS

    _, headers = await _admin(client, db)
    methods: dict[str, set[str]] = {}
    for context in iter_route_contexts(create_app(settings).routes):
        if context.path_format and context.methods and context.original_route.include_in_schema:
            methods.setdefault(context.path_format, set()).update(context.methods)
    checked = 0
    for literal, own in methods.items():
        if "{" in literal:
            continue
        for other, theirs in methods.items():
            if other != literal and compile_path(other)[0].match(literal):
                for method in sorted((theirs | {"DELETE", "PUT"}) - own):
                    answer = await client.request(method, literal, headers=headers)
                    assert answer.status_code == 405, f"{method} {literal}: {answer.status_code}"
                    assert set(answer.headers["allow"].split(", ")) == own, f"{method} {literal}"
                    checked += 1
    assert checked >= 10
    assert METHODS >= {"GET", "POST", "PATCH", "DELETE", "PUT"}
