"""The whistle -> report-in loop as its people meet it, through HTTP: a phone's queue is never blocked
by one bad item; the village committee can act on an urgent risk; messages people can read; the
sentinel sees who came; an urgent risk happening now has a 2-hour report-in clock."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

import services
from services.core import clock
from services.core.audit.models import AuditEvent
from services.core.config import Settings
from services.core.deadlines.kinds import DEFAULT_TEMPLATE, registered_kinds
from services.core.deadlines.policy import policy_for
from services.core.notifications.templates import registered
from services.core.org.models import OrgUnit
from services.core.reports import messages
from services.core.reports.models import SentinelReport
from services.core.reports.routing import REPORT_IN_KIND
from services.core.security.roles import Role
from services.core.teams.models import Person, Team
from tests.api.test_reports import T0, change, client, inbox, submit, sweep_at, world_at_t0
from tests.factories import auth_headers, make_user, resident_id_number
from tests.report_world import health_need, urgent_risk

__all__ = ["client"]


async def test_an_offline_queue_is_never_blocked_by_one_bad_item(client: httpx.AsyncClient, db: AsyncSession) -> None:
    world = await world_at_t0(db)
    good = [health_need(world.grid.id, world.resident.id) for _ in range(2)]
    unknown_category = health_need(world.grid.id, world.resident.id)
    unknown_category["details"] = {"category": "gossip", "description": "x"}
    too_long = health_need(world.grid.id, world.resident.id)
    too_long["details"] = too_long["details"] | {"description": "长" * 501}
    no_grid = health_need(world.grid.id, world.resident.id)
    del no_grid["grid_id"]
    bad_id = health_need(world.grid.id, world.resident.id, id="queue-item-7")
    items: list[Any] = [good[0], unknown_category, too_long, no_grid, bad_id, good[1]]
    headers = await auth_headers(client, world.sentinel)
    response = await client.post("/reports/batch", json={"reports": items}, headers=headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["stored"], result["replayed"], result["refused"]) == (2, 0, 4)
    assert [i["status"] for i in result["items"]] == [201, 422, 422, 422, 422, 201]
    assert [i["index"] for i in result["items"]] == list(range(6))

    def fields(index: int) -> list[str]:
        problem = result["items"][index]["problem"]
        assert problem["code"] == "validation_error"
        return [e["field"] for e in problem["errors"]]

    assert fields(1) == ["body.reports.1.details"]
    assert fields(2) == ["body.reports.2.details.health_need.description"]
    assert fields(3) == ["body.reports.3.grid_id"]
    assert fields(4) == ["body.reports.4.id"]
    assert result["items"][1]["id"] == unknown_category["id"]
    assert result["items"][4]["id"] is None
    stored = set(await db.scalars(select(SentinelReport.id)))
    assert stored == {uuid.UUID(g["id"]) for g in good}
    # Only a body that is not a list of objects is refused whole.
    for body in ({"reports": [good[0], "not an object"]}, {"reports": []}, {"reports": {"0": good[0]}}):
        refused = await client.post("/reports/batch", json=body, headers=headers)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert await db.scalar(select(func.count()).select_from(SentinelReport)) == 2


# ---------------------------------------------------------------- 15. the report-in clock of an urgent risk


async def test_an_urgent_risk_happening_now_must_be_reported_in_within_two_hours(
    client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    world = await world_at_t0(db)
    now = await submit(client, world, urgent_risk(world.grid.id, world.resident.id))
    calm_body: dict[str, Any] = urgent_risk(world.grid.id, world.resident.id)
    calm_body["details"]["happening_now"] = False
    calm = await submit(client, world, calm_body)
    assert now.status_code == calm.status_code == 201
    leader = await auth_headers(client, world.leader)
    care = (await client.get(f"/reports/{now.json()['id']}", headers=leader)).json()
    assert care["report_in_deadline"]["due_at"] == (T0 + timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    assert care["follow_up_deadline"]["due_at"].startswith((T0 + timedelta(hours=48)).date().isoformat())
    calm_care = (await client.get(f"/reports/{calm.json()['id']}", headers=leader)).json()
    assert calm_care["report_in_deadline"] is None

    rid = now.json()["id"]
    await sweep_at(db, 1.5)
    assert "deadline.reminder" in await inbox(db, world.unpaired, rid)
    await sweep_at(db, 2)
    assert "deadline.breach" in await inbox(db, world.leader, rid)
    assert "deadline.breach" in await inbox(db, world.steward, rid)
    # Reported in late: the clock is met, and stays breached (a fact); no further step.
    clock.freeze(T0 + timedelta(hours=2, minutes=30))
    moved = await change(client, world.paired, rid, "report-in", {}, care["version"])
    assert moved.status_code == 200, moved.text
    assert moved.json()["report_in_deadline"]["state"] == "breached"
    assert await sweep_at(db, 5) == 0
    assert "deadline.escalation_1" not in await inbox(db, world.commission, rid)
    # Configurable like every policy.
    tuned = settings.model_copy(update={"deadline_policies": {"report.report_in": {"due_after_hours": 1}}})
    assert policy_for(tuned, REPORT_IN_KIND, "urgent_risk").due_after_hours == 1
    assert policy_for(settings, REPORT_IN_KIND, "urgent_risk").due_after_hours == 2


# ---------------------------------------------------------------- 12. the village committee acts on an urgent risk


async def test_the_community_steward_sees_what_is_needed_to_act_on_an_urgent_risk_and_each_read_is_audited(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await world_at_t0(db)
    body = urgent_risk(world.grid.id, world.resident.id)
    body["details"]["police_called"] = True
    rid = (await submit(client, world, body)).json()["id"]
    need = (await submit(client, world, health_need(world.grid.id, world.resident.id))).json()["id"]
    leader = await auth_headers(client, world.leader)
    version = (await client.get(f"/reports/{rid}", headers=leader)).json()["version"]
    await change(client, world.paired, rid, "report-in", {}, version)
    followed = await change(
        client,
        world.paired,
        rid,
        "follow-ups",
        {"channel": "home_visit", "outcome": "reached", "notes": "奥氮平加量"},
        version + 1,
    )
    assert followed.status_code == 201, followed.text

    steward = await auth_headers(client, world.community)
    seen = await client.get(f"/reports/{rid}", headers=steward)
    assert seen.status_code == 200, seen.text
    view = seen.json()
    assert view["view"] == "urgent"
    urgent = view["urgent"]
    assert urgent["signs"] == ["stopped_medication", "threatens_others"]
    assert (urgent["happening_now"], urgent["police_called"]) == (True, True)
    assert urgent["description"] == body["details"]["description"]
    assert (urgent["village"]["id"], urgent["grid"]["id"]) == (str(world.village.id), str(world.grid.id))
    assert urgent["village"]["name"] == world.village.name
    assert urgent["resident"] == {"id": str(world.resident.id), "name": "张三", "address": "幸福路 1 号"}
    assert view["reported_in"] is True
    assert view["followed_up"] is True
    assert "奥氮平" not in seen.text  # never the team's clinical notes
    assert "follow_ups" not in view
    assert "outcome_notes" not in view
    # Each read is audited; a report that is not an urgent risk stays in the status view.
    await client.get(f"/reports/{rid}", headers=steward)
    reads = await db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "report.urgent_read", AuditEvent.actor_id == world.community.id)
    )
    assert reads == 2
    assert (await client.get(f"/reports/{need}", headers=steward)).json()["view"] == "status"
    # The team still sees the care view, the sentinel the status view.
    assert (await client.get(f"/reports/{rid}", headers=leader)).json()["view"] == "care"
    mine = await client.get(f"/reports/{rid}", headers=await auth_headers(client, world.sentinel))
    assert mine.json()["view"] == "status"
    assert "urgent" not in mine.json()


# ---------------------------------------------------------------- 14. the sentinel sees who came


async def test_the_sentinel_sees_who_reported_in_and_what_they_typed(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await world_at_t0(db)
    await db.execute(update(Team).where(Team.id == world.team.id).values(service_phone="023-67812345"))
    paired_name = await db.scalar(select(Person.name).where(Person.user_id == world.paired.id))
    body = health_need(
        world.grid.id,
        None,
        new_resident={
            "name": "孙八",
            "sex": "female",
            "birth_on": "1948-03-09",
            "id_type": "01",
            "id_number": resident_id_number(date(1948, 3, 9), male=False),
            "phone": "13800138000",
        },
    )
    submitted = await submit(client, world, body)
    assert submitted.status_code == 201, submitted.text
    rid = body["id"]
    sentinel = await auth_headers(client, world.sentinel)
    mine = (await client.get(f"/reports/{rid}", headers=sentinel)).json()
    assert mine["view"] == "status"
    assert mine["reported_in_by"] is None
    draft = mine["new_resident"]
    assert (draft["name"], draft["sex"], draft["birth_on"]) == ("孙八", "female", "1948-03-09")
    assert draft["id_number_masked"].count("*") >= 8
    assert draft["phone_masked"] == "138****8000"
    assert body["new_resident"]["id_number"] not in str(mine)

    await change(client, world.paired, rid, "report-in", {}, mine["version"])
    mine = (await client.get(f"/reports/{rid}", headers=sentinel)).json()
    assert mine["reported_in_by"] == {"name": paired_name, "team_service_phone": "023-67812345"}
    listed = (await client.get("/reports", params={"mine": "true"}, headers=sentinel)).json()["items"]
    assert listed[0]["reported_in_by"]["name"] == paired_name
    assert listed[0]["new_resident"]["birth_on"] == "1948-03-09"
    # Only in the sentinel's own entry: the community steward's status view carries no draft.
    other = (await client.get(f"/reports/{rid}", headers=await auth_headers(client, world.community))).json()
    assert other["view"] == "status"
    assert other["new_resident"] is None


# ---------------------------------------------------------------- 13. messages people can read

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


async def _inbox(client: httpx.AsyncClient, user: Any, report_id: str) -> dict[str, dict[str, str]]:
    items = (await client.get("/inbox", headers=await auth_headers(client, user))).json()["items"]
    return {i["kind"]: i for i in items if i["subject_id"] == report_id}


async def test_messages_name_what_they_are_about_in_the_readers_language_and_china_time(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await world_at_t0(db)
    await db.execute(update(Team).where(Team.id == world.team.id).values(service_phone="023-67812345"))
    admin = await make_user(db, Role.DISTRICT_ADMIN, await db.get(OrgUnit, world.district.id))  # type: ignore[arg-type]
    await db.commit()
    admin_headers = await auth_headers(client, admin)
    user = (await client.get(f"/users/{world.unpaired.id}", headers=admin_headers)).json()
    assert user["locale"] == "zh-CN"  # Chinese by default
    english = await client.patch(
        f"/users/{world.unpaired.id}",
        json={"locale": "en"},
        headers=admin_headers | {"If-Match": f'"{user["version"]}"'},
    )
    assert english.status_code == 200, english.text
    assert english.json()["locale"] == "en"
    bad = await client.patch(
        f"/users/{world.unpaired.id}", json={"locale": "fr"}, headers=admin_headers | {"If-Match": '"2"'}
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.locale"

    rid = (await submit(client, world, urgent_risk(world.grid.id, world.resident.id))).json()["id"]
    sentinel_name = await db.scalar(select(Person.name).where(Person.user_id == world.sentinel.id))
    paired_name = await db.scalar(select(Person.name).where(Person.user_id == world.paired.id))

    told = await _inbox(client, world.paired, rid)
    submitted = told["report.submitted"]
    assert submitted["title"] == f"新的哨兵上报：{world.village.name}{world.grid.name}·紧急风险"
    assert sentinel_name in submitted["body"]
    assert "2026-03-02 16:00" in submitted["body"]  # 08:00 UTC is 16:00 in China
    assert "居民张*" in submitted["body"]  # the masked name, for a reader of the grid's residents
    act_now = told["deadline.at_start"]
    assert act_now["title"].startswith("紧急风险，请立即处置")
    assert "2026-03-04 16:00" in act_now["body"]  # the follow-up due, China time
    steward = (await _inbox(client, world.community, rid))["deadline.at_start"]
    assert world.village.name in steward["title"]
    english_item = (await _inbox(client, world.unpaired, rid))["deadline.at_start"]
    assert english_item["title"] == f"Urgent risk, act now: {world.grid.name}, {world.village.name}"
    assert "(China time)" in english_item["body"]

    version = (await client.get(f"/reports/{rid}", headers=await auth_headers(client, world.leader))).json()["version"]
    clock.freeze(T0 + timedelta(minutes=20))
    await change(client, world.paired, rid, "report-in", {}, version)
    back = (await _inbox(client, world.sentinel, rid))["report.reported_in"]
    assert back["title"] == "家庭医生已报到：紧急风险"
    assert paired_name in back["body"]
    assert "023-67812345" in back["body"]
    assert "2026-03-02 16:20" in back["body"]
    await sweep_at(db, 36)  # the follow-up reminder names who reported in
    reminder = (await _inbox(client, world.paired, rid))["deadline.reminder"]
    assert f"{paired_name}已报到" in reminder["body"]
    for person in (world.paired, world.community, world.unpaired, world.sentinel, world.leader):
        for item in (await _inbox(client, person, rid)).values():
            assert not UUID_RE.search(item["title"] + item["body"]), item


def test_every_message_the_service_sends_has_a_chinese_and_an_english_template(settings: Settings) -> None:
    """Every ``notify(`` passes a template (``message=``); every template named in the code, every
    deadline kind and every step of their default policies renders in both languages, without an id."""
    root = Path(services.__file__).parent
    named: set[str] = set()
    for path in root.rglob("*.py"):
        if path.parent.name == "notifications" and path.name == "service.py":
            continue  # notify itself
        source = path.read_text(encoding="utf-8")
        for call in re.finditer(r"\bnotify\(", source):
            window = source[call.start() : call.start() + 600].split("\n    )", 1)[0]
            assert "message=" in window, f"{path}: notify() without a template"
        named |= set(re.findall(r'report_message\(\s*db,\s*"([a-z_.]+)"', source))
        named |= set(re.findall(r'Message\(\s*"([a-z_.]+)"', source))
    templates = registered()
    kinds = registered_kinds()
    assert {"report.follow_up", "report.report_in"} <= set(kinds)
    for name in sorted(named | set(kinds) - {"test.sla"} | set(messages.TEMPLATES) | {DEFAULT_TEMPLATE}):
        assert name in templates or not name.startswith("report."), f"no template for {name}"
    sample = {
        "category": "urgent_risk",
        "village": "VILLAGE",
        "grid": "GRID",
        "reporter": "REPORTER",
        "responder": "RESPONDER",
        "team": "TEAM",
        "team_phone": "023-67812345",
        "submitted_at": T0,
        "reported_in_at": T0,
        "due_at": T0,
        "what": "report.follow_up",
        "stage": "start",
        "resident": "RESIDENT",
    }
    steps = {
        step.name
        for kind in kinds
        for category in (None, "urgent_risk")
        for step in policy_for(settings, kind, category).steps
    }
    cjk = re.compile(r"[\u4e00-\u9fff]")
    for name, pair in templates.items():
        for step in steps:
            zh = "".join(pair.zh({**sample, "step": step}))
            en = "".join(pair.en({**sample, "step": step}))
            assert cjk.search(zh), (name, step, zh)
            assert not cjk.search(en), (name, step, en)
            assert not UUID_RE.search(zh + en)
