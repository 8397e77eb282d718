"""Cases: intake, the case loaded in scope, its view, and each change of its life (check, validate, move).

Sub-records that are not changes of state (activities, confidential notes, task completion) live in
``casework.py``; aid applications in ``aid.py``; discharge transfers in ``transfers.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, select, update
from sqlalchemy import case as case_
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock, lifecycle
from services.core.accounts.models import RoleGrant, User
from services.core.audit import service as audit
from services.core.deadlines import service as deadlines
from services.core.errors import Conflict, NotFound, field_error
from services.core.lifecycle.models import RecordTransition
from services.core.notifications import service as notifications
from services.core.notifications.templates import Message
from services.core.org.models import OrgUnit
from services.core.pagination import paginate_rows
from services.core.periods import active_at
from services.core.referrals.models import Referral
from services.core.reports.models import SentinelReport
from services.core.residents.identity import check_identity
from services.core.residents.models import Resident
from services.core.security.pii import PiiCipher, mask_id_number, mask_name
from services.core.security.principal import Principal
from services.core.security.roles import ROLE_PERMISSIONS, Permission
from services.core.socialwork import access, departments, messages, routing
from services.core.socialwork.errors import AlreadyAssigned, PlanNotSubmitted
from services.core.socialwork.lifecycle import CASE, TASK_DUE, TASK_SUBJECT, CaseActor
from services.core.socialwork.models import (
    CLIENT_ID_NUMBER,
    CLIENT_NAME,
    Activity,
    Assessment,
    CaseSource,
    CaseStatus,
    CaseWorker,
    PlanTask,
    SocialWorkCase,
    SocialWorkDepartment,
    TaskStatus,
)
from services.core.socialwork.schemas import (
    ActivityRead,
    AssessmentCreate,
    AssessmentRead,
    CaseBrief,
    CaseCreate,
    CaseRead,
    ClientRead,
    ClosureRequest,
    EvaluationRead,
    PlanCreate,
    Reopen,
    Review,
    SendBack,
    TaskRead,
    WorkerAssign,
    WorkerRead,
)

# Who may be one of a case's social workers: a grant naming the case's institution with a role that works
# cases (read off the permission table, never named here).
_WORKER_ROLES = tuple(
    role.value for role, allowed in ROLE_PERMISSIONS.items() if Permission.SOCIALWORK_WRITE in allowed
)


# --- loading -------------------------------------------------------------------------------------


def readable(principal: Principal) -> Select[SocialWorkCase, str]:
    """Cases the caller may see, with the path of their department's unit."""
    return (
        select(SocialWorkCase, OrgUnit.path)
        .join(OrgUnit, OrgUnit.id == SocialWorkCase.org_unit_id)
        .where(access.readable_clause(principal, OrgUnit.path))
    )


async def get_in_scope(db: AsyncSession, principal: Principal, case_id: uuid.UUID) -> tuple[SocialWorkCase, str]:
    """One case in the caller's scope with its unit's path; 404 otherwise."""
    row = (await db.execute(readable(principal).where(SocialWorkCase.id == case_id))).first()
    if row is None:
        raise NotFound(f"case {case_id} not found")
    return row[0], row[1]


async def worker_ids(db: AsyncSession, case_id: uuid.UUID) -> frozenset[uuid.UUID]:
    """The case's social workers."""
    return frozenset(await db.scalars(select(CaseWorker.user_id).where(CaseWorker.case_id == case_id)))


async def actor_for(db: AsyncSession, principal: Principal, case: SocialWorkCase) -> CaseActor:
    """The caller acting on ``case``: what the lifecycle's rules read."""
    return CaseActor(principal, case, await worker_ids(db, case.id))


# --- intake --------------------------------------------------------------------------------------


async def _department(db: AsyncSession, principal: Principal, department_id: uuid.UUID | None) -> SocialWorkDepartment:
    """The department a new case is opened in: the one named (in write scope), or the caller's only one."""
    if department_id is not None:
        return await departments.get(
            db, principal, department_id, Permission.SOCIALWORK_WRITE, field="body.department_id"
        )
    institutions = {
        g.institution_id
        for g in principal.grants
        if g.institution_id is not None and g.may(Permission.SOCIALWORK_WRITE)
    }
    found = await departments.of_institution(db, next(iter(institutions))) if len(institutions) == 1 else None
    if found is None:
        raise field_error("body.department_id", "name the social-work department the case is opened in")
    return found


