"""Sentinel reports through the API: routing, the 48-hour clock on a real report, the life of a
report, what a sentinel may see, replays, batches and bad input. Time moves through core/clock."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.core import clock
from services.core.config import Settings
from services.core.deadlines import service as deadlines
from services.core.deadlines.models import Deadline, DeadlineState
from services.core.notifications.models import Notification
from services.core.reports.models import SentinelReport
from services.core.security.roles import Role
from tests.apps import shared_session_client
from tests.factories import auth_headers, make_member, make_staff, make_team, make_user, resident_id_number, snapshot
from tests.report_world import ReportWorld, build_report_world, health_need, linked, urgent_risk

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
async def client(db: AsyncSession, settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The shared-session client without Redis: these tests move the clock and open clocks whose
    step jobs would be deferred hours into the shared Redis (a burst worker elsewhere would wait
    for them). The sweeper is what these tests drive; the deferred jobs have their own tests."""
    async with shared_session_client(db, settings, engine=engine, redis=None) as c:
        yield c


async def world_at_t0(db: AsyncSession) -> ReportWorld:
    clock.freeze(T0 - timedelta(days=1))
    world = await build_report_world(db, at=T0 - timedelta(days=1))
    clock.freeze(T0)
    return world


async def inbox(db: AsyncSession, user: Any, report_id: str | None = None) -> list[str]:
    stmt = select(Notification.kind).where(Notification.user_id == user.id)
    if report_id:
        stmt = stmt.where(Notification.subject_id == uuid.UUID(report_id))
    return list(await db.scalars(stmt.order_by(Notification.created_at, Notification.kind)))


