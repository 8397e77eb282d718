"""Residents over HTTP: identity checks, protection at rest, masking and audit, duplicates, safe writes."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from openpyxl import Workbook
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.cn import ric

from services.core import clock
from services.core.audit.models import AuditEvent
from services.core.org.models import OrgUnit
from services.core.residents.models import KeyPopulation, Resident
from services.core.security.roles import Role
from tests.api.test_auth import assert_problem
from tests.factories import auth_headers, make_child, make_district, make_resident, make_user, resident_id_number


def with_check(body17: str) -> str:
    """An 18-character ID whose check character is right for its first 17."""
    return body17 + ric.calc_check_digit(body17 + "0")


class Area:
    """The units of one chain, with ids and codes read once (a failed request expires ORM objects)."""

    def __init__(self, district: OrgUnit, town: OrgUnit, village: OrgUnit, grid: OrgUnit) -> None:
        self.district, self.town, self.village, self.grid = district, town, village, grid
        self.grid_id, self.grid_code, self.village_id = grid.id, grid.code, village.id


@pytest.fixture
async def area(db: AsyncSession) -> Area:
    district = await make_district(db)
    town = await make_child(db, district, number=1)
    village = await make_child(db, town, number=1)
    grid = await make_child(db, village, number=1)
    await db.commit()
    return Area(district, town, village, grid)


async def headers_for(client: httpx.AsyncClient, db: AsyncSession, role: Role, unit: OrgUnit) -> dict[str, str]:
    return await auth_headers(client, await make_user(db, role, unit))


async def saved(db: AsyncSession, resident: Resident) -> uuid.UUID:
    """Commit the fixture data (a later failed request rolls back only its own work) and return the id."""
    rid = resident.id
    await db.commit()
    return rid


def new_body(area: Area, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "grid_id": str(area.grid_id),
        "name": "李四",
        "id_number": resident_id_number(date(1956, 3, 8), male=False),
        "phone": "+86 138-0013-8000",
        "address": "幸福路 8 号",
    }
    body.update(over)
    return body


async def test_create_stores_no_plaintext_and_answers_masked(
    client: httpx.AsyncClient, db: AsyncSession, area: Area
) -> None:
    headers = await headers_for(client, db, Role.TEAM_MEMBER, area.village)
    number = with_check("50011219560308002")
    response = await client.post("/residents", json=new_body(area, id_number=number.lower()), headers=headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id_number_masked"] == number[:4] + "*" * 10 + number[-4:]
    assert body["phone_masked"] == "138****8000"
    assert body["sex"] == "female"
    assert body["birth_on"] == "1956-03-08"
    assert number not in response.text
    assert "13800138000" not in response.text

    raw = (
        await db.execute(
            text("select resident::text, id_number_enc, phone_enc, id_number_bidx from resident where id = :id"),
            {"id": body["id"]},
        )
    ).one()
    row_text, *blobs = raw
    for secret in (number, "13800138000"):
        assert secret not in row_text
    for secret in (number, "13800138000", number[6:14], "38000138"):
        for blob in blobs:
            assert secret.encode() not in bytes(blob)
    audit_text = (
        await db.execute(text("select coalesce(string_agg(details::text, ' '), '') from audit_event"))
    ).scalar()
    assert number not in audit_text
    assert "13800138000" not in audit_text


async def test_full_width_digits_and_lower_x_are_normalised(
    client: httpx.AsyncClient, db: AsyncSession, area: Area
) -> None:
    headers = await headers_for(client, db, Role.TEAM_MEMBER, area.village)
    number = next(n for n in (with_check(f"50011219800517{i:03d}") for i in range(200)) if n.endswith("X"))
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in number[:-1]) + "ｘ"
    response = await client.post("/residents", json=new_body(area, id_number=f" {full_width} "), headers=headers)
    assert response.status_code == 201, response.text
    identity = await client.get(f"/residents/{response.json()['id']}/identity", headers=headers)
    assert identity.json()["id_number"] == number
    assert identity.json()["phone"] == "13800138000"


@pytest.mark.parametrize(
    ("label", "number"),
    [
        ("wrong check character", "500112195603080020" if with_check("50011219560308002") != "0" else ""),
        ("31 February", with_check("50011219900231001")),
        ("a future date", with_check("50011220990101001")),
        ("17 digits", "50011219560308002"),
    ],
)
async def test_bad_resident_ids_are_422_naming_the_field(
    client: httpx.AsyncClient, db: AsyncSession, area: Area, label: str, number: str
) -> None:
    good = with_check("50011219560308002")
    if label == "wrong check character":
        number = good[:-1] + ("1" if good[-1] != "1" else "2")
    headers = await headers_for(client, db, Role.TEAM_MEMBER, area.village)
    response = await client.post("/residents", json=new_body(area, id_number=number), headers=headers)
    body = assert_problem(response, 422, "validation_error")
    assert "body.id_number" in [e["field"] for e in body["errors"]], (label, body)  # type: ignore[attr-defined]
    assert number not in response.text
    assert await db.scalar(select(func.count()).select_from(Resident)) == 0


async def test_sex_and_birth_date_must_agree_with_the_id(
    client: httpx.AsyncClient, db: AsyncSession, area: Area
) -> None:
    headers = await headers_for(client, db, Role.TEAM_MEMBER, area.village)
    number = resident_id_number(date(1956, 3, 8), male=False)
    response = await client.post(
        "/residents", json=new_body(area, id_number=number, sex="male", birth_on="1956-03-09"), headers=headers
    )
    body = assert_problem(response, 422, "validation_error")
    assert {e["field"] for e in body["errors"]} == {"body.sex", "body.birth_on"}  # type: ignore[attr-defined]


@pytest.mark.parametrize("phone", ["12345", "1381234567", "+1 415 555 0100", "23812345678"])
async def test_bad_phones_are_422_naming_the_field(
    client: httpx.AsyncClient, db: AsyncSession, area: Area, phone: str
) -> None:
    headers = await headers_for(client, db, Role.TEAM_MEMBER, area.village)
    response = await client.post("/residents", json=new_body(area, phone=phone), headers=headers)
    body = assert_problem(response, 422, "validation_error")
    assert [e["field"] for e in body["errors"]] == ["body.phone"]  # type: ignore[attr-defined]


async def test_duplicate_id_number_is_409_with_a_link(client: httpx.AsyncClient, db: AsyncSession, area: Area) -> None:
    headers = await headers_for(client, db, Role.TEAM_MEMBER, area.village)
    first = await client.post("/residents", json=new_body(area), headers=headers)
    other_grid = await make_child(db, area.village, number=2)
    other_grid_id = other_grid.id
    await db.commit()
    again = await client.post(
        "/residents",
        json=new_body(area, grid_id=str(other_grid_id), name="李四四", id_number=first.json()["id_number_masked"]),
        headers=headers,
    )
    assert_problem(again, 422, "validation_error")  # a masked number is not a number
    body = new_body(area, grid_id=str(other_grid_id), name="李四四")
    body["id_number"] = (await client.get(f"/residents/{first.json()['id']}/identity", headers=headers)).json()[
        "id_number"
    ]
    duplicate = await client.post("/residents", json=body, headers=headers)
    problem = assert_problem(duplicate, 409, "already_exists")
    assert problem["existing_id"] == first.json()["id"]
    assert problem["existing"] == f"/residents/{first.json()['id']}"


async def test_possible_duplicate_without_id_needs_confirmation(
    client: httpx.AsyncClient, db: AsyncSession, area: Area
) -> None:
    headers = await headers_for(client, db, Role.TEAM_MEMBER, area.village)
    body = {"grid_id": str(area.grid_id), "name": "王五", "birth_on": "1950-01-02", "sex": "male"}
    first = await client.post("/residents", json=body, headers=headers)
    assert first.status_code == 201, first.text
    second = await client.post("/residents", json=body, headers=headers)
    problem = assert_problem(second, 409, "possible_duplicate")
    assert problem["candidates"] == [f"/residents/{first.json()['id']}"]
    confirmed = await client.post("/residents", json={**body, "confirm_not_duplicate": True}, headers=headers)
    assert confirmed.status_code == 201, confirmed.text


async def test_masking_per_role_and_one_audit_row_per_full_read(
    client: httpx.AsyncClient, db: AsyncSession, area: Area
) -> None:
    sentinel = await make_user(db, Role.SENTINEL, area.grid)
    resident = await make_resident(db, area.grid, phone="13912345678", reported_by=sentinel.id)
    rid = await saved(db, resident)
    member = await headers_for(client, db, Role.TEAM_MEMBER, area.village)
    admin = await headers_for(client, db, Role.DISTRICT_ADMIN, area.district)
    supervisor = await headers_for(client, db, Role.TOWN_SUPERVISOR, area.town)
    sentinel_headers = await auth_headers(client, sentinel)

    for headers in (member, admin, supervisor):
        read = (await client.get(f"/residents/{rid}", headers=headers)).json()
        assert read["phone_masked"] == "139****5678"
        assert read["view"] == "care"
    seen = (await client.get(f"/residents/{rid}", headers=sentinel_headers)).json()
    assert seen["view"] == "sentinel"
    assert (seen["phone_masked"], seen["birth_on"], seen["sex"], seen["household_code"]) == (None, None, None, None)
    assert seen["id_number_masked"].count("*") == 10

    async def reads() -> int:
        return int(
            await db.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "resident.identity_read", AuditEvent.subject_id == rid)
            )
            or 0
        )

    for headers in (admin, supervisor, sentinel_headers):
        refused = await client.get(f"/residents/{rid}/identity", headers=headers)
        assert_problem(refused, 403, "identity_not_permitted")
    assert await reads() == 0
    full = await client.get(f"/residents/{rid}/identity", headers=member)
    assert full.status_code == 200
    assert full.json()["phone"] == "13912345678"
    assert full.headers["cache-control"] == "no-store"
    assert await reads() == 1
    await client.get(f"/residents/{rid}/identity", headers=member)
    assert await reads() == 2
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "resident.identity_read").limit(1))
    assert event is not None
    assert "13912345678" not in json.dumps(event.details)


async def test_client_id_replay_and_idempotency_key(client: httpx.AsyncClient, db: AsyncSession, area: Area) -> None:
    headers = await headers_for(client, db, Role.TEAM_MEMBER, area.village)
    body = new_body(area, id=str(uuid.uuid4()))
    first = await client.post("/residents", json=body, headers=headers)
    assert first.status_code == 201
    replay = await client.post("/residents", json=body, headers=headers)
    assert replay.status_code == 200
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == body["id"]
    changed = await client.post("/residents", json={**body, "name": "别人"}, headers=headers)
    assert_problem(changed, 409, "conflict")

    keyed = {**headers, "Idempotency-Key": "create-42"}
    body2 = new_body(area, id_number=resident_id_number(date(1970, 1, 1)))
    one = await client.post("/residents", json=body2, headers=keyed)
    two = await client.post("/residents", json=body2, headers=keyed)
    # A replay answers 200, like every other repeated create (it was 201, the first answer's status).
    assert (one.status_code, two.status_code) == (201, 200)
    assert "idempotent-replayed" not in one.headers
    assert two.headers["idempotent-replayed"] == "true"
    assert one.json()["id"] == two.json()["id"]
    other = await client.post("/residents", json={**body2, "name": "别人"}, headers=keyed)
    assert_problem(other, 422, "idempotency_key_reused")
    assert await db.scalar(select(func.count()).select_from(Resident)) == 2


async def test_updates_need_if_match(client: httpx.AsyncClient, db: AsyncSession, area: Area) -> None:
    headers = await headers_for(client, db, Role.TEAM_MEMBER, area.village)
    rid = await saved(db, await make_resident(db, area.grid))
    missing = await client.patch(f"/residents/{rid}", json={"address": "新地址"}, headers=headers)
    assert_problem(missing, 428, "if_match_required")
    ok = await client.patch(
        f"/residents/{rid}",
        json={"address": "新地址", "phone": "021-62345678"},
        headers={**headers, "If-Match": '"1"'},
    )
    assert ok.status_code == 200, ok.text
    assert ok.headers["etag"] == '"2"'
    assert ok.json()["phone_masked"] == "021-******78"
    stale = await client.patch(f"/residents/{rid}", json={"address": "旧"}, headers={**headers, "If-Match": '"1"'})
    assert_problem(stale, 412, "version_mismatch")


async def test_a_death_is_recorded_with_a_real_date_and_a_wrong_one_is_422_naming_the_field(
    client: httpx.AsyncClient, db: AsyncSession, area: Area
) -> None:
    headers = {**await headers_for(client, db, Role.TEAM_MEMBER, area.village), "If-Match": '"1"'}
    rid = await saved(db, await make_resident(db, area.grid, birth_on=date(1950, 5, 1)))
    for died_on, message in (("1949-12-31", "before the birth date"), ("2999-01-01", "in the future")):
        refused = await client.patch(f"/residents/{rid}", json={"died_on": died_on}, headers=headers)
        assert_problem(refused, 422, "validation_error")
        assert [e["field"] for e in refused.json()["errors"]] == ["body.died_on"]
        assert message in refused.json()["errors"][0]["message"]
    for garbage in ("yesterday", 20260101):
        refused = await client.patch(f"/residents/{rid}", json={"died_on": garbage}, headers=headers)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "body.died_on"
    died = await client.patch(f"/residents/{rid}", json={"died_on": "2026-01-02"}, headers=headers)
    assert died.status_code == 200, died.text
    assert died.json()["died_on"] == "2026-01-02"
    assert died.headers["etag"] == '"2"'


async def test_key_population_tags_are_checked_and_listed(
    client: httpx.AsyncClient, db: AsyncSession, area: Area
) -> None:
    headers = await headers_for(client, db, Role.TEAM_MEMBER, area.village)
    await make_resident(db, area.grid, name="没有标签")
    man_id = await saved(db, await make_resident(db, area.grid, birth_on=date(1950, 6, 1), sex="male"))
    pregnant = await client.post(
        f"/residents/{man_id}/tags",
        json={"population": "pregnant_postpartum", "since_on": "2024-01-01", "source": "clinic"},
        headers=headers,
    )
    assert_problem(pregnant, 422, "validation_error")
    child = await client.post(
        f"/residents/{man_id}/tags",
        json={"population": "children_0_6", "since_on": "2024-01-01", "source": "clinic"},
        headers=headers,
    )
    assert [e["field"] for e in child.json()["errors"]] == ["body.since_on"]
    young = await client.post(
        f"/residents/{man_id}/tags",
        json={"population": "elderly_65_plus", "since_on": "2014-01-01", "source": "clinic"},
        headers=headers,
    )
    assert_problem(young, 422, "validation_error")
    elderly = await client.post(
        f"/residents/{man_id}/tags",
        json={"population": "elderly_65_plus", "since_on": "2015-06-01", "source": "clinic"},
        headers=headers,
    )
    assert elderly.status_code == 201, elderly.text
    assert elderly.json()["version"] == 2
    listed = await client.get(f"/residents?org_unit_id={area.village_id}&population=elderly_65_plus", headers=headers)
    assert [r["id"] for r in listed.json()["items"]] == [str(man_id)]
    tag = elderly.json()["tags"][0]
    ended = await client.patch(
        f"/residents/{man_id}/tags/{tag['id']}", json={"until_on": "2025-01-01"}, headers={**headers, "If-Match": '"1"'}
    )
    assert ended.status_code == 200, ended.text
    listed = await client.get(f"/residents?org_unit_id={area.grid_id}&population=elderly_65_plus", headers=headers)
    assert listed.json()["items"] == []


async def test_lookup_by_id_number_is_for_the_care_team_and_audited(
    client: httpx.AsyncClient, db: AsyncSession, area: Area
) -> None:
    member = await make_user(db, Role.TEAM_MEMBER, area.village)
    member_id = member.id
    headers = await auth_headers(client, member)
    supervisor = await headers_for(client, db, Role.TOWN_SUPERVISOR, area.town)
    number = resident_id_number(date(1960, 2, 2))
    rid = await saved(db, await make_resident(db, area.grid, id_number=number))
    found = await client.post("/residents/lookup", json={"id_number": number.lower()}, headers=headers)
    assert [r["id"] for r in found.json()["items"]] == [str(rid)]
    audited = await db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "resident.looked_up", AuditEvent.actor_id == member_id)
    )
    assert audited == 1
    bad = await client.post("/residents/lookup", json={"id_number": "123"}, headers=headers)
    assert_problem(bad, 422, "validation_error")
    # A supervisor sees identity masked: a lookup would let it confirm guesses of the hidden digits.
    refused = await client.post("/residents/lookup", json={"id_number": number}, headers=supervisor)
    assert_problem(refused, 403, "identity_not_permitted")


async def test_masked_roles_get_the_birth_year_not_the_date(
    client: httpx.AsyncClient, db: AsyncSession, area: Area
) -> None:
    rid = await saved(db, await make_resident(db, area.grid, birth_on=date(1961, 7, 9)))
    supervisor = await headers_for(client, db, Role.TOWN_SUPERVISOR, area.town)
    seen = (await client.get(f"/residents/{rid}", headers=supervisor)).json()
    assert (seen["birth_on"], seen["birth_year"]) == (None, 1961)
    member = await headers_for(client, db, Role.TEAM_MEMBER, area.village)
    assert (await client.get(f"/residents/{rid}", headers=member)).json()["birth_on"] == "1961-07-09"


async def test_a_number_held_outside_the_area_is_refused_without_saying_where(
    client: httpx.AsyncClient, db: AsyncSession, area: Area
) -> None:
    other_town = await make_child(db, area.district, number=2)
    other_grid = await make_child(db, await make_child(db, other_town, number=1), number=1)
    number = resident_id_number(date(1970, 3, 3))
    holder = await saved(db, await make_resident(db, other_grid, id_number=number))
    headers = await headers_for(client, db, Role.TEAM_MEMBER, area.village)
    response = await client.post(
        "/residents",
        headers=headers,
        json={"grid_id": str(area.grid_id), "name": "李四", "id_type": "01", "id_number": number},
    )
    body = assert_problem(response, 409, "already_exists")
    assert str(holder) not in response.text
    assert "existing_id" not in body


async def test_the_refusal_of_a_number_held_outside_the_area_leaves_an_audit_trace(
    client: httpx.AsyncClient, db: AsyncSession, area: Area
) -> None:
    other_town = await make_child(db, area.district, number=2)
    other_grid = await make_child(db, await make_child(db, other_town, number=1), number=1)
    number = resident_id_number(date(1970, 3, 3))
    holder = await saved(db, await make_resident(db, other_grid, id_number=number))
    mine = await saved(db, await make_resident(db, area.grid))
    member = await make_user(db, Role.TEAM_MEMBER, area.village)
    member_id = member.id
    headers = await auth_headers(client, member)
    created = await client.post(
        "/residents",
        headers=headers,
        json={"grid_id": str(area.grid_id), "name": "李四", "id_type": "01", "id_number": number},
    )
    assert_problem(created, 409, "already_exists")
    updated = await client.patch(
        f"/residents/{mine}", json={"id_number": number}, headers={**headers, "If-Match": '"1"'}
    )
    assert_problem(updated, 409, "already_exists")
    traces = (
        await db.execute(
            select(AuditEvent.actor_id, AuditEvent.subject_id).where(AuditEvent.action == "resident.identity_conflict")
        )
    ).all()
    assert traces == [(member_id, holder), (member_id, holder)], "each refused attempt is on the record"
    row = (await db.execute(select(Resident.name, Resident.version).where(Resident.id == mine))).one()
    assert tuple(row) == ("张三", 1), "only the trace is kept, nothing else the request did"
    assert await db.scalar(select(func.count()).select_from(Resident)) == 2


async def test_import_refuses_the_birth_dates_a_create_refuses(
    client: httpx.AsyncClient, db: AsyncSession, area: Area
) -> None:
    clock.freeze(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    headers = await headers_for(client, db, Role.DISTRICT_ADMIN, area.district)
    for birth_on in ("2028-01-03", "1850-06-01"):
        response = await client.post(
            "/residents", json=new_body(area, id_number=None, phone=None, birth_on=birth_on), headers=headers
        )
        assert response.status_code == 422, (birth_on, response.text)
    rows = [
        {"grid_code": area.grid_code, "name": "未来", "birth_on": "2028-01-03"},
        {"grid_code": area.grid_code, "name": "古人", "birth_on": "1850-06-01"},
        {"grid_code": area.grid_code, "name": "古号", "id_number": resident_id_number(date(1850, 6, 1))},
        {"grid_code": area.grid_code, "name": "今人", "birth_on": "1990-01-01"},
    ]
    content = "\n".join(json.dumps(r) for r in rows)
    answer = await client.post(
        "/residents/imports", files={"file": ("r.jsonl", content, "application/x-ndjson")}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["created"] == 1
    errors = [(e["row"], e["field"]) for e in answer.json()["errors"]]
    assert errors == [(1, "birth_on"), (2, "birth_on"), (3, "id_number")]
    assert await db.scalar(select(func.count()).select_from(Resident)) == 1


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_import_xlsx_reports_row_errors_and_is_idempotent(
    client: httpx.AsyncClient, db: AsyncSession, area: Area
) -> None:
    headers = await headers_for(client, db, Role.DISTRICT_ADMIN, area.district)
    good = resident_id_number(date(1945, 4, 4))
    content = _xlsx(
        [
            ["grid_code", "name", "id_number", "phone", "birth_on", "tags"],
            [area.grid_code, "赵一", good, "13700000001", None, "elderly_65_plus, hypertension"],
            [area.grid_code, "钱二", with_check("50011219900231001"), None, None, None],
            [area.grid_code, "孙三", None, "12", date(1990, 1, 1), None],
            ["500112999999999", "李四", None, None, date(1990, 1, 1), None],
            [area.grid_code, "周五", None, None, date(1991, 1, 1), "children_0_6"],
            [area.grid_code, "吴六", None, None, date(1992, 2, 2), None],
        ]
    )
    files = {"file": ("residents.xlsx", content, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}
    first = await client.post("/residents/imports", files=files, headers=headers)
    assert first.status_code == 200, first.text
    summary = first.json()
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (2, 0, 0)
    assert sorted((e["row"], e["field"]) for e in summary["errors"]) == [
        (2, "id_number"),
        (3, "phone"),
        (4, "grid_code"),
        (5, "tags.0.since_on"),
    ]
    again = await client.post("/residents/imports", files=files, headers=headers)
    assert (again.json()["created"], again.json()["updated"], again.json()["unchanged"]) == (0, 0, 2)
    lines = "\n".join(
        [
            json.dumps({"grid_code": area.grid_code, "name": "赵一", "id_number": good, "address": "新地址"}),
            "not json",
            json.dumps({"grid_code": area.grid_code, "name": "吴六", "birth_on": "1992-02-02"}),
        ]
    )
    jsonl = await client.post(
        "/residents/imports", files={"file": ("r.jsonl", lines.encode(), "application/x-ndjson")}, headers=headers
    )
    assert jsonl.status_code == 200, jsonl.text
    assert (jsonl.json()["created"], jsonl.json()["updated"], jsonl.json()["unchanged"]) == (0, 1, 1)
    assert [(e["row"], e["field"]) for e in jsonl.json()["errors"]] == [(2, "row")]
    assert await db.scalar(select(func.count()).select_from(Resident)) == 2
    assert good not in first.text


async def test_auditor_queries_the_trail_by_resident_actor_and_time(
    client: httpx.AsyncClient, db: AsyncSession, area: Area
) -> None:
    member_user = await make_user(db, Role.TEAM_MEMBER, area.village)
    member = await auth_headers(client, member_user)
    created = await client.post("/residents", json=new_body(area), headers=member)
    rid = created.json()["id"]
    await client.get(f"/residents/{rid}/identity", headers=member)
    auditor = await headers_for(client, db, Role.AUDITOR, area.district)
    trail = await client.get(f"/audit-events?subject_id={rid}&limit=1", headers=auditor)
    assert trail.status_code == 200, trail.text
    assert [e["action"] for e in trail.json()["items"]] == ["resident.identity_read"]
    rest = await client.get(f"/audit-events?subject_id={rid}&cursor={trail.json()['next_cursor']}", headers=auditor)
    assert [e["action"] for e in rest.json()["items"]] == ["resident.created"]
    by_actor = await client.get(f"/audit-events?actor_id={member_user.id}", headers=auditor)
    assert {e["subject_id"] for e in by_actor.json()["items"]} == {rid}
    future = await client.get("/audit-events?occurred_from=2999-01-01T00:00:00Z", headers=auditor)
    assert future.json()["items"] == []
    assert (await client.get("/audit-events", headers=member)).status_code == 403


async def test_a_sentinel_cannot_find_residents_by_a_tag_it_did_not_report(
    client: httpx.AsyncClient, db: AsyncSession, area: Area
) -> None:
    sentinel = await make_user(db, Role.SENTINEL, area.grid)
    sentinel_id = sentinel.id
    await make_resident(db, area.grid, name="甲", tags=(KeyPopulation.HIV_AIDS,))  # a clinic's tag
    await make_resident(db, area.grid, name="乙", tags=(KeyPopulation.ELDERLY_65_PLUS,), reported_by=sentinel_id)
    headers = await auth_headers(client, sentinel)
    hidden = await client.get("/residents?population=hiv_aids", headers=headers)
    assert hidden.json()["items"] == []
    own = await client.get("/residents?population=elderly_65_plus", headers=headers)
    assert [r["name"] for r in own.json()["items"]] == ["乙"]


async def test_a_thinner_re_import_keeps_what_its_rows_leave_out(
    client: httpx.AsyncClient, db: AsyncSession, area: Area
) -> None:
    headers = await headers_for(client, db, Role.DISTRICT_ADMIN, area.district)
    number = resident_id_number(date(1950, 6, 6))
    full = json.dumps(
        {
            "grid_code": area.grid_code,
            "name": "郑七",
            "id_number": number,
            "phone": "13700000007",
            "address": "幸福路 7 号",
        }
    )
    thin = json.dumps({"grid_code": area.grid_code, "name": "郑七", "id_number": number})
    for content in (full, thin):
        answer = await client.post(
            "/residents/imports", files={"file": ("r.jsonl", content, "application/x-ndjson")}, headers=headers
        )
        assert answer.status_code == 200, answer.text
    assert answer.json()["errors"] == []
    row = (await db.execute(select(Resident.phone_masked, Resident.address).where(Resident.name == "郑七"))).one()
    assert tuple(row) == ("137****0007", "幸福路 7 号")


async def test_an_import_row_with_a_control_character_is_refused_alone(
    client: httpx.AsyncClient, db: AsyncSession, area: Area
) -> None:
    headers = await headers_for(client, db, Role.DISTRICT_ADMIN, area.district)
    rows = [
        {"grid_code": area.grid_code, "name": "王\u0000八", "birth_on": "1990-01-01"},
        {"grid_code": area.grid_code, "name": "冯九", "birth_on": "1990-01-01"},
    ]
    content = "\n".join(json.dumps(r) for r in rows)
    answer = await client.post(
        "/residents/imports", files={"file": ("r.jsonl", content, "application/x-ndjson")}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["created"] == 1
    assert [e["row"] for e in answer.json()["errors"]] == [1]