async def _check_workers(
    db: AsyncSession, institution_id: uuid.UUID, user_ids: Sequence[uuid.UUID], *, field: str
) -> None:
    """Each must be a social worker (or the supervisor) of the department today: a grant naming it."""
    now = clock.now()
    held = set(
        await db.scalars(
            select(RoleGrant.user_id).where(
                RoleGrant.user_id.in_(list(user_ids)),
                RoleGrant.institution_id == institution_id,
                RoleGrant.role.in_(_WORKER_ROLES),  # roles that work cases, read off the permission table
                active_at(RoleGrant, now),
            )
        )
    )
    for n, user_id in enumerate(user_ids):
        if user_id not in held:
            raise field_error(
                f"{field}.{n}" if field.endswith("ids") else field, "not a social worker of this department"
            )


async def create(
    db: AsyncSession, principal: Principal, data: CaseCreate, *, pii: PiiCipher
) -> tuple[SocialWorkCase, str, bool]:
    """Intake: a case in ``intake`` with its social workers; a repeat with the same id is a replay."""
    if data.id is not None:
        existing = await db.get(SocialWorkCase, data.id)
        if existing is not None:
            case, path = await get_in_scope(db, principal, existing.id)
            if case.source != data.source.value or sorted(case.service_areas) != sorted(
                a.value for a in data.service_areas
            ):
                raise Conflict(f"case {case.id} already exists with different content", existing_id=str(case.id))
            return case, path, False
    department = await _department(db, principal, data.department_id)
    _check_source(data)
    if data.source_report_id is not None:
        report = await db.get(SentinelReport, data.source_report_id)
        if report is None or report.district_id != department.district_id:
            raise field_error("body.source_report_id", "no such sentinel report in the district")
    if data.source_referral_id is not None:
        referral = await db.get(Referral, data.source_referral_id)
        if referral is None or referral.district_id != department.district_id:
            raise field_error("body.source_referral_id", "no such referral in the district")
    workers = list(dict.fromkeys(data.worker_ids or [principal.user_id]))
    await _check_workers(db, department.institution_id, workers, field="body.worker_ids")
    case_id = data.id or uuid.uuid4()
    now = clock.now()
    case = SocialWorkCase(
        id=case_id,
        district_id=department.district_id,
        department_id=department.id,
        institution_id=department.institution_id,
        org_unit_id=department.org_unit_id,
        status=CaseStatus.INTAKE.value,
        source=data.source.value,
        source_report_id=data.source_report_id,
        source_referral_id=data.source_referral_id,
        referred_by=data.referred_by.strip() if data.referred_by else None,
        ward=data.ward.strip() if data.ward else None,
        service_areas=sorted({a.value for a in data.service_areas}),
        risk_level=data.risk_level.value,
        opened_at=now,
        opened_by=principal.user_id,
    )
    await _client(db, case, data, department.district_id, pii=pii)
    db.add(case)
    await lifecycle.move(db, lifecycle.creating(CASE, case, "open"), actor_id=principal.user_id, at=now)
    db.add_all(
        CaseWorker(case_id=case.id, user_id=user_id, lead=n == 0, assigned_at=now) for n, user_id in enumerate(workers)
    )
    await db.flush()
    path = await db.scalar(select(OrgUnit.path).where(OrgUnit.id == department.org_unit_id)) or ""
    await audit.record_change(
        db, principal, "social_work_case.opened", case, org_path=path, source=case.source, risk=case.risk_level
    )
    others = [u for u in workers if u != principal.user_id]
    if others:
        await _tell(db, case, others, "assigned")
    return case, path, True


def _check_source(data: CaseCreate) -> None:
    """The linked record goes with its source, and a ward referral names who referred."""
    if (data.source is CaseSource.SENTINEL_REPORT) != (data.source_report_id is not None):
        raise field_error("body.source_report_id", "given exactly when the source is sentinel_report")
    if (data.source is CaseSource.REFERRAL) != (data.source_referral_id is not None):
        raise field_error("body.source_referral_id", "given exactly when the source is referral")
    if data.source is CaseSource.WARD_REFERRAL and data.referred_by is None:
        raise field_error("body.referred_by", "a ward referral names the ward and doctor who referred")
    if (data.resident_id is None) == (data.patient is None):
        raise field_error("body.resident_id", "a case names a resident or a patient, not both")


