"""Bad input gets a clear 4xx problem+json naming the field, never a 500, and nothing is half-written."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.accounts.models import User
from services.core.org.models import OrgUnit
from services.core.security.roles import Role
from tests.api.test_auth import assert_problem
from tests.factories import auth_headers, make_child, make_district, make_user


@pytest.fixture
async def admin(client: httpx.AsyncClient, db: AsyncSession) -> tuple[OrgUnit, dict[str, str]]:
    district = await make_district(db)
    user = await make_user(db, Role.DISTRICT_ADMIN, district)
    return district, await auth_headers(client, user)


async def test_malformed_json_is_400_malformed_json(
    client: httpx.AsyncClient, admin: tuple[OrgUnit, dict[str, str]]
) -> None:
    _, headers = admin
    response = await client.post(
        "/org-units", content=b'{"parent_id": ', headers={**headers, "Content-Type": "application/json"}
    )
    assert_problem(response, 400, "malformed_json")


async def test_wrong_types_name_the_field(client: httpx.AsyncClient, admin: tuple[OrgUnit, dict[str, str]]) -> None:
    district, headers = admin
    response = await client.post(
        "/org-units", json={"parent_id": str(district.id), "code": 500112001000, "name": ["x"]}, headers=headers
    )
    body = assert_problem(response, 422, "validation_error")
    fields = {e["field"] for e in body["errors"]}  # type: ignore[attr-defined]
    assert {"body.code", "body.name"} <= fields


async def test_unknown_fields_are_refused(client: httpx.AsyncClient, admin: tuple[OrgUnit, dict[str, str]]) -> None:
    district, headers = admin
    response = await client.post(
        "/org-units",
        json={"parent_id": str(district.id), "code": "500112001000", "name": "双龙湖街道", "population": 5},
        headers=headers,
    )
    body = assert_problem(response, 422, "validation_error")
    assert [e["field"] for e in body["errors"]] == ["body.population"]  # type: ignore[attr-defined]


async def test_oversized_body_is_413(client: httpx.AsyncClient, admin: tuple[OrgUnit, dict[str, str]]) -> None:
    _, headers = admin
    big = b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    response = await client.post("/org-units", content=big, headers={**headers, "Content-Type": "application/json"})
    assert_problem(response, 413, "payload_too_large")


async def test_oversized_body_without_content_length_is_413(
    client: httpx.AsyncClient, admin: tuple[OrgUnit, dict[str, str]]
) -> None:
    _, headers = admin

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * (64 * 1024)

    response = await client.post(
        "/org-units", content=chunks(), headers={**headers, "Content-Type": "application/json"}
    )
    assert_problem(response, 413, "payload_too_large")


@pytest.mark.parametrize(
    ("code", "message_part"),
    [
        ("500112", "exactly 12 digits"),  # a district's length for a town
        ("5001120010000", "exactly 12 digits"),
        ("50011200100a", "exactly 12 digits"),
        ("500113001000", "must extend its parent's code"),  # another district's prefix
        ("500112001001", "followed by 000"),  # a village code given for a town
        ("500112000000", "followed by 000"),
        ("５００１１２００１０００", "exactly 12 digits"),  # full-width digits
    ],
)
async def test_invalid_town_codes_are_422_naming_the_code(
    client: httpx.AsyncClient, db: AsyncSession, admin: tuple[OrgUnit, dict[str, str]], code: str, message_part: str
) -> None:
    district, headers = admin
    before = await db.scalar(select(func.count()).select_from(OrgUnit))
    response = await client.post(
        "/org-units", json={"parent_id": str(district.id), "code": code, "name": "镇"}, headers=headers
    )
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["field"] == "body.code"  # type: ignore[index]
    assert message_part in body["errors"][0]["message"]  # type: ignore[index]
    assert await db.scalar(select(func.count()).select_from(OrgUnit)) == before


async def test_a_user_with_one_bad_grant_is_not_half_created(
    client: httpx.AsyncClient, db: AsyncSession, admin: tuple[OrgUnit, dict[str, str]]
) -> None:
    district, headers = admin
    town = await make_child(db, district)
    response = await client.post(
        "/users",
        headers=headers,
        json={
            "username": "half.made",
            "display_name": "半成品",
            "secret": "a-long-enough-secret",
            "org_unit_id": str(town.id),
            "grants": [
                {"role": "town_supervisor", "org_unit_id": str(town.id)},
                {"role": "his_client", "org_unit_id": str(town.id)},
            ],  # a system role for a person
        },
    )
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["field"] == "body.grants.1.role"  # type: ignore[index]
    assert await db.scalar(select(func.count()).select_from(User).where(User.username == "half.made")) == 0


async def test_unknown_route_and_method_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/no-such-thing"), 404, "not_found")
    assert_problem(await client.delete("/healthz"), 405, "method_not_allowed")


async def test_bad_ids_and_cursors_are_422(client: httpx.AsyncClient, admin: tuple[OrgUnit, dict[str, str]]) -> None:
    _, headers = admin
    body = assert_problem(await client.get("/org-units/not-a-uuid", headers=headers), 422, "validation_error")
    assert body["errors"][0]["field"] == "path.unit_id"  # type: ignore[index]
    body = assert_problem(await client.get("/org-units?cursor=%%%garbage", headers=headers), 422, "validation_error")
    assert body["errors"][0]["field"] == "query.cursor"  # type: ignore[index]


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).headers["x-request-id"]
    echoed = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    unsafe = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert unsafe.headers["x-request-id"] != "bad id\twith spaces"
    problem = await client.get("/me")
    assert problem.json()["request_id"] == problem.headers["x-request-id"]


@pytest.mark.parametrize("bad", ["a\u0000b", "tab\u0007bell", "\u001b[31mred"])
async def test_control_characters_are_422_naming_the_field(
    client: httpx.AsyncClient, db: AsyncSession, admin: tuple[OrgUnit, dict[str, str]], bad: str
) -> None:
    district, headers = admin
    response = await client.post(
        "/org-units", headers=headers, json={"parent_id": str(district.id), "code": "500112001000", "name": bad}
    )
    assert assert_problem(response, 422, "validation_error")["errors"][0]["field"] == "body.name"  # type: ignore[index]
    listed = await client.get("/org-units", headers=headers, params={"q": bad})
    assert assert_problem(listed, 422, "validation_error")["errors"][0]["field"] == "query.q"  # type: ignore[index]
    login = await client.post("/oauth/token", data={"grant_type": "password", "username": bad, "password": "x"})
    assert_problem(login, 422, "validation_error")
