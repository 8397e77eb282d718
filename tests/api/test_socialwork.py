"""Medical social work through HTTP: a case from a ward referral to closure with both approvals, the
confidential notes and who may read them, a discharge transfer accepted by the community side with its
follow-up clock, aid applications, metrics; and the confidential text never leaking anywhere else."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.core import clock
from services.core.audit.models import AuditEvent
from services.core.config import Settings
from services.core.deadlines import service as deadlines
from services.core.notifications.models import Notification
from tests.apps import shared_session_client
from tests.factories import auth_headers, make_department, make_social_worker, resident_id_number
from tests.referral_world import downward_body
from tests.socialwork_world import SocialWorkWorld, build_social_work_world

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 China time
SECRET = "患者透露曾遭受家庭暴力-保密-7f3a"


@pytest.fixture
async def client(db: AsyncSession, settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The shared-session client without Redis: these tests drive the sweeper, which is the guarantee."""
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

    async def move(self, record: dict[str, Any], path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.post(path, body or {}, record["version"])
        assert response.status_code == 200, response.text
        assert response.headers["ETag"] == f'"{response.json()["version"]}"'
        result: dict[str, Any] = response.json()
        return result


async def world_at_t0(db: AsyncSession) -> SocialWorkWorld:
    clock.freeze(T0 - timedelta(days=1))
    world = await build_social_work_world(db, at=T0 - timedelta(days=1))
    clock.freeze(T0)
    return world


async def callers(client: httpx.AsyncClient, w: SocialWorkWorld) -> dict[str, Caller]:
    users = {
        "worker": w.worker,
        "colleague": w.colleague,
        "supervisor": w.supervisor,
        "other_supervisor": w.other_supervisor,
        "member": w.base.member,
        "leader": w.base.leader,
        "steward": w.steward,
        "auditor": w.auditor,
        "commission": w.base.commission,
    }
    return {name: Caller(client, await auth_headers(client, user)) for name, user in users.items()}


def ward_referral(w: SocialWorkWorld, resident: Any | None = None) -> dict[str, Any]:
    return {
        "source": "ward_referral",
        "referred_by": "心内科 王医生",
        "ward": "心内科 12床",
        "resident_id": str((resident or w.base.resident).id),
        "service_areas": ["psychosocial", "resource_integration"],
        "risk_level": "medium",
    }


async def open_active_case(c: dict[str, Caller], w: SocialWorkWorld, resident: Any | None = None) -> dict[str, Any]:
    """A case taken to ``active``: intake, assessment, plan, the supervisor's approval."""
    response = await c["worker"].post("/social-work-cases", ward_referral(w, resident))
    assert response.status_code == 201, response.text
    case = response.json()
    case = await c["worker"].move(
        case, f"/social-work-cases/{case['id']}/assessments", {"domains": ["emotional"], "risk_level": "medium"}
    )
    case = await c["worker"].move(case, f"/social-work-cases/{case['id']}/plan", {"goals": ["稳定情绪"]})
    return await c["supervisor"].move(case, f"/social-work-cases/{case['id']}/approve-plan", {})


# ---------------------------------------------------------------- the case


async def test_a_case_from_a_ward_referral_to_closure_with_both_approvals(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    w = await world_at_t0(db)
    c = await callers(client, w)
    response = await c["worker"].post("/social-work-cases", ward_referral(w))
    assert response.status_code == 201, response.text
    case = response.json()
    assert response.headers["Location"] == f"/social-work-cases/{case['id']}"
    assert (case["status"], case["view"], case["source"]) == ("intake", "whole", "ward_referral")
    assert case["client"]["resident_id"] == str(w.base.resident.id)
    assert case["workers"][0]["user_id"] == str(w.worker.id)
    path = f"/social-work-cases/{case['id']}"

    case = await c["worker"].move(
        case,
        f"{path}/assessments",
        {"domains": ["emotional", "economic"], "instrument": "PHQ-9", "score": 14, "risk_level": "high"},
    )
    assert (case["status"], case["risk_level"]) == ("assessing", "high")
    assert case["assessments"][0]["instrument"] == "PHQ-9"

    plan = {
        "goals": ["缓解焦虑情绪", "申请医疗救助"],
        "tasks": [{"title": "联系民政办理医疗救助", "due_at": (T0 + timedelta(days=3)).isoformat()}],
    }
    case = await c["worker"].move(case, f"{path}/plan", plan)
    assert case["status"] == "planning"
    assert case["tasks"][0]["owner_id"] == str(w.worker.id)
    told = await db.scalars(select(Notification.user_id).where(Notification.subject_id == uuid.UUID(case["id"])))
    assert set(told) == {w.supervisor.id}  # the plan awaits the supervisor

    refused = await c["worker"].post(f"{path}/approve-plan", {}, case["version"])
    assert refused.status_code == 403  # a social worker cannot approve their own plan
    foreign = await c["other_supervisor"].post(f"{path}/approve-plan", {}, case["version"])
    assert foreign.status_code == 404  # another department's supervisor does not even see it

    case = await c["supervisor"].move(case, f"{path}/send-back-plan", {"comments": "补充家属支持目标"})
    assert (case["status"], case["plan_review_comment"]) == ("planning", "补充家属支持目标")
    again = await c["supervisor"].post(f"{path}/approve-plan", {}, case["version"])
    assert again.status_code == 409
    assert again.json()["code"] == "plan_not_submitted"
    plan["goals"].append("动员家属参与照护")
    case = await c["worker"].move(case, f"{path}/plan", plan)
    case = await c["supervisor"].move(case, f"{path}/approve-plan", {"comments": "同意"})
    assert case["status"] == "active"
    assert case["plan_approved_at"] is not None
    assert [t["status"] for t in case["tasks"]] == ["dropped", "open"]  # the revision replaced the task

    case = await c["worker"].move(
        case,
        f"{path}/request-closure",
        {"goals_met": "partly", "client_satisfaction": 4, "summary": "情绪稳定,救助已申请"},
    )
    assert case["status"] == "closure_requested"
    case = await c["supervisor"].move(case, f"{path}/send-back-closure", {"comments": "救助到位后再结案"})
    assert case["status"] == "active"
    case = await c["worker"].move(
        case, f"{path}/request-closure", {"goals_met": "all", "client_satisfaction": 5, "summary": "救助已到位"}
    )
    case = await c["supervisor"].move(case, f"{path}/approve-closure", {})
    assert case["status"] == "closed"
    assert case["evaluation"] == {"goals_met": "all", "client_satisfaction": 5, "summary": "救助已到位"}

    history = (await c["worker"].get(f"{path}/history")).json()
    assert [(h["action"], h["to_status"]) for h in history] == [
        ("open", "intake"),
        ("assess", "assessing"),
        ("plan", "planning"),
        ("send_back_plan", "planning"),
        ("plan", "planning"),
        ("approve_plan", "active"),
        ("request_closure", "closure_requested"),
        ("send_back_closure", "active"),
        ("request_closure", "closure_requested"),
        ("approve_closure", "closed"),
    ]
    assert history[3]["reason"] == "补充家属支持目标"
    # closed: the open task stops reminding; reopening starts over with an assessment
    clocks = await db.scalars(text("select state from deadline where kind = 'socialwork.task_due' order by state"))
    assert list(clocks) == ["cancelled", "cancelled"]
    illegal = await c["supervisor"].post(f"{path}/approve-closure", {}, case["version"])
    assert illegal.status_code == 409
    assert illegal.json()["allowed_from"] == ["closure_requested"]
    case = await c["worker"].move(case, f"{path}/reopen", {"reason": "患者再次入院"})
    assert case["status"] == "reopened"


async def test_if_match_is_judged_before_permission_and_state(client: httpx.AsyncClient, db: AsyncSession) -> None:
    w = await world_at_t0(db)
    c = await callers(client, w)
    case = (await c["worker"].post("/social-work-cases", ward_referral(w))).json()
    path = f"/social-work-cases/{case['id']}/approve-plan"
    assert (await c["supervisor"].post(path, {})).status_code == 428
    assert (await c["supervisor"].post(path, {}, case["version"] + 5)).status_code == 412
    assert (await c["colleague"].post(path, {}, case["version"])).status_code == 403
    assert (await c["supervisor"].post(path, {}, case["version"])).status_code == 409
    assert (await c["commission"].get(f"/social-work-cases/{case['id']}")).json()["view"] == "area"


async def test_intake_refuses_bad_input_naming_the_field(client: httpx.AsyncClient, db: AsyncSession) -> None:
    w = await world_at_t0(db)
    c = await callers(client, w)
    cases = [
        ({**ward_referral(w), "referred_by": None}, "body.referred_by"),
        ({**ward_referral(w), "source": "sentinel_report"}, "body.source_report_id"),
        ({**ward_referral(w), "patient": {"name": "外地患者"}}, "body.resident_id"),
        ({**ward_referral(w), "resident_id": str(uuid.uuid4())}, "body.resident_id"),
        ({**ward_referral(w), "worker_ids": [str(w.base.member.id)]}, "body.worker_ids.0"),
        (
            {
                **ward_referral(w),
                "resident_id": None,
                "patient": {"name": "外地患者", "id_number": "110101199003070000"},
            },
            "body.patient.id_number",
        ),
        ({**ward_referral(w), "service_areas": []}, "body.service_areas"),
    ]
    for body, field in cases:
        response = await c["worker"].post("/social-work-cases", body)
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in {e["field"] for e in response.json()["errors"]}, (field, response.text)


async def test_a_patient_from_elsewhere_is_sealed_like_a_residents_identity(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    w = await world_at_t0(db)
    c = await callers(client, w)
    number = resident_id_number(date(1990, 3, 7), region="110101")
    body = {"source": "self", "patient": {"name": "赵外地", "id_number": number}, "service_areas": ["psychosocial"]}
    response = await c["worker"].post("/social-work-cases", body)
    assert response.status_code == 201, response.text
    case = response.json()
    assert case["client"]["name"] == "赵外地"
    assert case["client"]["id_number_masked"] == number[:4] + "*" * 10 + number[-4:]
    assert case["client"]["birth_on"] == "1990-03-07"
    assert case["client"]["resident_id"] is None
    row = (await db.execute(text("select client_name_enc, client_name_masked from social_work_case"))).one()
    assert "赵外地".encode() not in row[0]
    assert row[1] == "赵**"
    listed = (await c["worker"].get("/social-work-cases")).json()["items"]
    assert listed[0]["client_name_masked"] == "赵**"
    assert "赵外地" not in str(listed)


# ---------------------------------------------------------------- confidential notes


async def test_a_confidential_note_is_read_only_by_the_cases_social_workers_and_their_supervisor(
    client: httpx.AsyncClient, db: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    w = await world_at_t0(db)
    c = await callers(client, w)
    case = await open_active_case(c, w)
    path = f"/social-work-cases/{case['id']}/confidential-notes"
    written = await c["worker"].post(path, {"body": SECRET})
    assert written.status_code == 201, written.text
    note_id = written.json()["id"]
    stored = await db.scalar(text("select body_enc from social_work_confidential_note"))
    assert SECRET.encode() not in stored

    # the author and their supervisor read it, each read audited
    for name, user in (("worker", w.worker), ("supervisor", w.supervisor)):
        response = await c[name].get(path)
        assert response.status_code == 200, response.text
        assert [n["body"] for n in response.json()] == [SECRET]
        reads = await db.scalars(
            select(AuditEvent.actor_id).where(
                AuditEvent.action == "social_work_note.read", AuditEvent.subject_id == uuid.UUID(note_id)
            )
        )
        assert user.id in set(reads)
    # 404 for everyone else who reads social-work cases, as if there were no notes (the department's other
    # social workers, another department's supervisor, auditors, the commission); 403 for the family doctor
    # team and the community side, who read no cases at all
    for name in ("colleague", "other_supervisor", "auditor", "commission"):
        assert (await c[name].get(path)).status_code == 404, name
    for name in ("colleague", "other_supervisor"):
        assert (await c[name].post(path, {"body": "x"})).status_code == 404, name
    for name in ("member", "leader", "steward"):
        assert (await c[name].get(path)).status_code == 403, name
    reads = await db.scalar(
        select(AuditEvent.id).where(AuditEvent.action == "social_work_note.read").limit(3).offset(2)
    )
    assert reads is None  # exactly two reads happened

    # once assigned to the case, the colleague is one of its social workers
    case = (await c["worker"].get(f"/social-work-cases/{case['id']}")).json()
    await c["worker"].move(case, f"/social-work-cases/{case['id']}/workers", {"user_id": str(w.colleague.id)})
    assert (await c["colleague"].get(path)).status_code == 200

    # the text is nowhere else: case views and lists, history, transfers, inboxes, audit, outbox, logs
    answers = [
        await c[name].get(p)
        for name in ("worker", "supervisor", "commission", "auditor")
        for p in (
            f"/social-work-cases/{case['id']}",
            "/social-work-cases",
            f"/social-work-cases/{case['id']}/history",
            "/social-work-transfers",
            "/inbox",
        )
    ]
    answers.append(await c["auditor"].get("/audit-events?limit=500"))
    for response in answers:
        assert response.status_code == 200, response.text
        assert SECRET not in response.text
    assert "家庭暴力" not in str((await db.execute(text("select title, body from notification"))).all())
    assert "家庭暴力" not in str((await db.execute(text("select payload from outbox_message"))).all())
    assert "家庭暴力" not in str((await db.execute(text("select details from audit_event"))).all())
    assert "家庭暴力" not in caplog.text


# ---------------------------------------------------------------- discharge transfer


def transfer_body() -> dict[str, Any]:
    return {
        "summary": "出院后需每周电话随访,关注情绪与服药",
        "consent": {"given_by": "patient", "method": "written", "given_at": T0.isoformat()},
        "discharged_at": T0.isoformat(),
    }


async def test_a_discharge_transfer_accepted_by_the_community_and_its_follow_up_clock_fires_once_when_missed(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    w = await world_at_t0(db)
    c = await callers(client, w)
    case = await open_active_case(c, w)
    desk = await auth_headers(client, w.base.desk)
    referral = await client.post("/referrals", json=downward_body(w.base), headers=desk)
    assert referral.status_code == 201, referral.text
    response = await c["worker"].post(f"/social-work-cases/{case['id']}/transfers", transfer_body())
    assert response.status_code == 201, response.text
    transfer = response.json()
    assert transfer["referral_id"] == referral.json()["id"]  # the same discharge's downward referral
    assert transfer["to_team_id"] == str(w.base.team.id)  # the team responsible for the resident's grid now
    assert transfer["to_steward_id"] is not None  # and the village's community steward
    offered = set(
        await db.scalars(select(Notification.user_id).where(Notification.subject_id == uuid.UUID(transfer["id"])))
    )
    assert {w.base.member.id, w.base.leader.id, w.steward.id} <= offered
    seen = (await c["steward"].get(f"/social-work-transfers/{transfer['id']}")).json()
    assert seen["summary"] == transfer_body()["summary"]  # the receiving side reads what it needs
    assert (await c["commission"].get(f"/social-work-transfers/{transfer['id']}")).json()["summary"] is None
    assert (
        await c["worker"].post(f"/social-work-transfers/{transfer['id']}/accept", {}, transfer["version"])
    ).status_code == 403

    transfer = await c["member"].move(transfer, f"/social-work-transfers/{transfer['id']}/accept", {"note": "已接收"})
    assert transfer["status"] == "accepted"
    assert transfer["receipt_no"].startswith("ZJ20260302-")
    assert transfer["follow_up_due_at"] == (T0 + timedelta(days=7)).isoformat().replace("+00:00", "Z")
    assert w.worker.id in set(
        await db.scalars(
            select(Notification.user_id).where(
                Notification.subject_id == uuid.UUID(transfer["id"]), Notification.kind == "socialwork.transfer"
            )
        )
    )

    async def steps() -> list[tuple[Any, str]]:
        rows = await db.execute(
            select(Notification.user_id, Notification.kind)
            .where(Notification.subject_id == uuid.UUID(transfer["id"]), Notification.kind.like("deadline.%"))
            .order_by(Notification.kind, Notification.user_id)
        )
        return [(u, k) for u, k in rows.all()]

    clock.freeze(T0 + timedelta(days=6, hours=23))
    await deadlines.sweep(db)
    reminded = {u for u, k in await steps() if k == "deadline.reminder"}
    assert reminded == {w.base.member.id, w.base.leader.id, w.steward.id}  # the receiving side, a day before
    clock.freeze(T0 + timedelta(days=7, minutes=1))
    await deadlines.sweep(db)
    after_breach = await steps()
    assert [u for u, k in after_breach if k == "deadline.breach"] == [w.base.leader.id]  # once, to the leader
    await deadlines.sweep(db)
    assert await steps() == after_breach  # a second sweep fires nothing again
    titles = await db.scalars(
        select(Notification.title).where(
            Notification.kind == "deadline.breach",
            Notification.user_id == w.base.leader.id,
            Notification.subject_id == uuid.UUID(transfer["id"]),
        )
    )
    assert list(titles) == ["已超时:出院转介患者随访(应于2026-03-09 09:00完成)"]
    state = await db.scalar(text("select state from deadline where kind = 'socialwork.transfer_follow_up'"))
    assert state == "breached"


async def test_a_follow_up_in_time_meets_the_clock_and_nothing_fires(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    w = await world_at_t0(db)
    c = await callers(client, w)
    case = await open_active_case(c, w)
    transfer = (await c["worker"].post(f"/social-work-cases/{case['id']}/transfers", transfer_body())).json()
    transfer = await c["steward"].move(transfer, f"/social-work-transfers/{transfer['id']}/accept", {})
    clock.freeze(T0 + timedelta(days=2))
    transfer = await c["member"].move(
        transfer, f"/social-work-transfers/{transfer['id']}/follow-up", {"channel": "phone", "outcome": "reached"}
    )
    assert transfer["status"] == "followed_up"
    for days in (6, 8, 12):
        clock.freeze(T0 + timedelta(days=days))
        await deadlines.sweep(db)
    fired = await db.scalar(select(Notification.id).where(Notification.kind.like("deadline.%")).limit(1))
    assert fired is None
    metrics = (
        await c["commission"].get(
            f"/social-work-metrics?department_id={w.department.id}&from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z"
        )
    ).json()
    assert (metrics["transfers_offered"], metrics["transfers_accepted"], metrics["transfers_followed_up_in_time"]) == (
        1,
        1,
        1,
    )
    assert metrics["transfers_follow_up_missed"] == 0


async def test_a_transfer_is_declined_with_a_reason_and_the_hospital_hears(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    w = await world_at_t0(db)
    c = await callers(client, w)
    case = await open_active_case(c, w)
    base = f"/social-work-cases/{case['id']}/transfers"
    later = (T0 + timedelta(hours=1)).isoformat()
    for body, field in (
        ({**transfer_body(), "referral_id": str(uuid.uuid4())}, "body.referral_id"),
        ({**transfer_body(), "discharged_at": later}, "body.discharged_at"),
        ({**transfer_body(), "to_department_id": str(w.department.id)}, "body.to_department_id"),  # not a station
        ({**transfer_body(), "consent": {**transfer_body()["consent"], "given_at": later}}, "body.consent.given_at"),
    ):
        refused = await c["worker"].post(base, body)
        assert refused.status_code == 422, (field, refused.text)
        assert refused.json()["errors"][0]["field"] == field
    transfer = (await c["worker"].post(base, transfer_body())).json()
    missing = await c["member"].post(f"/social-work-transfers/{transfer['id']}/decline", {}, transfer["version"])
    assert missing.status_code == 422
    transfer = await c["member"].move(
        transfer, f"/social-work-transfers/{transfer['id']}/decline", {"reason": "患者已搬离本村"}
    )
    assert (transfer["status"], transfer["decline_reason"]) == ("declined", "患者已搬离本村")
    again = await c["member"].post(f"/social-work-transfers/{transfer['id']}/accept", {}, transfer["version"])
    assert again.status_code == 409


# ---------------------------------------------------------------- aid and metrics


async def test_aid_applications_from_draft_to_delivery_and_totals_per_period(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    w = await world_at_t0(db)
    c = await callers(client, w)
    case = await open_active_case(c, w)
    base = f"/social-work-cases/{case['id']}/aid-applications"
    body = {
        "kind": "medical_aid",
        "programme": "城乡医疗救助",
        "amount_requested": "20000.00",
        "documents": [{"name": "低保证明", "kind": "income"}, {"name": "住院费用清单", "kind": "medical"}],
    }
    app = (await c["worker"].post(base, body)).json()
    assert app["status"] == "drafted"
    app = await c["worker"].move(app, f"/social-work-aid-applications/{app['id']}/submit", {})
    too_much = await c["worker"].post(
        f"/social-work-aid-applications/{app['id']}/approve", {"amount_approved": "30000"}, app["version"]
    )
    assert too_much.status_code == 422
    assert too_much.json()["errors"][0]["field"] == "body.amount_approved"
    app = await c["worker"].move(
        app, f"/social-work-aid-applications/{app['id']}/approve", {"amount_approved": "15000"}
    )
    app = await c["worker"].move(app, f"/social-work-aid-applications/{app['id']}/deliver", {})
    assert app["status"] == "delivered"
    late = await c["worker"].post(f"/social-work-aid-applications/{app['id']}/withdraw", {}, app["version"])
    assert late.status_code == 409  # withdrawable only before a decision
    charity = (await c["worker"].post(base, {**body, "kind": "charity", "programme": "大病救助公益项目"})).json()
    charity = await c["worker"].move(charity, f"/social-work-aid-applications/{charity['id']}/withdraw", {})
    assert charity["status"] == "withdrawn"

    period = "from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z"
    totals = (await c["supervisor"].get(f"/social-work-aid-totals?{period}&department_id={w.department.id}")).json()
    by_kind = {t["kind"]: t for t in totals["totals"]}
    assert by_kind["medical_aid"]["approved"] == 1
    assert by_kind["medical_aid"]["amount_approved"] == "15000.00"
    assert (by_kind["charity"]["applications"], by_kind["charity"]["submitted"]) == (1, 0)
    earlier = (
        await c["supervisor"].get("/social-work-aid-totals?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z")
    ).json()
    assert all(t["applications"] == 0 for t in earlier["totals"])

    metrics = (await c["commission"].get(f"/social-work-metrics?org_unit_id={w.base.district.id}&{period}")).json()
    assert (metrics["opened"], metrics["active"], metrics["closed"]) == (1, 1, 0)
    assert {r["key"] for r in metrics["by_service_area"]} == {"psychosocial", "resource_integration"}
    assert metrics["by_source"] == [{"key": "ward_referral", "opened": 1, "active": 1, "closed": 0}]
    assert metrics["median_days_intake_to_plan"] == 0.0
    assert (metrics["aid_applications"], metrics["aid_approved"], metrics["aid_amount_approved"]) == (2, 1, "15000.00")
    bad = await c["commission"].get(f"/social-work-metrics?{period}")
    assert bad.status_code == 422


async def test_a_due_plan_task_reminds_its_owner_and_one_done_in_time_does_not(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    w = await world_at_t0(db)
    c = await callers(client, w)
    case = (await c["worker"].post("/social-work-cases", ward_referral(w))).json()
    path = f"/social-work-cases/{case['id']}"
    case = await c["worker"].move(case, f"{path}/assessments", {"domains": ["economic"], "risk_level": "low"})
    due = T0 + timedelta(days=3)
    tasks = [{"title": "联系民政", "due_at": due.isoformat()}, {"title": "家属会谈", "due_at": due.isoformat()}]
    past = await c["worker"].post(
        f"{path}/plan", {"goals": ["x"], "tasks": [{"title": "x", "due_at": T0.isoformat()}]}, case["version"]
    )
    assert past.status_code == 422
    assert past.json()["errors"][0]["field"] == "body.tasks.0.due_at"
    case = await c["worker"].move(case, f"{path}/plan", {"goals": ["申请救助"], "tasks": tasks})
    done, pending = case["tasks"]
    response = await c["worker"].post(f"/social-work-tasks/{done['id']}/done", {}, done["version"])
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "done"
    again = await c["worker"].post(f"/social-work-tasks/{done['id']}/done", {}, response.json()["version"])
    assert again.status_code == 409
    assert (await c["member"].post(f"/social-work-tasks/{pending['id']}/done", {}, 1)).status_code == 403

    clock.freeze(due - timedelta(hours=23))
    await deadlines.sweep(db)
    clock.freeze(due + timedelta(minutes=1))
    await deadlines.sweep(db)
    rows = await db.execute(
        select(Notification.subject_id, Notification.user_id, Notification.kind, Notification.title)
        .where(Notification.kind.like("deadline.%"))
        .order_by(Notification.kind, Notification.user_id)
    )
    told = [(s, u, k, t) for s, u, k, t in rows.all()]
    assert {s for s, _, _, _ in told} == {uuid.UUID(pending["id"])}  # the task done in time said nothing
    assert [(u, k) for _, u, k, _ in told] == sorted(
        [(w.worker.id, "deadline.breach"), (w.supervisor.id, "deadline.breach"), (w.worker.id, "deadline.reminder")],
        key=lambda pair: (pair[1], pair[0]),
    )
    reminder = next(t for _, _, k, t in told if k == "deadline.reminder")
    assert reminder == "提醒:个案服务计划任务将于2026-03-05 09:00到期"


async def test_a_transfer_to_a_community_social_work_station_is_answered_by_the_station(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    w = await world_at_t0(db)
    station = await make_department(db, w.base.centre, is_station=True)
    station_worker = await make_social_worker(db, station)
    c = await callers(client, w)
    c["station"] = Caller(client, await auth_headers(client, station_worker))
    case = await open_active_case(c, w)
    body = {**transfer_body(), "to_department_id": str(station.id), "scope": "case"}
    transfer = (await c["worker"].post(f"/social-work-cases/{case['id']}/transfers", body)).json()
    assert (transfer["to_department_id"], transfer["to_team_id"]) == (str(station.id), None)
    listed = (await c["station"].get("/social-work-transfers?status=offered")).json()["items"]
    assert [t["id"] for t in listed] == [transfer["id"]]
    assert listed[0]["summary"] == body["summary"]
    assert (await c["member"].get(f"/social-work-transfers/{transfer['id']}")).status_code == 404  # not the team's
    assert (await c["member"].get("/social-work-transfers")).json()["items"] == []
    transfer = await c["station"].move(transfer, f"/social-work-transfers/{transfer['id']}/accept", {})
    assert transfer["status"] == "accepted"