async def _client(
    db: AsyncSession, case: SocialWorkCase, data: CaseCreate, district_id: uuid.UUID, *, pii: PiiCipher
) -> None:
    """The resident, or the patient sealed like a resident's identity (linked to the resident holding
    the same ID number in the district, when there is one)."""
    resident: Resident | None = None
    if data.resident_id is not None:
        resident = await db.get(Resident, data.resident_id)
        if resident is None or resident.district_id != district_id:
            raise field_error("body.resident_id", "no such resident in the district")
    if data.patient is not None:
        p = data.patient
        name = p.name.strip()
        if not name:
            raise field_error("body.patient.name", "a patient needs a name")
        identity = check_identity(
            prefix="body.patient",
            id_type=p.id_type,
            id_number=p.id_number,
            sex=p.sex,
            birth_on=p.birth_on,
            birth_required=False,
        ).or_raise()
        case.client_name_enc = CLIENT_NAME.seal(pii, case.id, name)
        case.client_name_masked = mask_name(name)
        case.client_sex = identity.sex.value if identity.sex else None
        case.client_birth_on = identity.birth_on
        if identity.id_number is not None:
            case.client_id_type = identity.id_type.value if identity.id_type else None
            case.client_id_number_enc = CLIENT_ID_NUMBER.seal(pii, case.id, identity.id_number)
            case.client_id_number_bidx = CLIENT_ID_NUMBER.index(pii, identity.id_number)
            case.client_id_number_masked = mask_id_number(identity.id_number)
            resident = await db.scalar(
                select(Resident).where(
                    Resident.district_id == district_id, Resident.id_number_bidx == case.client_id_number_bidx
                )
            )
    if resident is not None:
        case.resident_id, case.grid_id = resident.id, resident.grid_id
        if data.patient is None:
            case.client_name_masked = mask_name(resident.name)


# --- the view ------------------------------------------------------------------------------------


def brief(case: SocialWorkCase) -> CaseBrief:
    """A case as lists show it."""
    return CaseBrief(
        id=case.id,
        department_id=case.department_id,
        status=case.status,
        source=case.source,
        service_areas=list(case.service_areas),
        risk_level=case.risk_level,
        client_name_masked=case.client_name_masked,
        opened_at=case.opened_at,
        plan_approved_at=case.plan_approved_at,
        closed_at=case.closed_at,
        version=case.version,
    )


async def to_view(db: AsyncSession, principal: Principal, case: SocialWorkCase, *, pii: PiiCipher) -> CaseRead:
    """The area view for supervision; the whole case for the department's own staff. Never a confidential note."""
    base = brief(case).model_dump()
    if not access.whole_view(principal, case):
        return CaseRead(**base, view="area", institution_id=case.institution_id)
    workers = await db.execute(
        select(CaseWorker, User.display_name)
        .join(User, User.id == CaseWorker.user_id)
        .where(CaseWorker.case_id == case.id)
        .order_by(CaseWorker.lead.desc(), CaseWorker.assigned_at, CaseWorker.user_id)
    )
    assessments = await db.scalars(
        select(Assessment).where(Assessment.case_id == case.id).order_by(Assessment.assessed_at, Assessment.id)
    )
    # By due time, then creation; at one instant (a frozen clock, one transaction) a dropped task was the one
    # a revision replaced, so it comes first: the order never depends on random ids.
    replaced_first = case_((PlanTask.status == TaskStatus.DROPPED.value, 0), else_=1)
    order = (PlanTask.due_at, PlanTask.created_at, replaced_first, PlanTask.id)
    tasks = await db.scalars(select(PlanTask).where(PlanTask.case_id == case.id).order_by(*order))
    activities = await db.scalars(
        select(Activity).where(Activity.case_id == case.id).order_by(Activity.happened_at, Activity.id)
    )
    return CaseRead(
        **base,
        view="whole",
        institution_id=case.institution_id,
        source_report_id=case.source_report_id,
        source_referral_id=case.source_referral_id,
        referred_by=case.referred_by,
        ward=case.ward,
        client=await _client_view(db, case, pii=pii),
        workers=[
            WorkerRead(user_id=w.user_id, name=name, lead=w.lead, assigned_at=w.assigned_at) for w, name in workers
        ],
        plan_goals=case.plan_goals,
        plan_submitted_at=case.plan_submitted_at,
        plan_review_comment=case.plan_review_comment,
        closure_requested_at=case.closure_requested_at,
        closure_review_comment=case.closure_review_comment,
        evaluation=EvaluationRead(
            goals_met=case.goals_met, client_satisfaction=case.client_satisfaction, summary=case.closing_summary
        )
        if case.goals_met
        else None,
        reopened_at=case.reopened_at,
        assessments=[AssessmentRead.model_validate(a) for a in assessments],
        tasks=[TaskRead.model_validate(t) for t in tasks],
        activities=[ActivityRead.model_validate(a) for a in activities],
    )


