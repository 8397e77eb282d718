"""The plan's standing duties: work days, livestreams and yearly submissions recorded over the API; each
check fires once at its time (China midnight) and not when the duty was met; the figures equal hand counts."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.duties import checks, metrics
from services.core.notifications.models import Notification
from services.core.notifications.templates import CHINA_TIME
from services.core.signing.models import Contact
from tests.duty_world import DutyWorld, build_duty_world
from tests.factories import auth_headers, make_resident, make_signing, make_team

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CJK = re.compile(r"[\u4e00-\u9fff]")


def cn(*parts: int) -> datetime:
    """An instant given in China time."""
    return datetime(*parts, tzinfo=CHINA_TIME)  # type: ignore[misc]


BUILT = cn(2026, 9, 20, 9)


async def _inbox(db: AsyncSession, user: Any) -> list[Notification]:
    return list(
        await db.scalars(select(Notification).where(Notification.user_id == user.id).order_by(Notification.created_at))
    )


def _readable(item: Notification) -> None:
    """In Chinese by default, and never an id."""
    assert CJK.search(item.title), item.title
    assert CJK.search(item.body), item.body
    assert not UUID_RE.search(item.title + item.body), (item.title, item.body)


async def _work_day(
    client: httpx.AsyncClient, user: Any, team: Any, held_on: date, units: list[Any], **over: Any
) -> httpx.Response:
    body = {
        "id": str(uuid.uuid4()),
        "held_on": held_on.isoformat(),
        "unit_ids": [str(u.id) for u in units],
        "activities": ["consultation", "signing"],
        "residents_served": 40,
    } | over
    return await client.post(f"/teams/{team.id}/work-days", json=body, headers=await auth_headers(client, user))


# ---------------------------------------------------------------- work days


async def test_a_team_member_records_a_work_day_in_the_teams_village_and_a_retry_is_the_same(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    w = await build_duty_world(db, at=BUILT)
    clock.freeze(cn(2026, 10, 10, 18))
    body = {
        "id": str(uuid.uuid4()),
        "held_on": "2026-10-10",
        "unit_ids": [str(w.village.id), str(w.grid.id)],
        "activities": ["consultation", "health_check"],
        "residents_served": 57,
        "notes": "义诊与慢病筛查",
    }
    headers = await auth_headers(client, w.member_a)
    created = await client.post(f"/teams/{w.team_a.id}/work-days", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == f"/work-days/{body['id']}"
    assert [u["name"] for u in created.json()["units"]] == ["空港社区", "第一网格"]
    again = await client.post(f"/teams/{w.team_a.id}/work-days", json=body, headers=headers)
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    changed = await client.post(
        f"/teams/{w.team_a.id}/work-days", json=body | {"residents_served": 58}, headers=headers
    )
    assert changed.status_code == 409, changed.text
    supervisor = await auth_headers(client, w.supervisor)
    listed = await client.get(f"/teams/{w.team_a.id}/work-days?from=2026-10-01&to=2026-10-31", headers=supervisor)
    assert [i["id"] for i in listed.json()["items"]] == [body["id"]]
    one = await client.get(f"/work-days/{body['id']}", headers=supervisor)
    assert one.status_code == 200
    assert one.json()["residents_served"] == 57


async def test_work_days_are_the_teams_own_and_in_its_area(client: httpx.AsyncClient, db: AsyncSession) -> None:
    w = await build_duty_world(db, at=BUILT)
    clock.freeze(cn(2026, 10, 10, 18))
    other_team = await _work_day(client, w.leader_b, w.team_a, date(2026, 10, 10), [w.village])
    assert other_team.status_code == 403, other_team.text
    assert other_team.json()["code"] == "not_team_member"
    outside = await _work_day(client, w.leader_a, w.team_a, date(2026, 10, 10), [w.other_grid])
    assert outside.status_code == 422, outside.text
    assert [e["field"] for e in outside.json()["errors"]] == ["body.unit_ids.0"]
    future = await _work_day(client, w.leader_a, w.team_a, date(2026, 10, 11), [w.village])
    assert [e["field"] for e in future.json()["errors"]] == ["body.held_on"]
    before = await _work_day(client, w.leader_a, w.team_a, date(2026, 9, 1), [w.village])
    assert [e["field"] for e in before.json()["errors"]] == ["body.unit_ids.0"]  # not yet responsible then
    three = await _work_day(client, w.leader_a, w.team_a, date(2026, 10, 10), [w.village, w.grid, w.other_grid])
    assert three.status_code == 422
    assert three.json()["errors"][0]["field"].startswith("body.unit_ids")
    twice = await _work_day(client, w.leader_a, w.team_a, date(2026, 10, 10), [w.grid, w.grid])
    assert [e["field"] for e in twice.json()["errors"]] == ["body.unit_ids"]
    negative = await _work_day(client, w.leader_a, w.team_a, date(2026, 10, 10), [w.grid], residents_served=-1)
    assert negative.status_code == 422
    assert negative.json()["errors"][0]["field"] == "body.residents_served"
    stranger = await _work_day(
        client, w.leader_a, w.team_a, date(2026, 10, 10), [w.grid], resident_ids=[str(uuid.uuid4())]
    )
    assert [e["field"] for e in stranger.json()["errors"]] == ["body.resident_ids.0"]
    supervisor_writes = await _work_day(client, w.supervisor, w.team_a, date(2026, 10, 10), [w.grid])
    assert supervisor_writes.status_code == 403


async def test_the_monthly_check_tells_the_leader_of_a_team_without_a_work_day_once_at_china_midnight(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    w = await build_duty_world(db, at=BUILT)
    clock.freeze(cn(2026, 10, 15, 9))
    await make_team(db, w.institution)  # formed mid-October: judged from November on
    clock.freeze(cn(2026, 10, 31, 20))
    assert (await _work_day(client, w.leader_a, w.team_a, date(2026, 10, 31), [w.grid])).status_code == 201
    clock.freeze(cn(2026, 10, 31, 23, 59))  # still October in China (15:59 UTC): nothing is over yet
    assert await checks.work_days(db) == (0, False)
    clock.freeze(cn(2026, 11, 1, 0, 0))
    assert await checks.work_days(db) == (1, False)  # team B only: A held one, the new team was not there all month
    assert await checks.work_days(db) == (0, False)  # a re-run tells nobody again
    clock.advance(timedelta(days=3))
    assert await checks.work_days(db) == (0, False)
    told = [n for n in await _inbox(db, w.leader_b) if n.kind == "duty.work_day"]
    assert len(told) == 1
    _readable(told[0])
    assert "2026年10月" in told[0].title
    assert w.team_b.name in told[0].title
    assert [n for n in await _inbox(db, w.leader_a) if n.kind == "duty.work_day"] == []  # held one on 31 October
    assert [n for n in await _inbox(db, w.member_a) if n.kind == "duty.work_day"] == []  # the leader is told


# ---------------------------------------------------------------- livestreams


async def test_the_weekly_check_tells_the_steward_when_no_livestream_reached_30_minutes(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    w = await build_duty_world(db, at=BUILT)
    clock.freeze(cn(2026, 10, 12, 9))
    short = {
        "started_at": "2026-10-06T20:00:00+08:00",
        "duration_minutes": 29,
        "topic": "秋季流感预防",
        "questions_answered": 12,
    }
    # The last minutes of Sunday, China time (15:30 UTC), belong to the week that is over.
    long = {
        "started_at": "2026-10-11T23:30:00+08:00",
        "duration_minutes": 45,
        "topic": "高血压用药",
        "questions_answered": 8,
    }
    answered = await client.post(
        f"/institutions/{w.hospital.id}/livestreams", json=short, headers=await auth_headers(client, w.hospital_steward)
    )
    assert answered.status_code == 201, answered.text
    assert answered.json()["counts_for_week"] is False
    answered = await client.post(
        f"/institutions/{w.tcm_hospital.id}/livestreams", json=long, headers=await auth_headers(client, w.tcm_steward)
    )
    assert answered.status_code == 201, answered.text
    assert answered.json()["counts_for_week"] is True
    # Monday 12 October, China midnight, was before this morning: the week 5-11 October is judged.
    assert await checks.livestreams(db) == (1, False)
    assert await checks.livestreams(db) == (0, False)
    told = [n for n in await _inbox(db, w.hospital_steward) if n.kind == "duty.livestream"]
    assert len(told) == 1
    _readable(told[0])
    assert "2026年10月5日至2026年10月11日" in told[0].body
    assert [n for n in await _inbox(db, w.tcm_steward) if n.kind == "duty.livestream"] == []
    assert [n for n in await _inbox(db, w.centre_steward) if n.kind == "duty.livestream"] == []  # not district level


async def test_a_steward_records_only_its_own_institutions_livestream(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    w = await build_duty_world(db, at=BUILT)
    clock.freeze(cn(2026, 10, 12, 9))
    body = {
        "started_at": "2026-10-06T20:00:00+08:00",
        "duration_minutes": 40,
        "topic": "儿童保健",
        "questions_answered": 3,
    }
    headers = await auth_headers(client, w.centre_steward)  # the town's health centre, not the district hospital
    assert (
        await client.post(f"/institutions/{w.hospital.id}/livestreams", json=body, headers=headers)
    ).status_code == 404
    future = await client.post(
        f"/institutions/{w.institution.id}/livestreams",
        json=body | {"started_at": "2026-10-13T20:00:00+08:00"},
        headers=headers,
    )
    assert [e["field"] for e in future.json()["errors"]] == ["body.started_at"]
    zero = await client.post(
        f"/institutions/{w.institution.id}/livestreams", json=body | {"duration_minutes": 0}, headers=headers
    )
    assert zero.status_code == 422
    assert zero.json()["errors"][0]["field"] == "body.duration_minutes"
    member = await auth_headers(client, w.member_a)
    assert (
        await client.post(f"/institutions/{w.institution.id}/livestreams", json=body, headers=member)
    ).status_code == 403


# ---------------------------------------------------------------- the quarterly contacts


async def _signed(db: AsyncSession, w: DutyWorld, team: Any, grid: Any, name: str, *, reached: bool) -> Any:
    resident = await make_resident(db, grid, name=name)
    signing = await make_signing(db, resident, team, signed_by=w.admin.id, starts_on=date(2026, 9, 20))
    if reached:
        db.add(
            Contact(
                district_id=resident.district_id,
                resident_id=resident.id,
                signing_id=signing.id,
                team_id=team.id,
                channel="phone",
                outcome="reached",
                contacted_at=cn(2026, 10, 8, 10),
                recorded_by=w.admin.id,
                team_member_id=await _member_id(db, team),
            )
        )
        await db.flush()
    return resident


async def _member_id(db: AsyncSession, team: Any) -> Any:
    from services.core.teams.models import TeamMember

    return await db.scalar(select(TeamMember.id).where(TeamMember.team_id == team.id).limit(1))


async def test_a_month_before_the_quarter_ends_each_member_hears_who_is_not_yet_reached(db: AsyncSession) -> None:
    w = await build_duty_world(db, at=BUILT)
    await _signed(db, w, w.team_a, w.grid, "张三丰", reached=True)
    await _signed(db, w, w.team_a, w.grid, "李四海", reached=False)
    await _signed(db, w, w.team_a, w.grid, "王五洲", reached=False)
    await _signed(db, w, w.team_b, w.other_grid, "赵六合", reached=True)  # team B met its duty
    clock.freeze(cn(2026, 11, 30, 23, 59))
    assert await checks.contacts(db) == (0, False)
    clock.freeze(cn(2026, 12, 1, 0, 0))
    assert await checks.contacts(db) == (2, False)  # team A's leader and member
    assert await checks.contacts(db) == (0, False)
    for user in (w.leader_a, w.member_a):
        told = [n for n in await _inbox(db, user) if n.kind == "duty.quarterly_contact"]
        assert len(told) == 1
        _readable(told[0])
        assert "2名" in told[0].title
        assert "李**" in told[0].body
        assert "王**" in told[0].body
        assert "张**" not in told[0].body
        assert "李四海" not in told[0].body  # masked, even for the team
    assert [n for n in await _inbox(db, w.leader_b) if n.kind == "duty.quarterly_contact"] == []


async def test_the_contact_reminder_names_residents_only_to_readers_who_may_see_them(db: AsyncSession) -> None:
    from sqlalchemy import update

    from services.core.accounts.models import RoleGrant

    w = await build_duty_world(db, at=BUILT)
    await _signed(db, w, w.team_a, w.grid, "李四海", reached=False)
    # The member's account now reads no residents (its only grant is moved to the other town).
    await db.execute(update(RoleGrant).where(RoleGrant.user_id == w.member_a.id).values(org_unit_id=w.other_town.id))
    clock.freeze(cn(2026, 12, 2, 9))
    assert await checks.contacts(db) == (2, False)
    leader = [n for n in await _inbox(db, w.leader_a) if n.kind == "duty.quarterly_contact"][0]
    member = [n for n in await _inbox(db, w.member_a) if n.kind == "duty.quarterly_contact"][0]
    assert "李**" in leader.body
    assert "李" not in member.body
    assert "1名" in member.title
    _readable(member)


# ---------------------------------------------------------------- the roster and the annual summary


async def test_the_roster_reminds_before_10_july_and_tells_after_it_once_per_recipient(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    w = await build_duty_world(db, at=BUILT)
    other_steward = await _other_town_steward(db, w)
    clock.freeze(cn(2027, 7, 1, 9))
    handed_in = await client.post(
        "/duty-submissions",
        json={
            "duty": "roster",
            "year": 2027,
            "org_unit_id": str(w.other_town.id),
            "attachment_name": "龙溪街道成员明细表.xlsx",
        },
        headers=await auth_headers(client, other_steward),
    )
    assert handed_in.status_code == 201, handed_in.text
    assert handed_in.json()["late"] is False
    assert handed_in.json()["due_on"] == "2027-07-10"
    clock.freeze(cn(2027, 7, 2, 23, 59))
    assert await checks.due_dates(db) == (0, False)
    clock.freeze(cn(2027, 7, 3, 0, 0))
    assert await checks.due_dates(db) == (3, False)  # the administrator, the town's supervisor and its steward
    assert await checks.due_dates(db) == (0, False)
    clock.freeze(cn(2027, 7, 10, 23, 59))
    assert await checks.due_dates(db) == (0, False)
    clock.freeze(cn(2027, 7, 11, 0, 0))
    assert await checks.due_dates(db) == (3, False)
    assert await checks.due_dates(db) == (0, False)
    for user in (w.admin, w.supervisor, w.centre_steward):
        told = [n for n in await _inbox(db, user) if n.kind == "duty.roster"]
        assert [n.title[:2] for n in told] == ["提醒", "已逾"], [n.title for n in told]
        for item in told:
            _readable(item)
            assert "两路街道" in item.body
            assert "龙溪街道" not in item.body
            assert "2027年7月10日" in item.body
    for user in (w.other_supervisor, other_steward, w.hospital_steward):
        assert [n for n in await _inbox(db, user) if n.kind == "duty.roster"] == []


async def _other_town_steward(db: AsyncSession, w: DutyWorld) -> Any:
    from tests.duty_world import _steward
    from tests.factories import make_institution

    return await _steward(db, await make_institution(db, w.other_town), w.other_town)


async def test_a_submission_names_its_town_and_what_was_handed_in(client: httpx.AsyncClient, db: AsyncSession) -> None:
    w = await build_duty_world(db, at=BUILT)
    clock.freeze(cn(2026, 12, 1, 9))
    headers = await auth_headers(client, w.centre_steward)
    empty = await client.post(
        "/duty-submissions",
        json={"duty": "annual_summary", "year": 2026, "org_unit_id": str(w.town.id)},
        headers=headers,
    )
    assert [e["field"] for e in empty.json()["errors"]] == ["body.content"]
    village = await client.post(
        "/duty-submissions",
        json={"duty": "annual_summary", "year": 2026, "org_unit_id": str(w.village.id), "content": "x"},
        headers=headers,
    )
    assert [e["field"] for e in village.json()["errors"]] == ["body.org_unit_id"]
    late = await client.post(
        "/duty-submissions",
        json={
            "duty": "annual_summary",
            "year": 2026,
            "org_unit_id": str(w.town.id),
            "institution_id": str(w.institution.id),
            "content": "2026年家医网格双向赋能工作总结",
        },
        headers=headers,
    )
    assert late.status_code == 201, late.text
    assert late.json()["late"] is True
    assert late.json()["submitted_by"] == str(w.centre_steward.id)
    listed = await client.get("/duty-submissions?year=2026", headers=await auth_headers(client, w.supervisor))
    assert [i["id"] for i in listed.json()["items"]] == [late.json()["id"]]
    elsewhere = await client.get("/duty-submissions", headers=await auth_headers(client, w.other_supervisor))
    assert elsewhere.json()["items"] == []
    refused = await client.post(
        "/duty-submissions",
        json={"duty": "roster", "year": 2026, "org_unit_id": str(w.town.id), "content": "x"},
        headers=await auth_headers(client, w.supervisor),
    )
    assert refused.status_code == 403


# ---------------------------------------------------------------- the figures


async def test_the_duty_figures_of_a_small_world_equal_the_hand_count(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    w = await build_duty_world(db, at=BUILT)
    await _signed(db, w, w.team_a, w.grid, "张三丰", reached=True)
    await _signed(db, w, w.team_a, w.grid, "李四海", reached=False)
    await _signed(db, w, w.team_b, w.other_grid, "赵六合", reached=True)
    clock.freeze(cn(2026, 11, 20, 9))
    # Team A: 10 Oct in the village and its grid; 31 Oct in the grid; 3 Nov in the grid -> in October two days,
    # one month, one village, two units, 40+25 residents.
    assert (await _work_day(client, w.leader_a, w.team_a, date(2026, 10, 10), [w.village, w.grid])).status_code == 201
    assert (
        await _work_day(client, w.member_a, w.team_a, date(2026, 10, 31), [w.grid], residents_served=25)
    ).status_code == 201
    assert (await _work_day(client, w.leader_a, w.team_a, date(2026, 11, 3), [w.grid])).status_code == 201
    steward = await auth_headers(client, w.hospital_steward)
    for started, minutes in (
        ("2026-10-06T20:00:00+08:00", 45),
        ("2026-10-08T20:00:00+08:00", 30),
        ("2026-10-14T20:00:00+08:00", 20),
    ):
        body = {"started_at": started, "duration_minutes": minutes, "topic": "健康讲座", "questions_answered": 5}
        assert (
            await client.post(f"/institutions/{w.hospital.id}/livestreams", json=body, headers=steward)
        ).status_code == 201
    october = (date(2026, 10, 1), date(2026, 11, 1))
    days = await metrics.work_days(db, period=october, team_ids=[w.team_a.id, w.team_b.id])
    assert days[w.team_a.id] == metrics.WorkDayFigures(
        days_held=2, months_held=1, villages_covered=1, units_covered=2, residents_served=65
    )
    assert days[w.team_b.id] == metrics.WorkDayFigures()
    autumn = await metrics.work_days(db, period=(date(2026, 10, 1), date(2027, 1, 1)), team_ids=[w.team_a.id])
    assert (autumn[w.team_a.id].days_held, autumn[w.team_a.id].months_held) == (3, 2)
    streams = await metrics.livestreams(db, period=october, institution_ids=[w.hospital.id, w.tcm_hospital.id])
    assert streams[w.hospital.id] == metrics.LivestreamFigures(
        held=3, qualifying=2, minutes=95, questions_answered=15, weeks_met=1
    )
    assert streams[w.tcm_hospital.id] == metrics.LivestreamFigures()
    duty = await metrics.contact_duty(db, quarter=(date(2026, 10, 1), date(2027, 1, 1)), on=date(2026, 11, 20))
    assert (duty[w.team_a.id].signed, duty[w.team_a.id].reached, duty[w.team_a.id].met) == (2, 1, False)
    assert (duty[w.team_b.id].signed, duty[w.team_b.id].reached, duty[w.team_b.id].met) == (1, 1, True)
    assert duty[w.team_a.id].rate == 0.5

    # The same figures over the API, for the town's supervisor.
    supervisor = await auth_headers(client, w.supervisor)
    answered = await client.get(
        f"/duties/metrics?org_unit_id={w.town.id}&from=2026-10-01&to=2026-11-01", headers=supervisor
    )
    assert answered.status_code == 200, answered.text
    teams = {t["team_id"]: t for t in answered.json()["teams"]}
    assert teams[str(w.team_a.id)]["work_days"] == {
        "days_held": 2,
        "months_held": 1,
        "villages_covered": 1,
        "units_covered": 2,
        "residents_served": 65,
    }
    [quarter] = teams[str(w.team_b.id)]["contact_duty"]
    assert (quarter["quarter_starts_on"], quarter["on"], quarter["signed"], quarter["met"]) == (
        "2026-10-01",
        "2026-11-20",
        1,
        True,
    )
    district = await client.get(
        f"/duties/metrics?org_unit_id={w.district.id}&from=2026-10-01&to=2026-11-01",
        headers=await auth_headers(client, w.admin),
    )
    streams = {i["institution_id"]: i["livestreams"] for i in district.json()["institutions"]}
    assert streams[str(w.hospital.id)]["weeks_met"] == 1
    backwards = await client.get(
        f"/duties/metrics?org_unit_id={w.town.id}&from=2026-11-01&to=2026-10-01", headers=supervisor
    )
    assert [e["field"] for e in backwards.json()["errors"]] == ["query.to"]
    elsewhere = await client.get(
        f"/duties/metrics?org_unit_id={w.town.id}&from=2026-10-01&to=2026-11-01",
        headers=await auth_headers(client, w.other_supervisor),
    )
    assert elsewhere.status_code == 404
