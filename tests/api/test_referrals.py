"""Two-way referral through the API: an upward referral from request to completion and the downward
one it spawns to follow-up (a team user and a HIS client), the clocks at their times (and on hold),
who sees what, consent, replays and the change feed. Time moves through core/clock."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.core import clock
from services.core.config import Settings
from services.core.deadlines import service as deadlines
from services.core.deadlines.models import Deadline, DeadlineStep
from services.core.notifications.models import Notification
from services.core.security.roles import Role
from tests.apps import shared_session_client
from tests.factories import auth_headers, make_user
from tests.referral_world import ReferralWorld, build_referral_world, consent, downward_body, upward_body

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 China time


@pytest.fixture
async def client(db: AsyncSession, settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The shared-session client without Redis: the clocks' step jobs would be deferred hours into the
    shared Redis; these tests drive the sweeper, which is the guarantee."""
    # Tokens outlive the days these tests move the clock through (each login is an argon2 check).
    long_lived = settings.model_copy(update={"access_token_ttl_seconds": 365 * 86400})
    async with shared_session_client(db, long_lived, engine=engine, redis=None) as c:
        yield c


class Caller:
    """One logged-in account; ``move`` sends a transition with the version last read."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.client, self.headers = client, headers

    async def post(self, path: str, body: dict[str, Any], version: int | None = None) -> httpx.Response:
        headers = self.headers | ({"If-Match": f'"{version}"'} if version is not None else {})
        return await self.client.post(path, json=body, headers=headers)

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(path, headers=self.headers)

    async def move(self, referral: dict[str, Any], action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.post(f"/referrals/{referral['id']}/{action}", body or {}, referral["version"])
        assert response.status_code == 200, response.text
        assert response.headers["ETag"] == f'"{response.json()["version"]}"'
        result: dict[str, Any] = response.json()
        return result


async def callers(client: httpx.AsyncClient, world: ReferralWorld) -> dict[str, Caller]:
    users = {"member": world.member, "leader": world.leader, "his": world.his, "desk": world.desk}
    users |= {"other_his": world.other_his, "commission": world.commission}
    return {name: Caller(client, await auth_headers(client, user)) for name, user in users.items()}


async def world_at_t0(db: AsyncSession) -> ReferralWorld:
    clock.freeze(T0 - timedelta(days=1))
    world = await build_referral_world(db, at=T0 - timedelta(days=1))
    clock.freeze(T0)
    return world


async def told(db: AsyncSession, user: Any, referral_id: str) -> list[str]:
    stmt = select(Notification.kind).where(
        Notification.user_id == user.id, Notification.subject_id == uuid.UUID(referral_id)
    )
    return sorted(await db.scalars(stmt))


async def clocks(db: AsyncSession, referral_id: str) -> dict[str, Deadline]:
    rows = await db.scalars(
        select(Deadline).where(Deadline.subject_id == uuid.UUID(referral_id)).execution_options(populate_existing=True)
    )
    return {d.kind: d for d in rows}


async def steps(db: AsyncSession, referral_id: str) -> list[tuple[str, str]]:
    rows = await db.execute(
        select(Deadline.kind, DeadlineStep.step)
        .join(DeadlineStep, DeadlineStep.deadline_id == Deadline.id)
        .where(Deadline.subject_id == uuid.UUID(referral_id))
        .order_by(DeadlineStep.scheduled_at, Deadline.kind)
    )
    return [(k, s) for k, s in rows.all()]


async def sweep_at(db: AsyncSession, at: datetime) -> int:
    clock.freeze(at)
    return (await deadlines.sweep(db)).fired


# ---------------------------------------------------------------- the loop


async def test_an_upward_referral_to_completion_and_the_downward_one_it_spawns_to_follow_up(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await world_at_t0(db)
    c = await callers(client, world)
    response = await c["member"].post("/referrals", upward_body(world))
    assert response.status_code == 201, response.text
    up = response.json()
    assert response.headers["Location"] == f"/referrals/{up['id']}"
    assert up["status"] == "requested"
    assert up["priority"]
    assert up["signed"]
    assert up["clinical"]
    assert up["from_team"]["id"] == str(world.team.id)
    assert up["to_institution"]["id"] == str(world.hospital.id)
    assert up["consent"]["recorded_by"] == str(world.member.id)
    assert await told(db, world.desk, up["id"]) == ["referral.requested"]

    seen = (await c["his"].get(f"/referrals/{up['id']}")).json()
    assert seen["reason"] == "血压控制不佳,需专科评估"  # the receiving institution reads the clinical text
    supervised = (await c["commission"].get(f"/referrals/{up['id']}")).json()
    assert supervised["clinical"] is False
    assert supervised["reason"] is None

    clock.freeze(T0 + timedelta(minutes=30))
    up = await c["his"].move(up, "receive")
    clock.freeze(T0 + timedelta(hours=3))
    appointment = (T0 + timedelta(days=1)).isoformat()
    up = await c["his"].move(
        up, "accept", {"appointment": {"at": appointment, "department": "心内科", "doctor": "李医生"}}
    )
    assert up["status"] == "accepted"
    assert up["appointment"]["doctor"] == "李医生"
    assert "referral.accepted" in await told(db, world.member, up["id"])
    title = await db.scalar(
        select(Notification.title).where(
            Notification.user_id == world.member.id, Notification.kind == "referral.accepted"
        )
    )
    assert title == "上转申请已接受"
    body = await db.scalar(
        select(Notification.body).where(
            Notification.user_id == world.member.id, Notification.kind == "referral.accepted"
        )
    )
    assert "2026-03-03 09:00" in (body or "")  # China time

    clock.freeze(T0 + timedelta(days=1, hours=1))
    up = await c["his"].move(up, "arrive")
    clock.freeze(T0 + timedelta(days=6))
    up = await c["his"].move(
        up,
        "complete",
        {
            "discharge_summary": "冠脉造影后 PCI,病情稳定出院",
            "continued_care": {
                "reason": "术后康复,需社区继续护理",
                "consent": consent(),
                "identifiers": [{"system": "urn:his:rmyy", "value": "DOWN-1"}],
            },
        },
    )
    assert up["status"] == "completed"
    assert up["discharge_summary"] == "冠脉造影后 PCI,病情稳定出院"
    assert len(up["children"]) == 1
    down = (await c["member"].get(f"/referrals/{up['children'][0]}")).json()
    assert down["direction"] == "downward"
    assert down["status"] == "requested"
    assert down["parent_id"] == up["id"]
    assert down["to_team"]["id"] == str(world.team.id)  # the team responsible for the resident's grid now
    assert "referral.requested" in await told(db, world.leader, down["id"])
    assert "referral.requested" in await told(db, world.centre_steward, down["id"])

    clock.freeze(T0 + timedelta(days=6, hours=4))
    down = await c["member"].move(down, "take-over")
    clock.freeze(T0 + timedelta(days=7))
    down = await c["leader"].move(
        down, "follow-up", {"channel": "home_visit", "outcome": "reached", "notes": "伤口愈合好"}
    )
    assert down["status"] == "followed_up"
    assert down["follow_up_notes"] == "伤口愈合好"
    down = await c["member"].move(down, "complete")
    assert [t["action"] for t in down["history"]] == ["request", "take_over", "follow_up", "complete"]
    assert [t["action"] for t in up["history"]] == ["request", "receive", "accept", "arrive", "complete"]

    # every clock met in time: no reminder, breach or escalation, even long after
    states = {k: d.state for k, d in (await clocks(db, up["id"])).items()}
    assert states == {"referral.receive": "met", "referral.decide": "met", "referral.no_show": "met"}
    states = {k: d.state for k, d in (await clocks(db, down["id"])).items()}
    assert states == {"referral.take_over": "met", "referral.follow_up": "met"}
    await sweep_at(db, T0 + timedelta(days=30))
    assert await steps(db, up["id"]) == []
    assert await steps(db, down["id"]) == []

    # the hospital's systems poll each change once, in order, with the version to drop stale ones
    feed = (await c["his"].get("/referrals/changes?limit=3")).json()
    rest = (await c["his"].get(f"/referrals/changes?cursor={feed['cursor']}")).json()
    types = [(i["type"], i["data"]["id"]) for i in feed["items"] + rest["items"]]
    assert feed["has_more"]
    assert not rest["has_more"]
    assert types == [
        ("referral.requested", up["id"]),
        ("referral.received", up["id"]),
        ("referral.accepted", up["id"]),
        ("referral.arrived", up["id"]),
        ("referral.completed", up["id"]),
        ("referral.requested", down["id"]),
        ("referral.taken_over", down["id"]),
        ("referral.followed_up", down["id"]),
        ("referral.completed", down["id"]),
    ]
    assert (feed["items"] + rest["items"])[5]["data"]["identifiers"] == [{"system": "urn:his:rmyy", "value": "DOWN-1"}]
    again = (await c["his"].get(f"/referrals/changes?cursor={rest['cursor']}")).json()
    assert again["items"] == []

    # the metrics the supervision bulletins use, per town, in SQL
    period = (
        f"org_unit_id={world.district.id}&from={T0.date()}T00:00:00Z&to={(T0 + timedelta(days=30)).date()}T00:00:00Z"
    )
    metrics = (await c["commission"].get(f"/referrals/metrics?{period}&group_by=town")).json()
    (row,) = metrics["rows"]
    assert row["key"] == str(world.town.id)
    assert (row["upward"], row["downward"], row["decided"], row["accepted"]) == (1, 1, 1, 1)
    assert row["acceptance_rate"] == 1.0
    assert row["median_hours_to_decision"] == 3.0
    assert (row["downward_taken_over_within_24h"], row["downward_followed_up_within_48h"], row["no_shows"]) == (1, 1, 0)
    by_institution = (await c["his"].get(f"/referrals/metrics?{period}&group_by=institution")).json()["rows"]
    assert [(r["key"], r["upward"], r["downward"]) for r in by_institution] == [(str(world.hospital.id), 1, 1)]


# ---------------------------------------------------------------- the clocks


async def test_each_clock_fires_at_its_time_and_a_clock_on_hold_does_not(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await world_at_t0(db)
    c = await callers(client, world)
    up = (await c["member"].post("/referrals", upward_body(world))).json()
    await sweep_at(db, T0 + timedelta(minutes=59))
    assert await steps(db, up["id"]) == []
    await sweep_at(db, T0 + timedelta(hours=1))
    assert await steps(db, up["id"]) == [("referral.receive", "reminder")]
    assert "deadline.reminder" in await told(db, world.desk, up["id"])
    await sweep_at(db, T0 + timedelta(hours=2))
    assert ("referral.receive", "breach") in await steps(db, up["id"])
    assert "deadline.breach" in await told(db, world.hospital_steward, up["id"])
    up = await c["desk"].move(up, "receive")  # late: the clock stays breached, nothing further
    assert (await clocks(db, up["id"]))["referral.receive"].state == "breached"

    clock.freeze(T0 + timedelta(hours=3))
    up = await c["desk"].move(up, "hold", {"reason": "等待床位"})
    assert (await clocks(db, up["id"]))["referral.decide"].paused_at is not None
    await sweep_at(db, T0 + timedelta(hours=40))  # the decision reminder (20 h) and breach (24 h) stand still
    assert [s for s in await steps(db, up["id"]) if s[0] == "referral.decide"] == []

    clock.freeze(T0 + timedelta(hours=40))
    up = await c["desk"].move(up, "resume")
    decide = (await clocks(db, up["id"]))["referral.decide"]
    assert decide.due_at == T0 + timedelta(hours=24 + 37)  # shifted by the 37 hours on hold
    await sweep_at(db, T0 + timedelta(hours=56, minutes=59))
    assert [s for s in await steps(db, up["id"]) if s[0] == "referral.decide"] == []
    await sweep_at(db, T0 + timedelta(hours=57))
    assert [s for s in await steps(db, up["id"]) if s[0] == "referral.decide"] == [("referral.decide", "reminder")]

    appointment = T0 + timedelta(hours=70)
    up = await c["his"].move(up, "accept", {"appointment": {"at": appointment.isoformat(), "department": "心内科"}})
    assert (await clocks(db, up["id"]))["referral.decide"].state == "met"
    await sweep_at(db, appointment + timedelta(hours=23))
    assert ("referral.no_show", "check") not in await steps(db, up["id"])
    await sweep_at(db, appointment + timedelta(hours=24))  # the day after the appointment, not arrived
    assert ("referral.no_show", "check") in await steps(db, up["id"])
    assert "deadline.check" in await told(db, world.member, up["id"])
    clock.freeze(appointment + timedelta(hours=25))
    up = await c["his"].move(up, "no-show")
    assert up["status"] == "no_show"

    # downward: taken over within 24 h of the request, first follow-up within 48 h of discharge
    clock.freeze(T0 + timedelta(days=5))
    discharged = T0 + timedelta(days=5) - timedelta(hours=6)
    down = (await c["his"].post("/referrals", downward_body(world, discharged_at=discharged.isoformat()))).json()
    kinds = await clocks(db, down["id"])
    assert kinds["referral.take_over"].due_at == T0 + timedelta(days=6)
    assert kinds["referral.follow_up"].due_at == discharged + timedelta(hours=48)
    await sweep_at(db, T0 + timedelta(days=5, hours=18))
    assert await steps(db, down["id"]) == [("referral.take_over", "reminder")]
    assert "deadline.reminder" in await told(db, world.member, down["id"])
    clock.freeze(T0 + timedelta(days=5, hours=20))
    down = await c["member"].move(down, "take-over")
    await sweep_at(db, T0 + timedelta(days=6, hours=1))  # met before its due time: no breach
    assert await steps(db, down["id"]) == [("referral.take_over", "reminder")]
    await sweep_at(db, discharged + timedelta(hours=48))
    assert ("referral.follow_up", "breach") in await steps(db, down["id"])
    assert "deadline.breach" in await told(db, world.leader, down["id"])


# ---------------------------------------------------------------- who sees what


async def test_a_his_of_another_institution_gets_404_and_lists_never_show_the_referral(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await world_at_t0(db)
    c = await callers(client, world)
    up = (await c["member"].post("/referrals", upward_body(world))).json()
    assert (await c["other_his"].get(f"/referrals/{up['id']}")).status_code == 404
    refused = await c["other_his"].post(f"/referrals/{up['id']}/receive", {}, up["version"])
    assert refused.status_code == 404, refused.text
    assert (await c["other_his"].get("/referrals")).json()["items"] == []
    assert (await c["other_his"].get("/referrals/changes")).json()["items"] == []
    assert [i["id"] for i in (await c["his"].get("/referrals")).json()["items"]] == [up["id"]]
    # the referring side may not do the receiver's steps (403 after the version check), and 409 from a wrong state
    assert (await c["member"].post(f"/referrals/{up['id']}/receive", {}, up["version"])).status_code == 403
    assert (await c["member"].post(f"/referrals/{up['id']}/receive", {})).status_code == 428
    assert (await c["his"].post(f"/referrals/{up['id']}/arrive", {}, up["version"])).status_code == 409
    assert (await c["his"].post(f"/referrals/{up['id']}/receive", {}, up["version"] + 1)).status_code == 412
    sentinel = await make_user(db, Role.SENTINEL, world.grid)
    assert (await client.get("/referrals", headers=await auth_headers(client, sentinel))).status_code == 403


async def test_a_referral_needs_the_patients_consent(client: httpx.AsyncClient, db: AsyncSession) -> None:
    world = await world_at_t0(db)
    c = await callers(client, world)
    body = upward_body(world)
    del body["consent"]
    response = await c["member"].post("/referrals", body)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "body.consent" in [e["field"] for e in response.json()["errors"]]
    late = upward_body(world, consent=consent(T0 + timedelta(hours=1)))
    response = await c["member"].post("/referrals", late)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.consent.given_at"]


async def test_a_replay_by_identifier_answers_the_stored_referral_and_another_body_is_409(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await world_at_t0(db)
    c = await callers(client, world)
    body = downward_body(world, identifiers=[{"system": "urn:his:rmyy", "value": "Z-1"}])
    first = await c["his"].post("/referrals", body)
    again = await c["his"].post("/referrals", body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    other = await c["his"].post("/referrals", body | {"reason": "另一个原因"})
    assert other.status_code == 409, other.text
    found = (await c["his"].get("/referrals?identifier=urn:his:rmyy|Z-1")).json()["items"]
    assert [i["id"] for i in found] == [first.json()["id"]]
    # found by the patient's ID number, for a hospital that does not know our resident id
    by_number = downward_body(world)
    del by_number["resident_id"]
    number = "110101199003071234"
    by_number["patient"] = {"id_number": number}
    assert (await c["his"].post("/referrals", by_number)).status_code == 422  # no such resident


# ---------------------------------------------------------------- the FHIR face


def fhir_valid(resource: dict[str, Any]) -> Any:
    """Validate a resource with fhir.resources (the R4B models: R4's ServiceRequest and Task, unchanged)."""
    from fhir.resources.R4B import get_fhir_model_class

    assert resource["resourceType"] in ("CapabilityStatement", "ServiceRequest", "Task", "Bundle", "OperationOutcome")
    return get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def fhir_service_request(world: ReferralWorld, identifier: str) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": "urn:his:rmyy", "value": identifier}],
        "status": "active",
        "intent": "order",
        "priority": "routine",
        "subject": {"reference": f"Patient/{world.resident.id}"},
        "requester": {"reference": f"Organization/{world.hospital.id}"},
        "performer": [{"reference": f"CareTeam/{world.team.id}"}],
        "reasonCode": [{"text": "脑卒中恢复期,需社区康复"}],
        "extension": [
            {
                "url": "https://gridcare.cn/fhir/StructureDefinition/informed-consent",
                "extension": [
                    {"url": "givenBy", "valueCode": "guardian"},
                    {"url": "method", "valueCode": "written"},
                    {"url": "givenAt", "valueDateTime": T0.isoformat()},
                ],
            }
        ],
    }