async def _client_view(db: AsyncSession, case: SocialWorkCase, *, pii: PiiCipher) -> ClientRead:
    """The client's name in full (the department's own staff), the ID always masked."""
    if case.client_name_enc is not None:
        name = CLIENT_NAME.open(pii, case.id, case.client_name_enc)
    else:
        resident = await db.get(Resident, case.resident_id)
        name = resident.name if resident is not None else case.client_name_masked
    return ClientRead(
        resident_id=case.resident_id,
        name=name,
        id_type=case.client_id_type,
        id_number_masked=case.client_id_number_masked,
        sex=case.client_sex,
        birth_on=case.client_birth_on,
    )


async def list_cases(
    db: AsyncSession,
    principal: Principal,
    *,
    department_id: uuid.UUID | None,
    status: CaseStatus | None,
    open_only: bool,
    mine: bool,
    risk_level: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[SocialWorkCase], str | None]:
    """Cases in scope, newest first; ``mine``: those the caller is one of the social workers of."""
    stmt = readable(principal)
    if department_id is not None:
        stmt = stmt.where(SocialWorkCase.department_id == department_id)
    if status is not None:
        stmt = stmt.where(SocialWorkCase.status == status.value)
    if open_only:
        stmt = stmt.where(SocialWorkCase.status != CaseStatus.CLOSED.value)
    if risk_level is not None:
        stmt = stmt.where(SocialWorkCase.risk_level == risk_level)
    if mine:
        stmt = stmt.where(
            SocialWorkCase.id.in_(select(CaseWorker.case_id).where(CaseWorker.user_id == principal.user_id))
        )
    rows, next_cursor = await paginate_rows(
        db, stmt, keys=[(SocialWorkCase.opened_at, "desc"), (SocialWorkCase.id, "desc")], cursor=cursor, limit=limit
    )
    return [r[0] for r in rows], next_cursor


async def history(db: AsyncSession, case: SocialWorkCase) -> list[RecordTransition]:
    """Every transition of the case, oldest first."""
    return await lifecycle.history(db, subject_type=CASE.subject_type, subject_id=case.id)


# --- changes -------------------------------------------------------------------------------------


async def assess(
    db: AsyncSession, actor: CaseActor, path: str, data: AssessmentCreate, *, expected_version: int | None
) -> Assessment:
    """Record an assessment; the first (or the first after reopening) moves the case to ``assessing``.
    The case's risk level follows the latest assessment."""
    case = actor.case
    checked = lifecycle.check(CASE, case, "assess", actor=actor, path=path, expected_version=expected_version)
    now = clock.now()
    at = _not_future(data.assessed_at, "body.assessed_at") or now
    if data.score is not None and data.instrument is None:
        raise field_error("body.instrument", "a score names the instrument it was measured with")
    assessment = Assessment(
        case_id=case.id,
        district_id=case.district_id,
        domains=sorted({d.value for d in data.domains}),
        instrument=data.instrument.strip() if data.instrument else None,
        score=data.score,
        risk_level=data.risk_level.value,
        findings=data.findings,
        assessed_by=actor.user_id,
        assessed_at=at,
    )
    db.add(assessment)
    await lifecycle.move(db, checked, actor_id=actor.user_id, at=now, changes={"risk_level": data.risk_level.value})
    return assessment