async def submit(client: httpx.AsyncClient, world: ReportWorld, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/reports", json=body, headers=await auth_headers(client, world.sentinel))


async def change(
    client: httpx.AsyncClient, user: Any, report_id: str, action: str, body: dict[str, Any], version: int
) -> httpx.Response:
    headers = await auth_headers(client, user) | {"If-Match": f'"{version}"'}
    return await client.post(f"/reports/{report_id}/{action}", json=body, headers=headers)


async def sweep_at(db: AsyncSession, hours: float) -> int:
    clock.freeze(T0 + timedelta(hours=hours))
    return (await deadlines.sweep(db)).fired


# ---------------------------------------------------------------- routing and the clock


async def test_a_report_reaches_the_paired_member_first_then_the_team_and_climbs_the_ladder(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await world_at_t0(db)
    response = await submit(client, world, health_need(world.grid.id, world.resident.id))
    assert response.status_code == 201, response.text
    report = response.json()
    rid = report["id"]
    assert report["view"] == "status"  # the sentinel's own view
    assert report["team"] == {"id": str(world.team.id), "name": world.team.name}
    assert report["unrouted"] is False
    assert response.headers["ETag"] == '"1"'

    assert await inbox(db, world.paired, rid) == ["report.submitted"]
    assert await inbox(db, world.unpaired, rid) == []
    assert await inbox(db, world.leader, rid) == []

    # Two hours without a report-in: the rest of the team hears of it.
    assert await sweep_at(db, 2) == 1
    assert await inbox(db, world.unpaired, rid) == ["deadline.team_if_waiting"]
    assert await inbox(db, world.leader, rid) == ["deadline.team_if_waiting"]
    assert await inbox(db, world.paired, rid) == ["report.submitted"]

    assert await sweep_at(db, 35.99) == 0
    assert await sweep_at(db, 36) == 1
    for member in (world.leader, world.paired, world.unpaired):
        assert (await inbox(db, member, rid))[-1] == "deadline.reminder"
    assert await sweep_at(db, 47.99) == 0
    assert await sweep_at(db, 48) == 1
    assert await inbox(db, world.leader, rid) == ["deadline.team_if_waiting", "deadline.reminder", "deadline.breach"]
    assert "deadline.breach" not in await inbox(db, world.paired, rid)
    assert await inbox(db, world.steward, rid) == []
    assert await sweep_at(db, 71.99) == 0
    assert await sweep_at(db, 72) == 1
    assert await inbox(db, world.steward, rid) == ["deadline.escalation_1"]
    assert await inbox(db, world.community, rid) == ["deadline.escalation_1"]
    assert await inbox(db, world.commission, rid) == []
    assert await sweep_at(db, 95.99) == 0
    assert await sweep_at(db, 96) == 1
    assert await inbox(db, world.commission, rid) == ["deadline.escalation_2"]
    assert await sweep_at(db, 500) == 0
    deadline = await deadlines.get(db, subject_type="report", subject_id=uuid.UUID(rid), kind="report.follow_up")
    assert deadline is not None
    assert deadline.state == DeadlineState.BREACHED
    steps = [(s.step, s.scheduled_at - T0) for s in await deadlines.steps_taken(db, deadline.id)]
    assert steps == [
        ("team_if_waiting", timedelta(hours=2)),
        ("reminder", timedelta(hours=36)),
        ("breach", timedelta(hours=48)),
        ("escalation_1", timedelta(hours=72)),
        ("escalation_2", timedelta(hours=96)),
    ]


async def test_a_follow_up_at_47h_means_no_breach_and_no_escalation(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await world_at_t0(db)
    rid = (await submit(client, world, health_need(world.grid.id, world.resident.id))).json()["id"]
    clock.freeze(T0 + timedelta(hours=1))
    reported_in = await change(client, world.paired, rid, "report-in", {}, 1)
    assert reported_in.status_code == 200, reported_in.text
    assert reported_in.json()["status"] == "reported_in"
    assert await sweep_at(db, 2) == 1  # team_if_waiting fires but tells nobody: the report is reported in
    assert await inbox(db, world.unpaired, rid) == []
    await sweep_at(db, 36)
    clock.freeze(T0 + timedelta(hours=47))
    followed = await change(
        client,
        world.paired,
        rid,
        "follow-ups",
        {"channel": "home_visit", "outcome": "reached", "notes": "血压 150/95"},
        2,
    )
    assert followed.status_code == 201, followed.text
    assert followed.json()["status"] == "followed_up"
    assert followed.json()["follow_up_deadline"]["state"] == "met"
    for hours in (48, 72, 96, 300):
        assert await sweep_at(db, hours) == 0
    for person in (world.leader, world.steward, world.community, world.commission):
        assert not {"deadline.breach", "deadline.escalation_1", "deadline.escalation_2"} & set(
            await inbox(db, person, rid)
        )
    deadline = await db.scalar(select(Deadline).where(Deadline.subject_id == uuid.UUID(rid)))
    assert deadline is not None
    assert deadline.met_at == T0 + timedelta(hours=47)
    assert deadline.breached_at is None


async def test_an_urgent_risk_tells_the_community_steward_and_the_whole_team_at_once(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await world_at_t0(db)
    response = await submit(client, world, urgent_risk(world.grid.id, world.resident.id))
    assert response.status_code == 201, response.text
    rid = response.json()["id"]
    # No sweep, no worker: within the submitting transaction.
    for person in (world.community, world.leader, world.unpaired):
        assert await inbox(db, person, rid) == ["deadline.at_start"]
    assert sorted(await inbox(db, world.paired, rid)) == ["deadline.at_start", "report.submitted"]
    assert await sweep_at(db, 0) == 0  # the step happened once


async def test_a_grid_without_a_team_goes_to_the_town_and_is_flagged_unrouted(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await world_at_t0(db)
    lone = world.bare_sentinel
    body = health_need(world.bare_grid.id, None, new_resident={"name": "李四", "birth_on": "1950-02-03"})
    response = await client.post("/reports", json=body, headers=await auth_headers(client, lone))
    assert response.status_code == 201, response.text
    rid = response.json()["id"]
    assert response.json()["unrouted"] is True
    assert response.json()["team"] is None
    assert await inbox(db, world.steward, rid) == ["report.submitted"]
    assert await inbox(db, world.supervisor, rid) == ["report.submitted"]
    assert await inbox(db, world.paired, rid) == []
    listed = await client.get("/reports?unrouted=true", headers=await auth_headers(client, world.supervisor))
    assert [r["id"] for r in listed.json()["items"]] == [rid]
    # A team member in the area takes it: it becomes their team's.
    taken = await change(client, world.unpaired, rid, "report-in", {}, 1)
    assert taken.status_code == 200, taken.text
    assert taken.json()["team"]["id"] == str(world.team.id)
    assert taken.json()["unrouted"] is True  # the fact stays for the supervision bulletin


async def test_a_sentinel_grant_without_the_sentinel_role_in_the_grid_may_not_report(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await world_at_t0(db)
    grant_only = snapshot(await make_user(db, Role.SENTINEL, await _unit(db, world.grid.id)))
    response = await client.post(
        "/reports", json=health_need(world.grid.id, world.resident.id), headers=await auth_headers(client, grant_only)
    )
    assert response.status_code == 403, response.text
    # A grid outside the sentinel's grants stays 404.
    assert (
        await submit(client, world, health_need(world.bare_grid.id, None, new_resident={"name": "x"}))
    ).status_code == 404


# ---------------------------------------------------------------- the life of a report


async def test_the_life_of_a_report_with_illegal_steps_refused(client: httpx.AsyncClient, db: AsyncSession) -> None:
    world = await world_at_t0(db)
    rid = (await submit(client, world, health_need(world.grid.id, world.resident.id))).json()["id"]
    fu = {"channel": "phone", "outcome": "unreachable"}
    early = await change(client, world.paired, rid, "follow-ups", fu, 1)
    assert early.status_code == 409, early.text
    assert early.json()["code"] == "illegal_transition"
    assert (await change(client, world.paired, rid, "close", {"outcome": "resolved"}, 1)).status_code == 409
    assert (await change(client, world.sentinel, rid, "report-in", {}, 1)).status_code == 403
    assert (await change(client, world.steward, rid, "report-in", {}, 1)).status_code == 403
    stale = await change(client, world.paired, rid, "report-in", {}, 7)
    assert stale.status_code == 412, stale.text
    missing = await client.post(f"/reports/{rid}/report-in", json={}, headers=await auth_headers(client, world.paired))
    assert missing.status_code == 428
    assert (await change(client, world.unpaired, rid, "report-in", {}, 1)).status_code == 200
    assert (await change(client, world.paired, rid, "report-in", {}, 2)).status_code == 409
    assert (await change(client, world.sentinel, rid, "cancel", {}, 2)).status_code == 409
    clock.freeze(T0 + timedelta(hours=3))
    assert (await change(client, world.paired, rid, "follow-ups", fu, 2)).status_code == 201
    again = await change(client, world.paired, rid, "follow-ups", fu | {"outcome": "reached", "notes": "已联系"}, 3)
    assert again.status_code == 201
    assert len(again.json()["follow_ups"]) == 2
    future = await change(client, world.paired, rid, "follow-ups", fu | {"contacted_at": "2030-01-01T00:00:00Z"}, 4)
    assert future.status_code == 422
    started = await change(client, world.leader, rid, "intervention", {"plan": "每周上门一次"}, 4)
    assert started.status_code == 200, started.text
    closed = await change(
        client, world.leader, rid, "close", {"outcome": "under_management", "notes": "纳入慢病管理"}, 5
    )
    assert closed.status_code == 200, closed.text
    report = closed.json()
    assert report["status"] == "closed"
    assert [(h["from_status"], h["to_status"]) for h in report["history"]] == [
        (None, "submitted"),
        ("submitted", "reported_in"),
        ("reported_in", "followed_up"),
        ("followed_up", "intervening"),
        ("intervening", "closed"),
    ]
    assert report["history"][1]["actor_id"] == str(world.unpaired.id)
    assert (await change(client, world.leader, rid, "close", {"outcome": "resolved"}, 6)).status_code == 409
    assert await inbox(db, world.sentinel, rid) == ["report.reported_in", "report.closed"]


async def test_the_sentinel_may_cancel_while_submitted_and_the_clock_stops(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await world_at_t0(db)
    rid = (await submit(client, world, health_need(world.grid.id, world.resident.id))).json()["id"]
    assert (await change(client, world.other_sentinel, rid, "cancel", {}, 1)).status_code == 404
    cancelled = await change(client, world.sentinel, rid, "cancel", {"reason": "报错了"}, 1)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert await sweep_at(db, 100) == 0
    assert await inbox(db, world.leader, rid) == []


async def test_a_change_is_refused_in_one_order_404_then_428_412_then_403_then_409(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    """Each caller below fails several checks at once; the first in the order answers."""
    world = await world_at_t0(db)
    rid = (await submit(client, world, health_need(world.grid.id, world.resident.id))).json()["id"]
    assert (await change(client, world.paired, rid, "report-in", {}, 1)).status_code == 200  # cancel: now illegal
    grid_leader = snapshot(await make_user(db, Role.GRID_LEADER, await _unit(db, world.grid.id)))
    url = f"/reports/{rid}/cancel"

    async def bare(user: Any) -> dict[str, str]:
        return await auth_headers(client, user)

    # Out of scope (another sentinel's report), no If-Match, not the reporter, illegal: 404.
    hidden = await client.post(url, json={}, headers=await bare(world.other_sentinel))
    assert hidden.status_code == 404, hidden.text
    # In scope (a grid leader sees every report of the grid), no If-Match, not the reporter, illegal: 428.
    assert (await client.post(url, json={}, headers=await bare(grid_leader))).json()["code"] == "if_match_required"
    assert (await change(client, grid_leader, rid, "cancel", {}, 9)).json()["code"] == "version_mismatch"
    # The version is right; not the reporter, and illegal: 403.
    assert (await change(client, grid_leader, rid, "cancel", {}, 2)).json()["code"] == "forbidden"
    # The reporter, the right version, from reported_in: 409.
    assert (await change(client, world.sentinel, rid, "cancel", {}, 2)).json()["code"] == "illegal_transition"


# ---------------------------------------------------------------- who sees what


async def test_a_sentinel_sees_where_the_report_stands_never_the_notes(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await world_at_t0(db)
    rid = (await submit(client, world, health_need(world.grid.id, world.resident.id))).json()["id"]
    await change(client, world.paired, rid, "report-in", {}, 1)
    secret = "幻听加重，服用奥氮平"
    await change(
        client, world.paired, rid, "follow-ups", {"channel": "phone", "outcome": "reached", "notes": secret}, 2
    )

    mine = await client.get(f"/reports/{rid}", headers=await auth_headers(client, world.sentinel))
    assert mine.status_code == 200
    seen = mine.json()
    assert seen["view"] == "status"
    assert seen["reported_in"] is True
    assert seen["reported_in_at"] == T0.isoformat().replace("+00:00", "Z")
    assert seen["team"]["name"] == world.team.name
    assert seen["followed_up"] is True
    assert secret not in mine.text
    assert "follow_ups" not in seen
    assert "details" not in seen
    listed = await client.get("/reports?mine=true", headers=await auth_headers(client, world.sentinel))
    assert [r["id"] for r in listed.json()["items"]] == [rid]
    assert secret not in listed.text

    other = await client.get(f"/reports/{rid}", headers=await auth_headers(client, world.other_sentinel))
    assert other.status_code == 404
    community = await client.get(f"/reports/{rid}", headers=await auth_headers(client, world.community))
    assert community.json()["view"] == "status"
    assert secret not in community.text

    # A member of another team in the same town sees nothing of it.
    other_team = await make_team(db, world.institution)
    outsider_person = await make_staff(db, world.institution)
    outsider = snapshot(await make_user(db, Role.TEAM_MEMBER, await _unit(db, world.town.id)))
    await linked(db, outsider_person, outsider)
    await make_member(db, other_team, outsider_person, starts_at=T0 - timedelta(days=1))
    hidden = await client.get(f"/reports/{rid}", headers=await auth_headers(client, outsider))
    assert hidden.status_code == 404
    assert (
        await change(client, outsider, rid, "follow-ups", {"channel": "sms", "outcome": "reached"}, 3)
    ).status_code == 404
    listed_for_outsider = await client.get("/reports", headers=await auth_headers(client, outsider))
    assert listed_for_outsider.json()["items"] == []

    for user in (world.leader, world.unpaired, world.steward, world.supervisor):
        full = await client.get(f"/reports/{rid}", headers=await auth_headers(client, user))
        assert full.json()["view"] == "care", user
        assert full.json()["follow_ups"][0]["notes"] == secret


# ---------------------------------------------------------------- replays and batches


async def test_a_replay_answers_the_original_and_a_changed_body_is_refused(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await world_at_t0(db)
    body = health_need(world.grid.id, world.resident.id)
    first = await submit(client, world, body)
    assert first.status_code == 201
    clock.freeze(T0 + timedelta(minutes=5))
    again = await submit(client, world, body)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    changed = await submit(client, world, body | {"details": body["details"] | {"description": "另一件事"}})
    assert changed.status_code == 409, changed.text
    assert changed.json()["existing_id"] == body["id"]
    stolen = await client.post("/reports", json=body, headers=await auth_headers(client, world.other_sentinel))
    assert stolen.status_code == 409
    count = await db.scalar(select(func.count()).select_from(SentinelReport))
    assert count == 1
    assert await db.scalar(select(func.count()).select_from(Deadline)) == 1
    assert await inbox(db, world.paired, body["id"]) == ["report.submitted"]


async def test_a_batch_with_one_bad_item_stores_the_others_and_names_the_bad_one(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await world_at_t0(db)
    good = [health_need(world.grid.id, world.resident.id) for _ in range(3)]
    bad = health_need(world.grid.id, world.resident.id)
    bad["details"] = {"category": "medicine_delivery", "services": ["deliver"], "reason": "housebound"}
    bad["details"]["team_has_seen"] = False
    elsewhere = health_need(world.bare_grid.id, None, new_resident={"name": "王五", "birth_on": "1940-01-01"})
    items = [good[0], bad, good[1], elsewhere, good[2]]
    response = await client.post(
        "/reports/batch", json={"reports": items}, headers=await auth_headers(client, world.sentinel)
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["stored"], result["replayed"], result["refused"]) == (3, 0, 2)
    assert [i["status"] for i in result["items"]] == [201, 422, 201, 404, 201]
    assert result["items"][1]["id"] == bad["id"]
    assert result["items"][1]["problem"]["errors"][0]["field"] == "body.reports.1.details.team_has_seen"
    assert result["items"][3]["problem"]["code"] == "not_found"
    stored = set(await db.scalars(select(SentinelReport.id)))
    assert stored == {uuid.UUID(g["id"]) for g in good}
    assert await db.scalar(select(func.count()).select_from(Deadline)) == 3
    # The phone sends the queue again: all replays, nothing new.
    again = await client.post(
        "/reports/batch", json={"reports": good}, headers=await auth_headers(client, world.sentinel)
    )
    assert [i["status"] for i in again.json()["items"]] == [200, 200, 200]
    too_many = [health_need(world.grid.id, world.resident.id) for _ in range(101)]
    over = await client.post(
        "/reports/batch", json={"reports": too_many}, headers=await auth_headers(client, world.sentinel)
    )
    assert over.status_code == 422


# ---------------------------------------------------------------- bad input


async def test_bad_reports_are_refused_naming_the_field(client: httpx.AsyncClient, db: AsyncSession) -> None:
    world = await world_at_t0(db)
    ok = health_need(world.grid.id, world.resident.id)
    cases: list[tuple[dict[str, Any], str]] = [
        (ok | {"resident_id": None}, "body.resident_id"),
        (ok | {"new_resident": {"name": "x", "birth_on": "1950-01-01"}}, "body.new_resident"),
        (ok | {"details": {"category": "health_need", "needs": [], "description": "x"}}, "details"),
        (ok | {"details": {"category": "unknown", "description": "x"}}, "details"),
        (ok | {"details": {"category": "other", "description": "bad\x00text"}}, "description"),
        (ok | {"observed_at": "2030-01-01T00:00:00Z"}, "body.observed_at"),
        (ok | {"extra": 1}, "extra"),
        (
            ok
            | {
                "resident_id": None,
                "new_resident": {"name": "赵六", "id_number": "500112198005170000"},
            },
            "body.new_resident.id_number",
        ),
        (
            ok | {"details": {"category": "new_key_population", "change": "new_population", "populations": []}},
            "body.details.populations",
        ),
    ]
    for body, field in cases:
        response = await submit(client, world, body | {"id": str(uuid.uuid4())})
        assert response.status_code == 422, (body, response.text)
        assert field in response.text, (field, response.text)
    # A resident of another grid.
    from tests.factories import make_resident

    stranger = await make_resident(db, await _unit(db, world.bare_grid.id))
    response = await submit(client, world, health_need(world.grid.id, stranger.id))
    assert response.status_code == 422
    assert "body.resident_id" in response.text
    # A grid the sentinel does not serve.
    response = await submit(client, world, health_need(world.bare_grid.id, None, new_resident={"name": "x"}))
    assert response.status_code == 404
    assert await db.scalar(select(func.count()).select_from(SentinelReport)) == 0


async def test_a_new_resident_draft_is_checked_like_a_resident(client: httpx.AsyncClient, db: AsyncSession) -> None:
    world = await world_at_t0(db)
    for birth_on in ("2026-03-03", "1850-06-01"):
        body = health_need(world.grid.id, None, new_resident={"name": "孙八", "birth_on": birth_on})
        response = await submit(client, world, body)
        assert response.status_code == 422, (birth_on, response.text)
        assert [e["field"] for e in response.json()["errors"]] == ["body.new_resident.birth_on"]
    assert await db.scalar(select(func.count()).select_from(SentinelReport)) == 0


async def test_a_new_resident_draft_keeps_no_identity_number_in_clear(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await world_at_t0(db)
    number = resident_id_number()
    body = health_need(
        world.grid.id,
        None,
        new_resident={"name": "钱七", "id_number": number, "phone": "13912345678", "address": "幸福路 2 号"},
        details={
            "category": "new_key_population",
            "change": "new_resident",
            "populations": ["elderly_65_plus"],
        },
    )
    body["details"]["populations"] = ["hypertension"]
    response = await submit(client, world, body)
    assert response.status_code == 201, response.text
    row = (await db.execute(text("select t::text from sentinel_report t"))).scalar_one()
    assert number not in row
    assert "13912345678" not in row
    full = await client.get(f"/reports/{body['id']}", headers=await auth_headers(client, world.leader))
    draft = full.json()["new_resident"]
    assert draft["id_number_masked"].startswith(number[:4]) or "*" in draft["id_number_masked"]
    assert number not in full.text
    assert draft["birth_on"] == "1980-05-17"  # taken from the resident ID


# ---------------------------------------------------------------- metrics


async def test_loop_metrics_per_grid_team_and_town(client: httpx.AsyncClient, db: AsyncSession) -> None:
    world = await world_at_t0(db)
    a = (await submit(client, world, health_need(world.grid.id, world.resident.id))).json()["id"]
    b = (await submit(client, world, urgent_risk(world.grid.id, world.resident.id))).json()["id"]
    c = (await submit(client, world, health_need(world.grid.id, world.resident.id))).json()["id"]
    clock.freeze(T0 + timedelta(hours=2))
    await change(client, world.paired, a, "report-in", {}, 1)
    await change(client, world.paired, b, "report-in", {}, 1)
    clock.freeze(T0 + timedelta(hours=10))
    await change(client, world.paired, a, "follow-ups", {"channel": "phone", "outcome": "reached"}, 2)
    clock.freeze(T0 + timedelta(hours=60))
    await change(client, world.paired, b, "follow-ups", {"channel": "home_visit", "outcome": "reached"}, 2)
    del c  # never reported in: overdue
    clock.freeze(T0 + timedelta(hours=100))
    headers = await auth_headers(client, world.supervisor)
    span = {"from": (T0 - timedelta(days=1)).isoformat(), "to": (T0 + timedelta(days=1)).isoformat()}
    for group_by, key in (("grid", world.grid.id), ("team", world.team.id), ("town", world.town.id)):
        response = await client.get(
            "/reports/metrics",
            params={"org_unit_id": str(world.town.id), "group_by": group_by, **span},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        [group] = response.json()["groups"]
        assert group["key"] == str(key)
        assert group["reports"] == 3
        assert group["by_category"]["health_need"] == 2
        assert group["by_category"]["urgent_risk"] == 1
        assert group["median_hours_to_report_in"] == 2.0
        assert group["median_hours_to_first_follow_up"] == 35.0  # median of 10 h and 60 h
        assert (group["due"], group["followed_up_within_sla"], group["share_followed_up_within_sla"]) == (3, 1, 0.3333)
        assert (group["open"], group["overdue"]) == (3, 1)
    empty = await client.get(
        "/reports/metrics",
        params={"org_unit_id": str(world.town.id), "from": "2020-01-01T00:00:00Z", "to": "2020-02-01T00:00:00Z"},
        headers=headers,
    )
    assert empty.json()["groups"] == []
    backwards = await client.get(
        "/reports/metrics",
        params={"org_unit_id": str(world.town.id), "from": "2020-02-01T00:00:00Z", "to": "2020-01-01T00:00:00Z"},
        headers=headers,
    )
    assert backwards.status_code == 422


async def _unit(db: AsyncSession, unit_id: uuid.UUID) -> Any:
    from services.core.org.models import OrgUnit

    return await db.get(OrgUnit, unit_id)
