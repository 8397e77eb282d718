"""Supervision over HTTP: read, issue and acknowledge a bulletin, correct it, ask for the running half year's
draft and the roll-up's readiness, and keep the rectification ledger from the attention list to 销号."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.deadlines import service as deadlines
from services.core.deadlines.models import Deadline
from services.core.notifications.models import Notification
from services.core.org.models import OrgUnit
from services.core.supervision import service
from services.core.supervision.halves import HalfYear
from services.core.supervision.models import Bulletin
from tests.factories import auth_headers
from tests.supervision_world import SupervisionWorld, _report, build_supervision_world, cn

H1 = HalfYear(2026, 1)


async def _bulletin(db: AsyncSession, world: SupervisionWorld) -> Bulletin:
    town = await db.get(OrgUnit, world.town.id)
    assert town is not None
    bulletin, _ = await service.produce_town(db, town, H1)
    return bulletin


async def test_the_town_supervisor_reads_and_issues_and_the_district_acknowledges(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await build_supervision_world(db)
    bulletin = await _bulletin(db, world)
    headers = await auth_headers(client, world.supervisor)
    read = await client.get(f"/supervision/bulletins/{bulletin.id}", headers=headers)
    assert read.status_code == 200, read.text
    assert read.headers["etag"] == '"1"'
    body = read.json()
    assert (body["edition"], body["status"], body["content_hash"]) == (1, "draft", bulletin.content_hash)
    assert body["figures"]["sections"]["staffing"]["town"]["grids"] == 3
    assert body["editions"] == [str(bulletin.id)]

    url = f"/supervision/bulletins/{bulletin.id}"
    assert (await client.post(f"{url}/issue", headers=headers)).status_code == 428
    assert (await client.post(f"{url}/issue", headers=headers | {"If-Match": '"7"'})).status_code == 412
    issued = await client.post(f"{url}/issue", headers=headers | {"If-Match": '"1"'})
    assert issued.status_code == 200, issued.text
    assert issued.json()["status"] == "issued"
    again = await client.post(f"{url}/issue", headers=headers | {"If-Match": issued.headers["etag"]})
    assert again.status_code == 409
    assert again.json()["code"] == "illegal_transition"
    # the supervisor may not acknowledge; the commission does
    refused = await client.post(f"{url}/acknowledge", headers=headers | {"If-Match": issued.headers["etag"]})
    assert refused.status_code == 403
    commission = await auth_headers(client, world.commission)
    acknowledged = await client.post(f"{url}/acknowledge", headers=commission | {"If-Match": issued.headers["etag"]})
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["status"] == "acknowledged"
    listed = await client.get("/supervision/bulletins?period=2026H1&kind=town", headers=commission)
    assert [b["id"] for b in listed.json()["items"]] == [str(bulletin.id)]
    # the other town's supervisor does not see it
    other = await auth_headers(client, world.other_supervisor)
    assert (await client.get(url, headers=other)).status_code == 404


async def test_outputs_are_a_workbook_a_printable_page_and_json(client: httpx.AsyncClient, db: AsyncSession) -> None:
    world = await build_supervision_world(db)
    bulletin = await _bulletin(db, world)
    headers = await auth_headers(client, world.steward)  # an institution steward of the town reads it
    workbook = await client.get(f"/supervision/bulletins/{bulletin.id}/workbook", headers=headers)
    assert workbook.status_code == 200, workbook.text
    assert workbook.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert workbook.headers["content-disposition"] == 'attachment; filename="supervision-2026H1-1.xlsx"'
    assert workbook.content[:2] == b"PK"
    page = await client.get(f"/supervision/bulletins/{bulletin.id}/page", headers=headers)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<svg" in page.text
    assert "http://" not in page.text.replace("http://www.w3.org/2000/svg", "")


async def test_a_correction_over_http_is_a_new_edition_and_equal_figures_are_refused(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await build_supervision_world(db)
    bulletin = await _bulletin(db, world)
    headers = await auth_headers(client, world.supervisor) | {"If-Match": '"1"'}
    url = f"/supervision/bulletins/{bulletin.id}/corrections"
    same = await client.post(url, headers=headers, json={"reason": "复核"})
    assert same.status_code == 409
    assert same.json()["code"] == "no_change"
    blank = await client.post(url, headers=headers, json={"reason": ""})
    assert blank.status_code == 422
    assert blank.json()["errors"][0]["field"] == "body.reason"
    await _report(
        db, world.g3, world.v2, world.town, world.team_a, world.supervisor, category="other", submitted_at=cn(4, 4)
    )
    corrected = await client.post(url, headers=headers, json={"reason": "补录四月上报"})
    assert corrected.status_code == 201, corrected.text
    body = corrected.json()
    assert (body["edition"], body["supersedes_id"], body["correction_reason"]) == (2, str(bulletin.id), "补录四月上报")
    assert corrected.headers["location"] == f"/supervision/bulletins/{body['id']}"
    assert body["editions"] == [str(bulletin.id), body["id"]]
    first = await client.get(f"/supervision/bulletins/{bulletin.id}", headers=headers)
    assert first.json()["status"] == "superseded"
    assert first.json()["figures"]["sections"]["reports"]["town"]["reports"] == 6


async def test_the_running_half_year_is_a_draft_on_demand_and_bad_periods_are_named(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await build_supervision_world(db)
    clock.freeze(cn(8, 15))
    headers = await auth_headers(client, world.supervisor)
    draft = await client.get(f"/supervision/draft?org_unit_id={world.town.id}&period=2026H2", headers=headers)
    assert draft.status_code == 200, draft.text
    assert draft.json()["figures"]["as_of"].startswith("2026-08-14T16:00")
    for bad in ("2026H3", "26H1", "2026-H1", "2027H1"):
        refused = await client.get(f"/supervision/draft?org_unit_id={world.town.id}&period={bad}", headers=headers)
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "query.period"
    village = await client.get(f"/supervision/draft?org_unit_id={world.v1.id}&period=2026H2", headers=headers)
    assert village.status_code == 422
    assert village.json()["errors"][0]["field"] == "query.org_unit_id"
    assert await db.scalar(select(Bulletin.id)) is None  # a draft is not stored


async def test_the_rollup_status_lists_the_towns_still_missing(client: httpx.AsyncClient, db: AsyncSession) -> None:
    world = await build_supervision_world(db)
    await _bulletin(db, world)
    headers = await auth_headers(client, world.commission)
    status = await client.get(
        f"/supervision/rollup-status?org_unit_id={world.district.id}&period=2026H1", headers=headers
    )
    assert status.status_code == 200, status.text
    body = status.json()
    assert body["ready"] is False
    assert body["rollup_id"] is None
    assert [(t["name"], t["status"]) for t in body["missing_towns"]] == [
        (world.town.name, "draft"),
        (world.other_town.name, None),
    ]


async def test_the_ledger_from_the_attention_list_to_verified(client: httpx.AsyncClient, db: AsyncSession) -> None:
    world = await build_supervision_world(db)
    bulletin = await _bulletin(db, world)
    supervisor = await auth_headers(client, world.supervisor)
    item_id = str(uuid.uuid4())
    body = {
        "id": item_id,
        "bulletin_id": str(bulletin.id),
        "org_unit_id": str(world.g1.id),
        "owner_id": str(world.owner.id),
        "due_on": "2026-07-31",
    }
    unlisted = await client.post("/supervision/rectifications", headers=supervisor, json=body)
    assert unlisted.status_code == 422  # G1 needs no attention
    assert unlisted.json()["errors"][0]["field"] == "body.org_unit_id"
    body["org_unit_id"] = str(world.g2.id)
    past = await client.post("/supervision/rectifications", headers=supervisor, json=body | {"due_on": "2026-01-01"})
    assert past.status_code == 422
    assert past.json()["errors"][0]["field"] == "body.due_on"
    created = await client.post("/supervision/rectifications", headers=supervisor, json=body)
    assert created.status_code == 201, created.text
    item = created.json()
    assert (
        item["problem"]
        == "有哨兵未与团队成员结对；网格长未与团队长结对；逾期未随访上报 1 件；按时随访率 0.0%，低于 90.0%"
    )
    assert (item["status"], item["overdue"]) == ("open", False)
    replay = await client.post("/supervision/rectifications", headers=supervisor, json=body)
    assert replay.status_code == 200
    assert replay.headers["idempotent-replayed"] == "true"
    other = await client.post("/supervision/rectifications", headers=supervisor, json=body | {"due_on": "2026-08-31"})
    assert other.status_code == 409

    url = f"/supervision/rectifications/{item_id}"
    owner = await auth_headers(client, world.owner)
    started = await client.post(f"{url}/start", headers=owner | {"If-Match": '"1"'})
    assert started.status_code == 200, started.text
    # the clock: due at the end of 31 July (China time); at breach the owner and the town's supervisors hear
    clock_row = await db.scalar(select(Deadline).where(Deadline.subject_id == uuid.UUID(item_id)))
    assert clock_row is not None
    assert clock_row.due_at == cn(8, 1)
    clock.freeze(cn(8, 1) + timedelta(hours=1))
    await deadlines.sweep(db)
    told = set(
        await db.scalars(
            select(Notification.user_id).where(
                Notification.subject_id == uuid.UUID(item_id), Notification.kind == "deadline.breach"
            )
        )
    )
    assert told == {world.owner.id, world.supervisor.id}
    supervisor = await auth_headers(client, world.supervisor)  # a month later: new sessions
    owner = await auth_headers(client, world.owner)
    listed = await client.get(f"/supervision/rectifications?org_unit_id={world.v1.id}", headers=supervisor)
    row = next(i for i in listed.json()["items"] if i["id"] == item_id)
    assert row["overdue"] is True

    no_evidence = await client.post(f"{url}/resolve", headers=owner | {"If-Match": started.headers["etag"]}, json={})
    assert no_evidence.status_code == 422
    resolved = await client.post(
        f"{url}/resolve", headers=owner | {"If-Match": started.headers["etag"]}, json={"evidence": "已结对，附结对表"}
    )
    assert resolved.status_code == 200, resolved.text
    assert (await db.get(Deadline, clock_row.id, populate_existing=True)).met_at is not None  # type: ignore[union-attr]
    owner_verifies = await client.post(f"{url}/verify", headers=owner | {"If-Match": resolved.headers["etag"]})
    assert owner_verifies.status_code == 403  # 销号 is the supervisor's
    verified = await client.post(f"{url}/verify", headers=supervisor | {"If-Match": resolved.headers["etag"]})
    assert verified.status_code == 200
    assert verified.json()["status"] == "verified"
    reopened = await client.post(
        f"{url}/reopen", headers=supervisor | {"If-Match": verified.headers["etag"]}, json={"reason": "复查未落实"}
    )
    assert reopened.status_code == 200
    assert (reopened.json()["status"], reopened.json()["reopened"], reopened.json()["verified_at"]) == (
        "in_progress",
        1,
        None,
    )
    # someone else's item: a community steward of another village may not work on it
    assert (await client.get(url, headers=await auth_headers(client, world.other_supervisor))).status_code == 404


async def test_the_district_issues_the_rollup_and_the_assessment_and_sees_a_stale_rollup(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await build_supervision_world(db)
    town_bulletin = await _bulletin(db, world)
    other = await db.get(OrgUnit, world.other_town.id)
    assert other is not None
    other_bulletin, _ = await service.produce_town(db, other, H1)
    district = await db.get(OrgUnit, world.district.id)
    assert district is not None
    assessment, _ = await service.produce_assessment(db, district, H1)
    # ids read now: a refused request rolls the shared session back and expires the rows
    town_id, other_id, assessment_id = str(town_bulletin.id), str(other_bulletin.id), str(assessment.id)
    for supervisor, bulletin_id in ((world.supervisor, town_id), (world.other_supervisor, other_id)):
        issued = await client.post(
            f"/supervision/bulletins/{bulletin_id}/issue",
            headers=await auth_headers(client, supervisor) | {"If-Match": '"1"'},
        )
        assert issued.status_code == 200, issued.text
    commission = await auth_headers(client, world.commission)
    status_url = f"/supervision/rollup-status?org_unit_id={world.district.id}&period=2026H1"
    status = (await client.get(status_url, headers=commission)).json()
    assert status["ready"] is True
    assert status["missing_towns"] == []
    assert status["rollup_stale"] is False
    rollup_id = status["rollup_id"]
    # a town supervisor sees neither the roll-up nor the assessment (the district's)
    town_side = await auth_headers(client, world.supervisor)
    assert (await client.get(f"/supervision/bulletins/{rollup_id}", headers=town_side)).status_code == 404
    for snapshot_id in (rollup_id, assessment_id):
        issued = await client.post(
            f"/supervision/bulletins/{snapshot_id}/issue", headers=commission | {"If-Match": '"1"'}
        )
        assert issued.status_code == 200, issued.text
        assert issued.json()["status"] == "issued"
    # the town corrects its bulletin after the roll-up: the roll-up says it is stale until corrected
    await _report(
        db, world.g3, world.v2, world.town, world.team_a, world.supervisor, category="other", submitted_at=cn(4, 4)
    )
    corrected = await client.post(
        f"/supervision/bulletins/{town_id}/corrections",
        headers=town_side | {"If-Match": '"2"'},
        json={"reason": "补录"},
    )
    assert corrected.status_code == 201, corrected.text
    reissued = await client.post(
        f"/supervision/bulletins/{corrected.json()['id']}/issue", headers=town_side | {"If-Match": '"1"'}
    )
    assert reissued.status_code == 200
    assert (await client.get(status_url, headers=commission)).json()["rollup_stale"] is True
    fixed = await client.post(
        f"/supervision/bulletins/{rollup_id}/corrections",
        headers=commission | {"If-Match": '"2"'},
        json={"reason": "龙溪街道通报更正"},
    )
    assert fixed.status_code == 201, fixed.text
    towns = {t["bulletin"]["id"] for t in fixed.json()["figures"]["towns"]}
    assert towns == {corrected.json()["id"], other_id}
    assert (await client.get(status_url, headers=commission)).json()["rollup_stale"] is False