async def plan(
    db: AsyncSession, actor: CaseActor, path: str, data: PlanCreate, *, expected_version: int | None
) -> SocialWorkCase:
    """Submit the plan (goals, tasks with owners and due times) for the supervisor's approval. A revision
    (after a send-back) drops the earlier plan's open tasks and their clocks."""
    case = actor.case
    checked = lifecycle.check(CASE, case, "plan", actor=actor, path=path, expected_version=expected_version)
    now = clock.now()
    for n, task in enumerate(data.tasks):
        owner = task.owner_id or actor.user_id
        if owner not in actor.worker_ids:
            raise field_error(f"body.tasks.{n}.owner_id", "a task's owner is one of the case's social workers")
        if task.due_at <= now:
            raise field_error(f"body.tasks.{n}.due_at", "a task is due in the future")
    dropped = list(
        await db.scalars(
            select(PlanTask.id).where(PlanTask.case_id == case.id, PlanTask.status == TaskStatus.OPEN.value)
        )
    )
    for task_id in dropped:
        await deadlines.cancel(db, subject_type=TASK_SUBJECT, subject_id=task_id, kind=TASK_DUE, at=now)
    if dropped:
        await db.execute(
            update(PlanTask).where(PlanTask.id.in_(dropped)).values(status=TaskStatus.DROPPED.value, updated_at=now)
        )
    await lifecycle.move(
        db,
        checked,
        actor_id=actor.user_id,
        at=now,
        changes={"plan_goals": [g.strip() for g in data.goals], "plan_submitted_at": now, "plan_review_comment": None},
        details={"goals": len(data.goals), "tasks": len(data.tasks)},
    )
    for task in data.tasks:
        row = PlanTask(
            case_id=case.id,
            district_id=case.district_id,
            title=task.title.strip(),
            owner_id=task.owner_id or actor.user_id,
            due_at=task.due_at,
        )
        db.add(row)
        await db.flush()
        await deadlines.open_deadline(
            db,
            subject_type=TASK_SUBJECT,
            subject_id=row.id,
            kind=TASK_DUE,
            district_id=case.district_id,
            started_at=routing.task_clock_start(task.due_at),
        )
    await _tell(db, case, await routing.supervisors_of(db, case.institution_id, now), "plan_submitted")
    return case


async def approve_plan(
    db: AsyncSession, actor: CaseActor, path: str, data: Review, *, expected_version: int | None
) -> SocialWorkCase:
    """The supervisor approves the submitted plan: it takes effect and the case becomes ``active``."""
    case = actor.case
    checked = lifecycle.check(CASE, case, "approve_plan", actor=actor, path=path, expected_version=expected_version)
    if case.plan_submitted_at is None:
        raise PlanNotSubmitted("no plan is waiting for approval: it was sent back")
    now = clock.now()
    changes = {"plan_review_comment": data.comments, "plan_approved_at": case.plan_approved_at or now}
    await lifecycle.move(db, checked, actor_id=actor.user_id, at=now, changes=changes, reason=data.comments)
    await _tell(db, case, actor.worker_ids, "plan_approved")
    return case


async def send_back_plan(
    db: AsyncSession, actor: CaseActor, path: str, data: SendBack, *, expected_version: int | None
) -> SocialWorkCase:
    """The supervisor sends the plan back with comments; the social workers revise and submit again."""
    case = actor.case
    checked = lifecycle.check(CASE, case, "send_back_plan", actor=actor, path=path, expected_version=expected_version)
    if case.plan_submitted_at is None:
        raise PlanNotSubmitted("no plan is waiting for approval")
    changes = {"plan_review_comment": data.comments, "plan_submitted_at": None}
    await lifecycle.move(db, checked, actor_id=actor.user_id, at=clock.now(), changes=changes, reason=data.comments)
    await _tell(db, case, actor.worker_ids, "plan_sent_back")
    return case


async def request_closure(
    db: AsyncSession, actor: CaseActor, path: str, data: ClosureRequest, *, expected_version: int | None
) -> SocialWorkCase:
    """The closing evaluation (goals met, the client's satisfaction), for the supervisor's approval."""
    case = actor.case
    checked = lifecycle.check(CASE, case, "request_closure", actor=actor, path=path, expected_version=expected_version)
    now = clock.now()
    changes = {
        "goals_met": data.goals_met.value,
        "client_satisfaction": data.client_satisfaction,
        "closing_summary": data.summary,
        "closure_requested_at": now,
        "closure_review_comment": None,
    }
    await lifecycle.move(db, checked, actor_id=actor.user_id, at=now, changes=changes, reason=data.goals_met.value)
    await _tell(db, case, await routing.supervisors_of(db, case.institution_id, now), "closure_requested")
    return case