async def test_the_fhir_face_creates_conditionally_reads_searches_and_moves_a_task(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    world = await world_at_t0(db)
    c = await callers(client, world)
    metadata = await client.get("/fhir/metadata")
    assert metadata.headers["content-type"].startswith("application/fhir+json")
    fhir_valid(metadata.json())

    fhir_headers = {"Content-Type": "application/fhir+json", "If-None-Exist": "identifier=urn:his:rmyy|F-1"}
    body = fhir_service_request(world, "F-1")
    created = await client.post("/fhir/ServiceRequest", json=body, headers=c["his"].headers | fhir_headers)
    assert created.status_code == 201, created.text
    request = fhir_valid(created.json())
    assert request.status == "active"
    assert request.performer[-1].reference == f"CareTeam/{world.team.id}"
    again = await client.post("/fhir/ServiceRequest", json=body, headers=c["his"].headers | fhir_headers)
    assert again.status_code == 200
    assert again.json()["id"] == created.json()["id"]
    referral_id = created.json()["id"]

    task = await c["member"].get(f"/fhir/Task/{referral_id}")
    assert fhir_valid(task.json()).status == "requested"
    assert task.json()["focus"] == {"reference": f"ServiceRequest/{referral_id}"}
    moved = await client.put(
        f"/fhir/Task/{referral_id}",
        json=task.json() | {"status": "in-progress"},
        headers=c["member"].headers | {"Content-Type": "application/fhir+json", "If-Match": task.headers["ETag"]},
    )
    assert moved.status_code == 200, moved.text
    assert fhir_valid(moved.json()).businessStatus.text == "taken-over"
    stale = await client.put(
        f"/fhir/Task/{referral_id}",
        json=task.json() | {"status": "completed"},
        headers=c["member"].headers | {"Content-Type": "application/fhir+json", "If-Match": task.headers["ETag"]},
    )
    assert stale.status_code == 412
    assert fhir_valid(stale.json()).issue[0].code == "conflict"

    found = (await c["his"].get("/fhir/ServiceRequest?identifier=urn:his:rmyy|F-1")).json()
    assert fhir_valid(found).total == 1
    assert found["entry"][0]["resource"]["reasonCode"] == [{"text": "脑卒中恢复期,需社区康复"}]
    tasks = (await c["his"].get(f"/fhir/Task?patient=Patient/{world.resident.id}&status=in-progress")).json()
    assert [e["resource"]["id"] for e in tasks["entry"]] == [referral_id]

    # another hospital's HIS: 404 as an OperationOutcome, and its searches find nothing
    for path in (f"/fhir/ServiceRequest/{referral_id}", f"/fhir/Task/{referral_id}"):
        hidden = await c["other_his"].get(path)
        assert hidden.status_code == 404
        assert hidden.headers["content-type"].startswith("application/fhir+json")
        assert fhir_valid(hidden.json()).issue[0].code == "not-found"
    assert (await c["other_his"].get("/fhir/ServiceRequest?identifier=urn:his:rmyy|F-1")).json()["total"] == 0
    no_consent = fhir_service_request(world, "F-2")
    del no_consent["extension"]
    plain = {"Content-Type": "application/fhir+json"}
    refused = await client.post("/fhir/ServiceRequest", json=no_consent, headers=c["his"].headers | plain)
    assert refused.status_code == 422
    assert fhir_valid(refused.json()).issue[0].expression == ["ServiceRequest.extension"]


async def test_every_transition_publishes_its_event_to_the_webhook_outbox_with_the_thin_payload(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    """Each change goes through ``core.webhooks.service.emit`` in its own transaction: one outbox message per
    event for the subscribed institution, ``{type, timestamp, data: {id, identifiers, version, status}}``;
    on_hold and resumed are for the polling feed only."""
    from services.core.webhooks.events import EventType
    from services.core.webhooks.models import WebhookDelivery, WebhookMessage

    world = await world_at_t0(db)
    c = await callers(client, world)
    every = [t.value for t in EventType]
    subscribed = await c["his"].post(
        "/webhook-subscriptions", {"url": "https://his.example.org/hooks", "event_types": every}
    )
    assert subscribed.status_code == 201, subscribed.text
    up = (
        await c["member"].post("/referrals", upward_body(world, identifiers=[{"system": "urn:hc:x", "value": "1"}]))
    ).json()
    up = await c["his"].move(up, "receive")
    received_version = up["version"]
    up = await c["his"].move(up, "hold", {"reason": "等待床位"})
    up = await c["his"].move(up, "resume")
    appointment = T0 + timedelta(hours=5)
    up = await c["his"].move(up, "accept", {"appointment": {"at": appointment.isoformat(), "department": "心内科"}})
    up = await c["his"].move(up, "arrive")
    care = {"reason": "术后康复", "consent": consent()}
    up = await c["his"].move(up, "complete", {"discharge_summary": "好转出院", "continued_care": care})
    down = (await c["member"].get(f"/referrals/{up['children'][0]}")).json()
    down = await c["member"].move(down, "take-over")
    down = await c["member"].move(down, "follow-up", {"channel": "phone", "outcome": "reached"})
    declined = (await c["member"].post("/referrals", upward_body(world))).json()
    await c["his"].move(declined, "decline", {"reason": "no_capacity"})
    missed = (await c["member"].post("/referrals", upward_body(world))).json()
    missed = await c["his"].move(missed, "receive")
    missed = await c["his"].move(
        missed, "accept", {"appointment": {"at": appointment.isoformat(), "department": "心内科"}}
    )
    clock.freeze(appointment + timedelta(hours=25))
    await c["his"].move(missed, "no-show")
    cancelled = (await c["member"].post("/referrals", upward_body(world))).json()
    await c["member"].move(cancelled, "cancel", {"reason": "患者改去他院"})

    messages = (await db.scalars(select(WebhookMessage))).all()
    assert {m.event_type for m in messages} == set(every)  # all ten, and nothing for on_hold/resumed
    assert all(m.institution_ids == sorted([world.centre.id, world.hospital.id]) for m in messages)
    deliveries = (await db.scalars(select(WebhookDelivery))).all()
    assert len(deliveries) == len(messages)  # one per message for the one subscription
    bodies = [json.loads(m.body) for m in messages if m.event_type == "referral.received"]
    first = next(b for b in bodies if b["data"]["id"] == up["id"])
    assert first == {
        "type": "referral.received",
        "timestamp": T0.isoformat().replace("+00:00", "Z"),
        "data": {
            "id": up["id"],
            "identifiers": [{"system": "urn:hc:x", "value": "1"}],
            "version": received_version,
            "status": "received",
        },
    }
