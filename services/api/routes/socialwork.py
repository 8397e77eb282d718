"""Medical social work (医务社工): social-work departments; cases, resource linking and discharge transfers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy import select

from services.api.deps import CurrentPrincipal, DbSession, IfMatchLater, OrgRead, Pii, answer, require
from services.api.problems import problem_responses
from services.core.errors import Forbidden, NotFound, field_error
from services.core.org.models import OrgUnit
from services.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from services.core.security.pii import PiiCipher
from services.core.security.principal import Principal, institution_scope_clause, scope_clause
from services.core.security.roles import Permission
from services.core.socialwork import access, aid, cases, casework, departments, metrics, transfers
from services.core.socialwork.errors import AlreadyAssigned, CaseClosed, PlanNotSubmitted
from services.core.socialwork.lifecycle import CaseActor
from services.core.socialwork.models import (
    AidApplication,
    CaseStatus,
    RiskLevel,
    SocialWorkCase,
    SocialWorkDepartment,
    TransferStatus,
)
from services.core.socialwork.schemas import (
    ActivityCreate,
    ActivityRead,
    AidApprove,
    AidCreate,
    AidRead,
    AidReject,
    AidStep,
    AidTotals,
    AssessmentCreate,
    CaseBrief,
    CaseCreate,
    CaseRead,
    CaseTransitionRead,
    ClosureRequest,
    ConfidentialNoteCreate,
    ConfidentialNoteRead,
    DepartmentCreate,
    DepartmentGap,
    DepartmentRead,
    PlanCreate,
    Reopen,
    Review,
    SendBack,
    SocialWorkMetrics,
    TaskRead,
    TransferAccept,
    TransferCreate,
    TransferDecline,
    TransferFollowUp,
    TransferRead,
    WorkerAssign,
)
from services.core.text import Instant

router = APIRouter(tags=["socialwork"])

Cursor = Annotated[str | None, Query(max_length=500)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
DepartmentsWrite = Annotated[Principal, Depends(require(Permission.SOCIALWORK_DEPARTMENTS_WRITE))]
SocialWorkRead = Annotated[Principal, Depends(require(Permission.SOCIALWORK_READ))]
SocialWorkWrite = Annotated[Principal, Depends(require(Permission.SOCIALWORK_WRITE))]
CHANGE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422, 428, errors=(PlanNotSubmitted, AlreadyAssigned))
ADD_ERRORS = problem_responses(401, 403, 404, 409, 422, errors=(CaseClosed,))


# --- departments ----------------------------------------------------------------------------


@router.post(
    "/social-work-departments",
    status_code=status.HTTP_201_CREATED,
    summary="Register an institution's social-work department",
    responses={
        200: {"model": DepartmentRead, "description": "Already created with this id (a safe retry)"},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def create_social_work_department(
    db: DbSession, principal: DepartmentsWrite, body: DepartmentCreate, response: Response
) -> DepartmentRead:
    """One department per institution (409 with the existing one's id otherwise)."""
    row, was_created = await departments.create(db, principal=principal, data=body)
    return answer(
        response,
        row,
        DepartmentRead.model_validate(row),
        location=f"/social-work-departments/{row.id}",
        created=was_created,
    )


@router.get(
    "/social-work-departments",
    summary="List social-work departments in scope",
    responses=problem_responses(401, 403, 422),
)
async def list_social_work_departments(
    db: DbSession,
    principal: OrgRead,
    institution_id: uuid.UUID | None = None,
    is_station: bool | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[DepartmentRead]:
    """Departments in the caller's area, and the district-level ones above it."""
    rows, next_cursor = await departments.list_departments(
        db, principal=principal, institution_id=institution_id, is_station=is_station, cursor=cursor, limit=limit
    )
    return Page[DepartmentRead](items=[DepartmentRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/social-work-departments/missing",
    summary="Institutions that must have a social-work department and have none",
    responses=problem_responses(401, 403, 422),
)
async def list_missing_social_work_departments(db: DbSession, principal: OrgRead) -> list[DepartmentGap]:
    """The district-level hospitals (standing for tertiary institutions) in scope without a department."""
    rows = await departments.missing(db, principal=principal)
    return [DepartmentGap(institution_id=r.id, name=r.name, kind=r.kind, org_unit_id=r.org_unit_id) for r in rows]


@router.get(
    "/social-work-departments/{department_id}",
    summary="Read one social-work department",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_social_work_department(
    db: DbSession, principal: OrgRead, department_id: uuid.UUID, response: Response
) -> DepartmentRead:
    """404 when it does not exist or lies outside the caller's scope."""
    row = await departments.get(db, principal, department_id)
    return answer(response, row, DepartmentRead.model_validate(row))


# --- cases ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScopedCase:
    """A case loaded once for the request in the caller's scope, with its department unit's path and
    the caller acting on it (the case's social workers loaded beside)."""

    actor: CaseActor
    path: str

    @property
    def case(self) -> SocialWorkCase:
        return self.actor.case


def case_in_scope(permission: Permission) -> Callable[..., Coroutine[Any, Any, ScopedCase]]:
    """A dependency: the caller holds ``permission`` somewhere (else 403), the case is in its scope (else
    404). Loaded before If-Match is judged, so an unseen case is 404, never 428."""

    allowed = Depends(require(permission))

    async def dependency(db: DbSession, case_id: uuid.UUID, principal: Principal = allowed) -> ScopedCase:
        case, path = await cases.get_in_scope(db, principal, case_id)
        return ScopedCase(await cases.actor_for(db, principal, case), path)

    dependency.__name__ = f"case_in_scope_{permission.name.lower()}"
    return dependency


ReadableCase = Annotated[ScopedCase, Depends(case_in_scope(Permission.SOCIALWORK_READ))]
WorkedCase = Annotated[ScopedCase, Depends(case_in_scope(Permission.SOCIALWORK_WRITE))]
SupervisedCase = Annotated[ScopedCase, Depends(case_in_scope(Permission.SOCIALWORK_SUPERVISE))]
# Confidential notes: the route asks only what every read (or write) of the case asks; whether this caller
# may read this case's notes is decided per row (``access.may_read_confidential``), 404 otherwise.


async def _case(
    db: DbSession,
    principal: Principal,
    case: SocialWorkCase,
    response: Response,
    pii: PiiCipher,
    *,
    created: bool | None = None,
) -> CaseRead:
    view = await cases.to_view(db, principal, case, pii=pii)
    return answer(response, case, view, location=f"/social-work-cases/{case.id}", created=created)


@router.post(
    "/social-work-cases",
    status_code=status.HTTP_201_CREATED,
    summary="Open a case (intake)",
    responses={
        200: {"model": CaseRead, "description": "Already opened with this id: the stored case"},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def open_social_work_case(
    db: DbSession, principal: SocialWorkWrite, pii: Pii, body: CaseCreate, response: Response
) -> CaseRead:
    """For a resident, or a patient not (yet) a resident (name and ID sealed); from a ward, the client, the
    family, a sentinel report, a referral or a community organisation."""
    case, _path, created = await cases.create(db, principal, body, pii=pii)
    return await _case(db, principal, case, response, pii, created=created)


@router.get("/social-work-cases", summary="List cases in scope", responses=problem_responses(401, 403, 422))
async def list_social_work_cases(
    db: DbSession,
    principal: SocialWorkRead,
    department_id: uuid.UUID | None = None,
    status_: Annotated[CaseStatus | None, Query(alias="status")] = None,
    open_only: Annotated[bool, Query(alias="open", description="Only cases not closed.")] = False,
    mine: Annotated[bool, Query(description="Only the cases the caller is a social worker of.")] = False,
    risk_level: RiskLevel | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[CaseBrief]:
    """Newest first; masked names, never a note."""
    rows, next_cursor = await cases.list_cases(
        db,
        principal,
        department_id=department_id,
        status=status_,
        open_only=open_only,
        mine=mine,
        risk_level=risk_level.value if risk_level else None,
        cursor=cursor,
        limit=limit,
    )
    return Page[CaseBrief](items=[cases.brief(r) for r in rows], next_cursor=next_cursor)


@router.get("/social-work-cases/{case_id}", summary="Read one case", responses=problem_responses(401, 403, 404, 422))
async def read_social_work_case(db: DbSession, scoped: ReadableCase, pii: Pii, response: Response) -> CaseRead:
    """The whole case for the department's own staff (`view: whole`), where it stands for supervision (`view: area`)."""
    return await _case(db, scoped.actor.principal, scoped.case, response, pii)


@router.get(
    "/social-work-cases/{case_id}/history",
    summary="A case's transitions, oldest first",
    responses=problem_responses(401, 403, 404, 422),
)
async def social_work_case_history(db: DbSession, scoped: ReadableCase) -> list[CaseTransitionRead]:
    """Who moved it, when, from where to where, and why (a send-back's comments)."""
    rows = await cases.history(db, scoped.case)
    return [
        CaseTransitionRead(
            from_status=r.from_state,
            to_status=r.to_state,
            action=r.action,
            actor_id=r.actor_id,
            at=r.at,
            reason=r.reason,
        )
        for r in rows
    ]


@router.post(
    "/social-work-cases/{case_id}/assessments",
    summary="Record an assessment (the first moves the case to assessing)",
    responses=CHANGE_ERRORS,
)
async def assess_social_work_case(
    db: DbSession, scoped: WorkedCase, pii: Pii, body: AssessmentCreate, version: IfMatchLater, response: Response
) -> CaseRead:
    """Psycho-social domains, the instrument and score where one is used, the risk (which the case takes)."""
    await cases.assess(db, scoped.actor, scoped.path, body, expected_version=version)
    return await _case(db, scoped.actor.principal, scoped.case, response, pii)


@router.post(
    "/social-work-cases/{case_id}/plan",
    summary="Submit the service plan for the supervisor's approval",
    responses=CHANGE_ERRORS,
)
async def plan_social_work_case(
    db: DbSession, scoped: WorkedCase, pii: Pii, body: PlanCreate, version: IfMatchLater, response: Response
) -> CaseRead:
    """Goals, and tasks with owners and due times (reminded a day before); a revision replaces open tasks."""
    await cases.plan(db, scoped.actor, scoped.path, body, expected_version=version)
    return await _case(db, scoped.actor.principal, scoped.case, response, pii)


@router.post(
    "/social-work-cases/{case_id}/approve-plan",
    summary="Approve the plan (supervisor): the case becomes active",
    responses=CHANGE_ERRORS,
)
async def approve_social_work_plan(
    db: DbSession, scoped: SupervisedCase, pii: Pii, body: Review, version: IfMatchLater, response: Response
) -> CaseRead:
    """Only the supervisor of the case's department."""
    await cases.approve_plan(db, scoped.actor, scoped.path, body, expected_version=version)
    return await _case(db, scoped.actor.principal, scoped.case, response, pii)


@router.post(
    "/social-work-cases/{case_id}/send-back-plan",
    summary="Send the plan back with comments (supervisor)",
    responses=CHANGE_ERRORS,
)
async def send_back_social_work_plan(
    db: DbSession, scoped: SupervisedCase, pii: Pii, body: SendBack, version: IfMatchLater, response: Response
) -> CaseRead:
    """The social workers revise and submit again."""
    await cases.send_back_plan(db, scoped.actor, scoped.path, body, expected_version=version)
    return await _case(db, scoped.actor.principal, scoped.case, response, pii)


@router.post(
    "/social-work-cases/{case_id}/request-closure",
    summary="Request closure with the closing evaluation",
    responses=CHANGE_ERRORS,
)
async def request_social_work_closure(
    db: DbSession, scoped: WorkedCase, pii: Pii, body: ClosureRequest, version: IfMatchLater, response: Response
) -> CaseRead:
    """Goals met (all, partly, none), the client's satisfaction (1-5) and a summary."""
    await cases.request_closure(db, scoped.actor, scoped.path, body, expected_version=version)
    return await _case(db, scoped.actor.principal, scoped.case, response, pii)


@router.post(
    "/social-work-cases/{case_id}/approve-closure",
    summary="Approve the closure (supervisor): the case is closed",
    responses=CHANGE_ERRORS,
)
async def approve_social_work_closure(
    db: DbSession, scoped: SupervisedCase, pii: Pii, body: Review, version: IfMatchLater, response: Response
) -> CaseRead:
    """Only the supervisor of the case's department; open plan tasks stop reminding."""
    await cases.approve_closure(db, scoped.actor, scoped.path, body, expected_version=version)
    return await _case(db, scoped.actor.principal, scoped.case, response, pii)


@router.post(
    "/social-work-cases/{case_id}/send-back-closure",
    summary="Send the closure back with comments (supervisor)",
    responses=CHANGE_ERRORS,
)
async def send_back_social_work_closure(
    db: DbSession, scoped: SupervisedCase, pii: Pii, body: SendBack, version: IfMatchLater, response: Response
) -> CaseRead:
    """The case stays active."""
    await cases.send_back_closure(db, scoped.actor, scoped.path, body, expected_version=version)
    return await _case(db, scoped.actor.principal, scoped.case, response, pii)


@router.post("/social-work-cases/{case_id}/reopen", summary="Reopen a closed case", responses=CHANGE_ERRORS)
async def reopen_social_work_case(
    db: DbSession, scoped: WorkedCase, pii: Pii, body: Reopen, version: IfMatchLater, response: Response
) -> CaseRead:
    """The client came back: the case is assessed again."""
    await cases.reopen(db, scoped.actor, scoped.path, body, expected_version=version)
    return await _case(db, scoped.actor.principal, scoped.case, response, pii)


@router.post(
    "/social-work-cases/{case_id}/workers",
    summary="Add a social worker of the department to the case",
    responses=CHANGE_ERRORS,
)
async def assign_social_worker(
    db: DbSession, scoped: WorkedCase, pii: Pii, body: WorkerAssign, version: IfMatchLater, response: Response
) -> CaseRead:
    """They are told; they may then read its confidential notes."""
    await cases.assign(db, scoped.actor, scoped.path, body, expected_version=version)
    return await _case(db, scoped.actor.principal, scoped.case, response, pii)


@router.post(
    "/social-work-cases/{case_id}/activities",
    status_code=status.HTTP_201_CREATED,
    summary="Record an activity note",
    responses={200: {"model": ActivityRead, "description": "Already recorded with this id"}, **ADD_ERRORS},
)
async def record_social_work_activity(
    db: DbSession, scoped: WorkedCase, body: ActivityCreate, response: Response
) -> ActivityRead:
    """Individual, family, group or community work: when, how long, who took part (by role)."""
    row, created = await casework.add_activity(db, scoped.actor, scoped.path, body)
    return answer(response, row, ActivityRead.model_validate(row), created=created)


@router.post(
    "/social-work-cases/{case_id}/confidential-notes",
    status_code=status.HTTP_201_CREATED,
    summary="Write a confidential note",
    responses={200: {"model": ConfidentialNoteRead, "description": "Already written with this id"}, **ADD_ERRORS},
)
async def write_confidential_note(
    db: DbSession, scoped: WorkedCase, pii: Pii, body: ConfidentialNoteCreate, response: Response
) -> ConfidentialNoteRead:
    """Sealed; only the case's social workers and the department's supervisor (others: 404)."""
    note, created = await casework.add_note(db, scoped.actor, scoped.path, body, pii=pii)
    return answer(response, note, note, created=created)


@router.get(
    "/social-work-cases/{case_id}/confidential-notes",
    summary="Read a case's confidential notes (each read audited)",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_confidential_notes(db: DbSession, scoped: ReadableCase, pii: Pii) -> list[ConfidentialNoteRead]:
    """The case's social workers and the department's supervisor only; anyone else gets 404, as if there were none."""
    return await casework.read_notes(db, scoped.actor, scoped.path, pii=pii)


@router.post(
    "/social-work-tasks/{task_id}/done",
    summary="Mark a plan task done",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428, errors=(CaseClosed,)),
)
async def complete_social_work_task(
    db: DbSession, principal: SocialWorkWrite, task_id: uuid.UUID, version: IfMatchLater, response: Response
) -> TaskRead:
    """Its reminder clock is met (If-Match: the task's version)."""
    task = await casework.get_task(db, task_id)
    case, path = await _case_or_404(db, principal, task.case_id, f"task {task_id} not found")
    actor = await cases.actor_for(db, principal, case)
    await casework.complete_task(db, actor, path, task, expected_version=version)
    return answer(response, task, TaskRead.model_validate(task))


async def _case_or_404(
    db: DbSession, principal: Principal, case_id: uuid.UUID, message: str
) -> tuple[SocialWorkCase, str]:
    try:
        return await cases.get_in_scope(db, principal, case_id)
    except NotFound:
        raise NotFound(message) from None


# --- aid applications ---------------------------------------------------------------------------


@router.post(
    "/social-work-cases/{case_id}/aid-applications",
    status_code=status.HTTP_201_CREATED,
    summary="Draft a medical-aid or charity application",
    responses={200: {"model": AidRead, "description": "Already drafted with this id"}, **ADD_ERRORS},
)
async def draft_aid_application(db: DbSession, scoped: WorkedCase, body: AidCreate, response: Response) -> AidRead:
    """医疗救助 or a charity/public-welfare project; documents listed by name and kind."""
    row, created = await aid.create(db, scoped.actor, scoped.path, body)
    return answer(
        response, row, AidRead.model_validate(row), location=f"/social-work-aid-applications/{row.id}", created=created
    )


@router.get(
    "/social-work-aid-totals",
    summary="Aid applications and amounts per kind for a period",
    responses=problem_responses(401, 403, 404, 422),
)
async def social_work_aid_totals(
    db: DbSession,
    principal: SocialWorkRead,
    from_: Annotated[Instant, Query(alias="from")],
    to: Instant,
    department_id: uuid.UUID | None = None,
) -> AidTotals:
    """Applications created in [from, to) in scope (a department's when named): counts and amounts in yuan."""
    metrics.check_period(from_, to)
    if department_id is not None:
        await departments.get(db, principal, department_id)
    rows = await aid.totals(db, principal, start=from_, end=to, department_id=department_id)
    return AidTotals(from_=from_, to=to, totals=rows)


@dataclass(frozen=True)
class ScopedAid:
    actor: CaseActor
    application: AidApplication
    path: str


def aid_in_scope(permission: Permission) -> Callable[..., Coroutine[Any, Any, ScopedAid]]:
    """A dependency: ``permission`` somewhere (403), the application's case in scope (404)."""

    allowed = Depends(require(permission))

    async def dependency(db: DbSession, application_id: uuid.UUID, principal: Principal = allowed) -> ScopedAid:
        row, case, path = await aid.get_in_scope(db, principal, application_id)
        return ScopedAid(await cases.actor_for(db, principal, case), row, path)

    dependency.__name__ = f"aid_in_scope_{permission.name.lower()}"
    return dependency


ReadableAid = Annotated[ScopedAid, Depends(aid_in_scope(Permission.SOCIALWORK_READ))]
WritableAid = Annotated[ScopedAid, Depends(aid_in_scope(Permission.SOCIALWORK_WRITE))]


def _aid(response: Response, row: AidApplication) -> AidRead:
    return answer(response, row, AidRead.model_validate(row), location=f"/social-work-aid-applications/{row.id}")


@router.get(
    "/social-work-aid-applications/{application_id}",
    summary="Read one aid application",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_aid_application(scoped: ReadableAid, response: Response) -> AidRead:
    """Where it stands, the amounts and the documents listed."""
    return _aid(response, scoped.application)


@router.post(
    "/social-work-aid-applications/{application_id}/submit", summary="Submit to the fund", responses=CHANGE_ERRORS
)
async def submit_aid_application(
    db: DbSession, scoped: WritableAid, body: AidStep, version: IfMatchLater, response: Response
) -> AidRead:
    """From drafted; at least one document listed."""
    await aid.submit(db, scoped.actor, scoped.path, scoped.application, body, expected_version=version)
    return _aid(response, scoped.application)


@router.post(
    "/social-work-aid-applications/{application_id}/approve",
    summary="Record the fund's approval and amount",
    responses=CHANGE_ERRORS,
)
async def approve_aid_application(
    db: DbSession, scoped: WritableAid, body: AidApprove, version: IfMatchLater, response: Response
) -> AidRead:
    """From submitted; never more than requested."""
    await aid.approve(db, scoped.actor, scoped.path, scoped.application, body, expected_version=version)
    return _aid(response, scoped.application)


@router.post(
    "/social-work-aid-applications/{application_id}/reject",
    summary="Record the fund's rejection and reason",
    responses=CHANGE_ERRORS,
)
async def reject_aid_application(
    db: DbSession, scoped: WritableAid, body: AidReject, version: IfMatchLater, response: Response
) -> AidRead:
    """From submitted."""
    await aid.reject(db, scoped.actor, scoped.path, scoped.application, body, expected_version=version)
    return _aid(response, scoped.application)


@router.post(
    "/social-work-aid-applications/{application_id}/deliver",
    summary="Record that the approved aid reached the patient",
    responses=CHANGE_ERRORS,
)
async def deliver_aid_application(
    db: DbSession, scoped: WritableAid, body: AidStep, version: IfMatchLater, response: Response
) -> AidRead:
    """From approved."""
    await aid.deliver(db, scoped.actor, scoped.path, scoped.application, body, expected_version=version)
    return _aid(response, scoped.application)


@router.post(
    "/social-work-aid-applications/{application_id}/withdraw",
    summary="Withdraw before a decision",
    responses=CHANGE_ERRORS,
)
async def withdraw_aid_application(
    db: DbSession, scoped: WritableAid, body: AidStep, version: IfMatchLater, response: Response
) -> AidRead:
    """From drafted or submitted."""
    await aid.withdraw(db, scoped.actor, scoped.path, scoped.application, body, expected_version=version)
    return _aid(response, scoped.application)


# --- transfers -----------------------------------------------------------------------------------


def _can_see_transfers(principal: Principal) -> None:
    if not (principal.can(Permission.SOCIALWORK_READ) or principal.can(Permission.SOCIALWORK_RECEIVE_TRANSFERS)):
        raise Forbidden("this account may not read social-work transfers")


@dataclass(frozen=True)
class TransferCall:
    viewer: access.Viewer
    scoped: transfers.ScopedTransfer


def transfer_in_scope(permission: Permission | None) -> Callable[..., Coroutine[Any, Any, TransferCall]]:
    """A dependency: ``permission`` somewhere (403; None: either side's reading), the transfer visible (404)."""

    async def dependency(db: DbSession, transfer_id: uuid.UUID, principal: CurrentPrincipal) -> TransferCall:
        if permission is None:
            _can_see_transfers(principal)
        elif not principal.can(permission):
            raise Forbidden(f"this account may not {permission.value}")
        viewer = await access.viewer_for(db, principal)
        return TransferCall(viewer, await transfers.get_in_scope(db, viewer, transfer_id))

    dependency.__name__ = f"transfer_in_scope_{permission.name.lower() if permission else 'read'}"
    return dependency


ReadableTransfer = Annotated[TransferCall, Depends(transfer_in_scope(None))]
ReceivedTransfer = Annotated[TransferCall, Depends(transfer_in_scope(Permission.SOCIALWORK_RECEIVE_TRANSFERS))]
SentTransfer = Annotated[TransferCall, Depends(transfer_in_scope(Permission.SOCIALWORK_WRITE))]


async def _transfer(
    db: DbSession, call: TransferCall, response: Response, pii: PiiCipher, *, created: bool | None = None
) -> TransferRead:
    view = await transfers.to_view(db, call.viewer, call.scoped, pii=pii)
    t = call.scoped.transfer
    return answer(response, t, view, location=f"/social-work-transfers/{t.id}", created=created)


@router.post(
    "/social-work-cases/{case_id}/transfers",
    status_code=status.HTTP_201_CREATED,
    summary="Hand the case to the resident's community side at discharge",
    responses={200: {"model": TransferRead, "description": "Already offered with this id"}, **ADD_ERRORS},
)
async def offer_social_work_transfer(
    db: DbSession, scoped: WorkedCase, pii: Pii, body: TransferCreate, response: Response
) -> TransferRead:
    """To the family doctor team responsible for the resident's grid now and the village's community
    steward, or to a community social-work station; with the patient's consent."""
    result, created = await transfers.create(db, scoped.actor, scoped.path, body, pii=pii)
    viewer = await access.viewer_for(db, scoped.actor.principal)
    return await _transfer(db, TransferCall(viewer, result), response, pii, created=created)


@router.get("/social-work-transfers", summary="List transfers in scope", responses=problem_responses(401, 403, 422))
async def list_social_work_transfers(
    db: DbSession,
    principal: CurrentPrincipal,
    pii: Pii,
    status_: Annotated[TransferStatus | None, Query(alias="status")] = None,
    case_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[TransferRead]:
    """Those sent by the caller's department, supervised by the caller, or handed to the caller's side."""
    _can_see_transfers(principal)
    viewer = await access.viewer_for(db, principal)
    rows, next_cursor = await transfers.list_transfers(
        db, viewer, status=status_, case_id=case_id, cursor=cursor, limit=limit
    )
    items = [await transfers.to_view(db, viewer, r, pii=pii) for r in rows]
    return Page[TransferRead](items=items, next_cursor=next_cursor)


@router.get(
    "/social-work-transfers/{transfer_id}", summary="Read one transfer", responses=problem_responses(401, 403, 404, 422)
)
async def read_social_work_transfer(
    db: DbSession, call: ReadableTransfer, pii: Pii, response: Response
) -> TransferRead:
    """The summary for the two sides only."""
    return await _transfer(db, call, response, pii)


@router.post(
    "/social-work-transfers/{transfer_id}/accept",
    summary="Accept a transfer (issues the receipt, 转接回执)",
    responses=CHANGE_ERRORS,
)
async def accept_social_work_transfer(
    db: DbSession, call: ReceivedTransfer, pii: Pii, body: TransferAccept, version: IfMatchLater, response: Response
) -> TransferRead:
    """The receiving side; the follow-up clock starts (7 days, escalating)."""
    actor = await transfers.actor_for(db, call.viewer, call.scoped)
    await transfers.accept(db, actor, call.scoped, body, expected_version=version)
    return await _transfer(db, call, response, pii)


@router.post(
    "/social-work-transfers/{transfer_id}/decline", summary="Decline a transfer with a reason", responses=CHANGE_ERRORS
)
async def decline_social_work_transfer(
    db: DbSession, call: ReceivedTransfer, pii: Pii, body: TransferDecline, version: IfMatchLater, response: Response
) -> TransferRead:
    """The receiving side; the hospital's social workers are told."""
    actor = await transfers.actor_for(db, call.viewer, call.scoped)
    await transfers.decline(db, actor, call.scoped, body, expected_version=version)
    return await _transfer(db, call, response, pii)


@router.post(
    "/social-work-transfers/{transfer_id}/follow-up",
    summary="Record the community side's follow-up",
    responses=CHANGE_ERRORS,
)
async def follow_up_social_work_transfer(
    db: DbSession, call: ReceivedTransfer, pii: Pii, body: TransferFollowUp, version: IfMatchLater, response: Response
) -> TransferRead:
    """Meets the follow-up clock as of when it happened."""
    actor = await transfers.actor_for(db, call.viewer, call.scoped)
    await transfers.follow_up(db, actor, call.scoped, body, expected_version=version)
    return await _transfer(db, call, response, pii)


@router.post(
    "/social-work-transfers/{transfer_id}/cancel", summary="Withdraw an unanswered transfer", responses=CHANGE_ERRORS
)
async def cancel_social_work_transfer(
    db: DbSession, call: SentTransfer, pii: Pii, version: IfMatchLater, response: Response
) -> TransferRead:
    """The case's social workers, before the community side answers."""
    actor = await transfers.actor_for(db, call.viewer, call.scoped)
    await transfers.cancel(db, actor, call.scoped, expected_version=version)
    return await _transfer(db, call, response, pii)


# --- metrics -------------------------------------------------------------------------------------


@router.get(
    "/social-work-metrics",
    summary="Social-work metrics per department, institution or org unit for a period",
    responses=problem_responses(401, 403, 404, 422),
)
async def social_work_metrics(
    db: DbSession,
    principal: SocialWorkRead,
    from_: Annotated[Instant, Query(alias="from")],
    to: Instant,
    department_id: uuid.UUID | None = None,
    institution_id: uuid.UUID | None = None,
    org_unit_id: uuid.UUID | None = None,
) -> SocialWorkMetrics:
    """Name exactly one of department_id, institution_id, org_unit_id (a district or a town)."""
    named = [x for x in (department_id, institution_id, org_unit_id) if x is not None]
    if len(named) != 1:
        raise field_error("query.department_id", "name exactly one of department_id, institution_id, org_unit_id")
    metrics.check_period(from_, to)
    if org_unit_id is not None:
        path = await db.scalar(
            select(OrgUnit.path).where(
                OrgUnit.id == org_unit_id, scope_clause(principal, Permission.SOCIALWORK_READ, OrgUnit.path)
            )
        )
        if path is None:
            raise NotFound(f"org unit {org_unit_id} not found")
        return await metrics.social_work_metrics(db, start=from_, end=to, org_path=path)
    column = SocialWorkDepartment.id if department_id is not None else SocialWorkDepartment.institution_id
    found = await db.scalar(
        select(SocialWorkDepartment.id)
        .join(OrgUnit, OrgUnit.id == SocialWorkDepartment.org_unit_id)
        .where(
            column == named[0],
            institution_scope_clause(
                principal, Permission.SOCIALWORK_READ, OrgUnit.path, SocialWorkDepartment.institution_id
            ),
        )
    )
    if found is None:
        raise NotFound(f"social-work department {named[0]} not found")
    return await metrics.social_work_metrics(
        db, start=from_, end=to, department_id=department_id, institution_id=institution_id
    )
