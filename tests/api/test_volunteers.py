"""Volunteers over the API: registered and paired with a social worker (双工), a shift scheduled and
attended, hours submitted by the volunteer and verified by the social worker, totals per period with
"not logged" (null) distinct from 0, the .xlsx workbook, what the supervisor should chase, group work."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import openpyxl
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.security.roles import Role
from services.core.teams.models import InstitutionKind
from tests.api.test_auth import assert_problem
from tests.factories import (
    auth_headers,
    make_department,
    make_institution,
    make_social_worker,
    make_user,
    snapshot,
)
from tests.org_world import build_world

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in China, Monday 2 March 2026


def _fields(response: httpx.Response) -> list[Any]:
    assert response.status_code == 422, response.text
    return [e["field"] for e in response.json()["errors"]]


def _version(response: httpx.Response) -> dict[str, str]:
    return {"If-Match": response.headers["ETag"]}


async def _department_world(db: AsyncSession) -> dict[str, Any]:
    world = await build_world(db)
    hospital = await make_institution(db, world.district, kind=InstitutionKind.DISTRICT_HOSPITAL)
    department = await make_department(db, hospital)
    people = {
        "world": world,
        "hospital": hospital,
        "department": department,
        "sw": await make_social_worker(db, department),
        "sw2": await make_social_worker(db, department),
        "supervisor": await make_social_worker(db, department, role=Role.SOCIAL_WORK_SUPERVISOR),
        "volunteer_login": await make_social_worker(db, department, role=Role.VOLUNTEER),
        "town_supervisor": await make_user(db, Role.TOWN_SUPERVISOR, world.town_a),
    }
    await db.commit()
    people = {k: v if isinstance(v, SimpleNamespace) or k == "world" else snapshot(v) for k, v in people.items()}
    ids = {name: value.id for name, value in people.items() if hasattr(value, "id")}
    return people | {"ids": ids}


async def _headers(client: httpx.AsyncClient, w: dict[str, Any], *names: str) -> list[dict[str, str]]:
    return [await auth_headers(client, w[name]) for name in names]


async def test_volunteer_hours_go_from_a_scheduled_shift_to_verified_and_total_per_period(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    clock.freeze(T0)
    w = await _department_world(db)
    ids = w["ids"]
    sw, volunteer, supervisor = await _headers(client, w, "sw", "volunteer_login", "supervisor")
    registered = await client.post(
        "/volunteers",
        json={
            "department_id": str(ids["department"]),
            "name": "李志愿",
            "skills": ["guidance", "accompaniment"],
            "certificates": [
                {"name": "红十字救护员证", "number": "HS-001", "expires_on": "2027-06-30"},
                {"name": "心理咨询培训证", "expires_on": "2026-01-31"},
            ],
            "availability": ["mon_am", "sat_pm"],
            "paired_user_id": str(ids["sw"]),
            "user_id": str(ids["volunteer_login"]),
        },
        headers=sw,
    )
    assert registered.status_code == 201, registered.text
    me = registered.json()
    assert [c["expired"] for c in me["certificates"]] == [False, True]
    quiet = await client.post(
        "/volunteers", json={"department_id": str(ids["department"]), "name": "王未登记"}, headers=sw
    )
    assert quiet.status_code == 201, quiet.text

    offered = await client.post(
        "/volunteer-shifts",
        json={
            "department_id": str(ids["department"]),
            "title": "门诊导诊",
            "place": "门诊大厅",
            "starts_at": (T0 + timedelta(hours=1)).isoformat(),
            "ends_at": (T0 + timedelta(hours=4)).isoformat(),
        },
        headers=sw,
    )
    assert offered.status_code == 201, offered.text
    assert offered.json()["status"] == "offered"
    shift = f"/volunteer-shifts/{offered.json()['id']}"
    scheduled = await client.post(f"{shift}/schedule", json={"volunteer_id": me["id"]}, headers=sw | _version(offered))
    assert scheduled.json()["status"] == "scheduled", scheduled.text
    early = await client.post(f"{shift}/attend", json={}, headers=sw | _version(scheduled))
    assert_problem(early, 409, "shift_not_started")
    clock.advance(timedelta(hours=2))
    sw, volunteer, supervisor = await _headers(client, w, "sw", "volunteer_login", "supervisor")  # fresh tokens
    attended = await client.post(f"{shift}/attend", json={}, headers=sw | _version(scheduled))
    assert attended.json()["status"] == "attended", attended.text

    # The volunteer submits their own hours for the shift (volunteer_id left out: it is theirs).
    submitted = await client.post(
        "/volunteer-hours",
        json={"shift_id": offered.json()["id"], "served_on": "2026-03-02", "hours": 3, "activity": "门诊导诊"},
        headers=volunteer,
    )
    assert submitted.status_code == 201, submitted.text
    entry = submitted.json()
    assert (entry["status"], entry["volunteer_id"], float(entry["hours"])) == ("submitted", me["id"], 3.0)
    own = await client.get("/volunteer-hours", headers=volunteer)
    assert [e["id"] for e in own.json()["items"]] == [entry["id"]]

    march = {"from": "2026-03-01", "to": "2026-03-31"}
    before = await client.get("/volunteer-hours/totals", params=march, headers=supervisor)
    totals = {t["name"]: t for t in before.json()["items"]}
    assert totals["李志愿"]["verified_hours"] is not None
    assert float(totals["李志愿"]["verified_hours"]) == 0  # logged, not verified yet
    assert float(totals["李志愿"]["pending_hours"]) == 3
    assert totals["王未登记"]["verified_hours"] is None  # nothing logged: not 0

    verified = await client.post(f"/volunteer-hours/{entry['id']}/verify", headers=sw | _version(submitted))
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "verified"
    assert verified.json()["decided_by"] == str(ids["sw"])

    # A social worker records February hours for the other volunteer: outside March, and rejected.
    recorded = await client.post(
        "/volunteer-hours",
        json={"volunteer_id": quiet.json()["id"], "served_on": "2026-02-20", "hours": 2.5, "activity": "病房陪伴"},
        headers=sw,
    )
    assert recorded.status_code == 201, recorded.text
    rejected = await client.post(
        f"/volunteer-hours/{recorded.json()['id']}/reject",
        json={"reason": "当天未签到"},
        headers=sw | _version(recorded),
    )
    assert rejected.json()["status"] == "rejected", rejected.text

    for by, key in (
        ("volunteer", me["id"]),
        ("department", str(ids["department"])),
        ("institution", str(ids["hospital"])),
    ):
        answer = await client.get("/volunteer-hours/totals", params=march | {"by": by}, headers=supervisor)
        assert answer.status_code == 200, answer.text
        row = next(t for t in answer.json()["items"] if t["id"] == key)
        assert float(row["verified_hours"]) == 3.0, (by, row)
    district = await client.get("/volunteer-hours/totals", params=march | {"by": "district"}, headers=sw)
    assert district.status_code == 200, district.text
    assert district.json()["items"] == []  # a department's worker does not read the district's totals
    march_totals = {
        t["name"]: t for t in (await client.get("/volunteer-hours/totals", params=march, headers=sw)).json()["items"]
    }
    assert float(march_totals["李志愿"]["verified_hours"]) == 3.0
    assert march_totals["王未登记"]["verified_hours"] is None
    february = await client.get(
        "/volunteer-hours/totals", params={"from": "2026-02-01", "to": "2026-02-28"}, headers=sw
    )
    feb = {t["name"]: t for t in february.json()["items"]}
    assert float(feb["王未登记"]["verified_hours"]) == 0  # logged and rejected: 0, not "not logged"
    assert feb["李志愿"]["verified_hours"] is None

    # The workbook opens, in Chinese, times in China time, the not-logged volunteer marked so.
    workbook = await client.get("/volunteer-hours.xlsx", params=march, headers=supervisor)
    assert workbook.status_code == 200, workbook.text
    book = openpyxl.load_workbook(io.BytesIO(workbook.content))
    assert book.sheetnames == ["服务时长明细", "志愿者时长汇总"]
    rows = list(book["服务时长明细"].iter_rows(values_only=True))
    assert rows[1][:6] == ("志愿者", "社工部门", "服务日期", "时长(小时)", "服务内容", "状态")
    assert rows[2][0] == "李志愿"
    assert rows[2][5] == "已核实"
    assert rows[2][6] == "2026-03-02 11:00"  # submitted at 03:00 UTC, 11:00 in China
    summary = {r[0]: r for r in book["志愿者时长汇总"].iter_rows(min_row=2, values_only=True)}
    assert summary["李志愿"][2] == 3
    assert summary["王未登记"][2] == "未登记"
    assert all(str(me["id"]) not in str(cell) for row in rows for cell in row)  # no ids in what people read


async def test_the_supervisor_sees_idle_volunteers_and_hours_left_unverified(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    clock.freeze(T0)
    w = await _department_world(db)
    ids = w["ids"]
    (sw,) = await _headers(client, w, "sw")
    body = {"department_id": str(ids["department"]), "registered_on": "2026-01-05"}
    idle = await client.post("/volunteers", json=body | {"name": "赵闲置"}, headers=sw)
    busy = await client.post("/volunteers", json=body | {"name": "钱常来"}, headers=sw)
    new = await client.post("/volunteers", json=body | {"name": "孙新来", "registered_on": "2026-02-25"}, headers=sw)
    assert {idle.status_code, busy.status_code, new.status_code} == {201}, idle.text
    done = await client.post(
        "/volunteer-hours",
        json={"volunteer_id": busy.json()["id"], "served_on": "2026-02-27", "hours": 2, "activity": "陪诊"},
        headers=sw,
    )
    await client.post(f"/volunteer-hours/{done.json()['id']}/verify", headers=sw | _version(done))
    waiting = await client.post(
        "/volunteer-hours",
        json={"volunteer_id": idle.json()["id"], "served_on": "2026-03-02", "hours": 1, "activity": "导诊"},
        headers=sw,
    )
    assert waiting.status_code == 201, waiting.text

    clock.advance(timedelta(days=15))
    (supervisor,) = await _headers(client, w, "supervisor")
    answer = await client.get("/volunteers/attention", headers=supervisor)
    assert answer.status_code == 200, answer.text
    body_ = answer.json()
    assert [v["name"] for v in body_["idle_volunteers"]] == ["赵闲置"]  # registered long ago, never verified
    assert body_["idle_volunteers"][0]["last_verified_on"] is None
    assert [h["id"] for h in body_["stale_hours"]] == [waiting.json()["id"]]


async def test_bad_volunteer_inputs_are_refused_naming_the_field(client: httpx.AsyncClient, db: AsyncSession) -> None:
    clock.freeze(T0)
    w = await _department_world(db)
    ids = w["ids"]
    sw, volunteer, town = await _headers(client, w, "sw", "volunteer_login", "town_supervisor")
    department = str(ids["department"])
    not_a_worker = await client.post(
        "/volunteers",
        json={"department_id": department, "name": "x", "paired_user_id": str(ids["volunteer_login"])},
        headers=sw,
    )
    assert _fields(not_a_worker) == ["body.paired_user_id"]
    blank = await client.post("/volunteers", json={"department_id": department, "name": "   "}, headers=sw)
    assert _fields(blank) == ["body.name"]
    mine = await client.post(
        "/volunteers",
        json={"department_id": department, "name": "周", "user_id": str(ids["volunteer_login"])},
        headers=sw,
    )
    other = await client.post("/volunteers", json={"department_id": department, "name": "吴"}, headers=sw)
    assert mine.status_code == other.status_code == 201
    hours = {"served_on": "2026-03-02", "hours": 1, "activity": "导诊"}
    assert _fields(await client.post("/volunteer-hours", json=hours | {"hours": 0.3}, headers=volunteer)) == [
        "body.hours"
    ]
    assert _fields(await client.post("/volunteer-hours", json=hours | {"hours": 25}, headers=volunteer)) == [
        "body.hours"
    ]
    future = await client.post("/volunteer-hours", json=hours | {"served_on": "2026-03-03"}, headers=volunteer)
    assert _fields(future) == ["body.served_on"]
    for_other = await client.post(
        "/volunteer-hours", json=hours | {"volunteer_id": other.json()["id"]}, headers=volunteer
    )
    assert _fields(for_other) == ["body.volunteer_id"]
    offered = await client.post(
        "/volunteer-shifts",
        json={
            "department_id": department,
            "title": "陪诊",
            "starts_at": T0.isoformat(),
            "ends_at": (T0 + timedelta(hours=2)).isoformat(),
        },
        headers=sw,
    )
    not_attended = await client.post(
        "/volunteer-hours", json=hours | {"shift_id": offered.json()["id"]}, headers=volunteer
    )
    assert _fields(not_attended) == ["body.shift_id"]
    too_long = await client.post(
        "/volunteer-shifts",
        json={
            "department_id": department,
            "title": "x",
            "starts_at": T0.isoformat(),
            "ends_at": (T0 + timedelta(hours=25)).isoformat(),
        },
        headers=sw,
    )
    assert _fields(too_long) == ["body.ends_at"]
    backwards = await client.get(
        "/volunteer-hours/totals", params={"from": "2026-03-31", "to": "2026-03-01"}, headers=sw
    )
    assert _fields(backwards) == ["query.to"]

    scheduled = await client.post(
        f"/volunteer-shifts/{offered.json()['id']}/schedule",
        json={"volunteer_id": mine.json()["id"]},
        headers=sw | _version(offered),
    )
    attended = await client.post(
        f"/volunteer-shifts/{offered.json()['id']}/attend", json={}, headers=sw | _version(scheduled)
    )
    assert attended.status_code == 200, attended.text
    first = await client.post("/volunteer-hours", json=hours | {"shift_id": offered.json()["id"]}, headers=volunteer)
    assert first.status_code == 201, first.text
    again = await client.post("/volunteer-hours", json=hours | {"shift_id": offered.json()["id"]}, headers=volunteer)
    assert_problem(again, 409, "already_exists")
    retry = await client.post(
        "/volunteer-hours", json=hours | {"id": first.json()["id"], "shift_id": offered.json()["id"]}, headers=volunteer
    )
    assert retry.status_code == 200, retry.text
    assert retry.headers["Idempotent-Replayed"] == "true"

    entry = f"/volunteer-hours/{first.json()['id']}"
    assert_problem(await client.post(f"{entry}/verify", headers=volunteer | _version(first)), 403, "forbidden")
    assert_problem(await client.post(f"{entry}/verify", headers=town), 403, "forbidden")
    assert_problem(await client.post(f"{entry}/verify", headers=sw), 428, "if_match_required")
    assert_problem(await client.post(f"{entry}/verify", headers=sw | {"If-Match": '"9"'}), 412, "version_mismatch")
    verified = await client.post(f"{entry}/verify", headers=sw | _version(first))
    twice = await client.post(f"{entry}/verify", headers=sw | _version(verified))
    body = assert_problem(twice, 409, "illegal_transition")
    assert body["allowed_from"] == ["submitted"]
    blank_reason = await client.post(f"{entry}/reject", json={"reason": " "}, headers=sw | _version(verified))
    assert blank_reason.status_code in (409, 422)
    cancelled = await client.post(
        f"/volunteer-shifts/{offered.json()['id']}/cancel", json={"reason": "x"}, headers=sw | _version(attended)
    )
    assert_problem(cancelled, 409, "illegal_transition")


async def test_another_departments_social_worker_sees_none_of_its_volunteers(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    w = await _department_world(db)
    other_department = await make_department(
        db, await make_institution(db, w["world"].district, kind=InstitutionKind.TCM_HOSPITAL)
    )
    outsider = await make_social_worker(db, other_department)
    await db.commit()
    (sw,) = await _headers(client, w, "sw")
    made = await client.post(
        "/volunteers", json={"department_id": str(w["ids"]["department"]), "name": "郑"}, headers=sw
    )
    assert made.status_code == 201, made.text
    theirs = await auth_headers(client, outsider)
    assert (await client.get(f"/volunteers/{made.json()['id']}", headers=theirs)).status_code == 404
    assert made.json()["id"] not in {v["id"] for v in (await client.get("/volunteers", headers=theirs)).json()["items"]}
    wrong = await client.post(
        "/volunteers", json={"department_id": str(w["ids"]["department"]), "name": "x"}, headers=theirs
    )
    assert _fields(wrong) == ["body.department_id"]


async def test_group_and_community_work_is_recorded_with_consent_for_names(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    clock.freeze(T0)
    w = await _department_world(db)
    ids = w["ids"]
    (sw,) = await _headers(client, w, "sw")
    base = {
        "department_id": str(ids["department"]),
        "kind": "community",
        "topic": "高血压自我管理讲座",
        "promotion_topic": "chronic_disease",
        "held_at": (T0 - timedelta(days=1)).isoformat(),
        "minutes": 90,
        "participant_count": 32,
        "village_id": str(w["world"].village_a1.id),
    }
    made = await client.post("/group-sessions", json=base, headers=sw)
    assert made.status_code == 201, made.text
    assert made.json()["facilitator_user_id"] == str(ids["sw"])
    assert made.json()["named_participants"] == []
    no_consent = await client.post("/group-sessions", json=base | {"named_participants": ["张三"]}, headers=sw)
    assert _fields(no_consent) == ["body.participants_consented"]
    named = await client.post(
        "/group-sessions",
        json=base
        | {"kind": "group", "named_participants": ["张三"], "participants_consented": True, "participant_count": 8},
        headers=sw,
    )
    assert named.status_code == 201, named.text
    assert _fields(await client.post("/group-sessions", json=base | {"village_id": None}, headers=sw)) == [
        "body.village_id"
    ]
    grid = await client.post("/group-sessions", json=base | {"village_id": str(w["world"].grid_a1_1.id)}, headers=sw)
    assert _fields(grid) == ["body.village_id"]
    later = await client.post(
        "/group-sessions", json=base | {"held_at": (T0 + timedelta(days=1)).isoformat()}, headers=sw
    )
    assert _fields(later) == ["body.held_at"]
    listed = await client.get("/group-sessions", params={"village_id": str(w["world"].village_a1.id)}, headers=sw)
    assert {s["id"] for s in listed.json()["items"]} == {made.json()["id"], named.json()["id"]}
    assert uuid.UUID(made.json()["id"])