async def approve_closure(
    db: AsyncSession, actor: CaseActor, path: str, data: Review, *, expected_version: int | None
) -> SocialWorkCase:
    """The supervisor approves the closure: the case is ``closed``; its open tasks stop reminding."""
    case = actor.case
    checked = lifecycle.check(CASE, case, "approve_closure", actor=actor, path=path, expected_version=expected_version)
    now = clock.now()
    changes = {"closure_review_comment": data.comments, "closed_at": now}
    await lifecycle.move(db, checked, actor_id=actor.user_id, at=now, changes=changes, reason=data.comments)
    open_tasks = list(
        await db.scalars(
            select(PlanTask.id).where(PlanTask.case_id == case.id, PlanTask.status == TaskStatus.OPEN.value)
        )
    )
    for task_id in open_tasks:
        await deadlines.cancel(db, subject_type=TASK_SUBJECT, subject_id=task_id, kind=TASK_DUE, at=now)
    await _tell(db, case, actor.worker_ids, "closure_approved")
    return case


async def send_back_closure(
    db: AsyncSession, actor: CaseActor, path: str, data: SendBack, *, expected_version: int | None
) -> SocialWorkCase:
    """The supervisor sends the closure back with comments: the case stays ``active``."""
    case = actor.case
    checked = lifecycle.check(
        CASE, case, "send_back_closure", actor=actor, path=path, expected_version=expected_version
    )
    changes = {"closure_review_comment": data.comments, "closure_requested_at": None}
    await lifecycle.move(db, checked, actor_id=actor.user_id, at=clock.now(), changes=changes, reason=data.comments)
    await _tell(db, case, actor.worker_ids, "closure_sent_back")
    return case


async def reopen(
    db: AsyncSession, actor: CaseActor, path: str, data: Reopen, *, expected_version: int | None
) -> SocialWorkCase:
    """Reopen a closed case (the client came back): it is assessed again; the closure stays on record."""
    case = actor.case
    checked = lifecycle.check(CASE, case, "reopen", actor=actor, path=path, expected_version=expected_version)
    now = clock.now()
    changes = {"reopened_at": now, "closed_at": None, "closure_requested_at": None}
    await lifecycle.move(db, checked, actor_id=actor.user_id, at=now, changes=changes, reason=data.reason)
    return case


async def assign(
    db: AsyncSession, actor: CaseActor, path: str, data: WorkerAssign, *, expected_version: int | None
) -> SocialWorkCase:
    """Add a social worker of the department to the case."""
    case = actor.case
    checked = lifecycle.check(CASE, case, "assign", actor=actor, path=path, expected_version=expected_version)
    if data.user_id in actor.worker_ids:
        raise AlreadyAssigned("already one of the case's social workers")
    await _check_workers(db, case.institution_id, [data.user_id], field="body.user_id")
    now = clock.now()
    db.add(CaseWorker(case_id=case.id, user_id=data.user_id, lead=False, assigned_at=now))
    await lifecycle.move(db, checked, actor_id=actor.user_id, at=now)
    await audit.record_change(
        db, actor.principal, "social_work_case.assigned", case, org_path=path, user_id=data.user_id
    )
    await _tell(db, case, [data.user_id], "assigned")
    return case


def _not_future(at: datetime | None, field: str) -> datetime | None:
    if at is not None and at > clock.now():
        raise field_error(field, "lies in the future")
    return at


async def _tell(
    db: AsyncSession, case: SocialWorkCase, user_ids: Sequence[uuid.UUID] | frozenset[uuid.UUID], event: str
) -> None:
    """Notify about a case: what happened and in which department; never the client or a note."""
    if not user_ids:
        return
    name = await db.scalar(select(SocialWorkDepartment.name).where(SocialWorkDepartment.id == case.department_id))
    await notifications.notify(
        db,
        user_ids=list(user_ids),
        kind=messages.CASE,
        message=Message(messages.CASE, {"event": event, "department": name}),
        subject_type=CASE.subject_type,
        subject_id=case.id,
        dedupe_key=f"social_work_case:{case.id}:{event}:{case.version}",
    )
