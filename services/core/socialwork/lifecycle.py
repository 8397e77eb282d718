"""The life of a case, of an aid application and of a discharge transfer, declared once each.

Case (个案)::

    intake --assess--> assessing --plan--> planning --approve_plan--> active --request_closure-->
    closure_requested --approve_closure--> closed --reopen--> reopened --assess--> assessing
                       planning --send_back_plan--> planning (the supervisor's comments; plan again)
                       closure_requested --send_back_closure--> active

The plan taking effect and the closure each need the department supervisor's approval; everything
else is the case's social workers' (or the supervisor's). Every change of state is a
``record_transition`` row (subject ``social_work_case``), a send-back too (it stays in its state but
is kept, with the comments as its reason).

Aid application: ``drafted -> submitted -> approved (amount) | rejected (reason)``, ``approved ->
delivered``, ``withdrawn`` from drafted or submitted (before a decision).

Transfer: ``offered -> accepted (a receipt, 转接回执; the follow-up clock starts) | declined (reason)``,
``accepted -> followed_up`` (meets the clock), ``cancelled`` by the hospital side before an answer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from services.core.lifecycle import Action, Deadlines, Lifecycle, Transition
from services.core.security.principal import Principal
from services.core.security.roles import Permission
from services.core.socialwork import access
from services.core.socialwork.models import (
    AidApplication,
    AidStatus,
    CaseStatus,
    SocialWorkCase,
    Transfer,
    TransferStatus,
)

CASE_SUBJECT = "social_work_case"
AID_SUBJECT = "social_work_aid_application"
TRANSFER_SUBJECT = "social_work_transfer"
TASK_SUBJECT = "social_work_task"
# The clocks: a plan task due (the owner is reminded; the supervisor hears when it is missed) and the
# community side's follow-up of an accepted transfer (escalating like a sentinel report's).
TASK_DUE = "socialwork.task_due"
TRANSFER_FOLLOW_UP = "socialwork.transfer_follow_up"

WRITE = Permission.SOCIALWORK_WRITE
SUPERVISE = Permission.SOCIALWORK_SUPERVISE
RECEIVE = Permission.SOCIALWORK_RECEIVE_TRANSFERS
S = CaseStatus
A = AidStatus
T = TransferStatus

WORKERS_ONLY = "only the case's social workers or the department's supervisor may do this"
SUPERVISOR_ONLY = "only the supervisor of the case's social-work department may approve or send back"
RECEIVER_ONLY = "only the community side this transfer was handed to may answer it"


@dataclass(frozen=True)
class CaseActor:
    """The caller acting on one case (or on an aid application or transfer of it): its principal, the
    case and the case's social workers, loaded once by the route's dependency."""

    principal: Principal
    case: SocialWorkCase
    worker_ids: frozenset[uuid.UUID]
    viewer: access.Viewer | None = None
    station_institution_id: uuid.UUID | None = None  # a transfer's receiving station's institution

    @property
    def user_id(self) -> uuid.UUID:
        return self.principal.user_id


def _works_on(actor: CaseActor, _record: Any, _path: str) -> bool:
    return access.works_on(actor.principal, actor.case, actor.worker_ids)


def _supervises(actor: CaseActor, _record: Any, _path: str) -> bool:
    return access.supervises(actor.principal, actor.case.institution_id)


def _receives(actor: CaseActor, record: Transfer, _path: str) -> bool:
    return actor.viewer is not None and access.receives(actor.viewer, record, actor.station_institution_id)


def _authorize(actor: Any, permission: Permission, _record: Any, path: str) -> bool:
    """The permission at the department's unit, narrowed to the case's institution for a grant naming one."""
    return bool(actor.principal.can_at_institution(permission, path, actor.case.institution_id))


def _authorize_transfer(actor: Any, permission: Permission, _record: Transfer, path: str) -> bool:
    """The hospital side through the case's institution; the community side at the resident's grid, or
    through a grant naming the receiving station's institution."""
    principal: Principal = actor.principal
    if permission is RECEIVE:
        stations = {actor.station_institution_id} - {None}
        return principal.can_at(permission, path) or any(
            g.institution_id in stations and g.may(permission) for g in principal.grants
        )
    return any(g.institution_id == actor.case.institution_id and g.may(permission) for g in principal.grants)


def _snapshot(case: SocialWorkCase) -> dict[str, Any]:
    return {"department_id": str(case.department_id), "risk_level": case.risk_level}


CASE: Lifecycle[SocialWorkCase] = Lifecycle(
    subject_type=CASE_SUBJECT,
    noun="case",
    states=CaseStatus,
    actions=[
        Action("assess", WRITE, _works_on, WORKERS_ONLY),
        Action("plan", WRITE, _works_on, WORKERS_ONLY),
        Action("assign", WRITE, _works_on, WORKERS_ONLY),
        Action("approve_plan", SUPERVISE, _supervises, SUPERVISOR_ONLY),
        Action("send_back_plan", SUPERVISE, _supervises, SUPERVISOR_ONLY),
        Action("request_closure", WRITE, _works_on, WORKERS_ONLY),
        Action("approve_closure", SUPERVISE, _supervises, SUPERVISOR_ONLY),
        Action("send_back_closure", SUPERVISE, _supervises, SUPERVISOR_ONLY),
        Action("reopen", WRITE, _works_on, WORKERS_ONLY),
    ],
    transitions=[
        Transition("open", (None,), S.INTAKE, WRITE),
        Transition("assess", (S.INTAKE, S.REOPENED), S.ASSESSING, WRITE),
        Transition("assess", (S.ASSESSING, S.PLANNING, S.ACTIVE), None, WRITE),  # a further assessment
        Transition("plan", (S.ASSESSING, S.PLANNING), S.PLANNING, WRITE),  # submitted for approval
        Transition("approve_plan", (S.PLANNING,), S.ACTIVE, SUPERVISE),
        Transition("send_back_plan", (S.PLANNING,), S.PLANNING, SUPERVISE),
        Transition(
            "assign", (S.INTAKE, S.ASSESSING, S.PLANNING, S.ACTIVE, S.CLOSURE_REQUESTED, S.REOPENED), None, WRITE
        ),
        Transition("request_closure", (S.ACTIVE,), S.CLOSURE_REQUESTED, WRITE),
        Transition("approve_closure", (S.CLOSURE_REQUESTED,), S.CLOSED, SUPERVISE),
        Transition("send_back_closure", (S.CLOSURE_REQUESTED,), S.ACTIVE, SUPERVISE),
        Transition("reopen", (S.CLOSED,), S.REOPENED, WRITE),
    ],
    authorize=_authorize,
    snapshot=_snapshot,
)

AID: Lifecycle[AidApplication] = Lifecycle(
    subject_type=AID_SUBJECT,
    noun="aid application",
    states=AidStatus,
    actions=[
        Action(name, WRITE, _works_on, WORKERS_ONLY) for name in ("submit", "approve", "reject", "deliver", "withdraw")
    ],
    transitions=[
        Transition("draft", (None,), A.DRAFTED, WRITE),
        Transition("submit", (A.DRAFTED,), A.SUBMITTED, WRITE),
        Transition("approve", (A.SUBMITTED,), A.APPROVED, WRITE),
        Transition("reject", (A.SUBMITTED,), A.REJECTED, WRITE),
        Transition("deliver", (A.APPROVED,), A.DELIVERED, WRITE),
        Transition("withdraw", (A.DRAFTED, A.SUBMITTED), A.WITHDRAWN, WRITE),
    ],
    authorize=_authorize,
)

TRANSFER: Lifecycle[Transfer] = Lifecycle(
    subject_type=TRANSFER_SUBJECT,
    noun="transfer",
    states=TransferStatus,
    actions=[
        Action("accept", RECEIVE, _receives, RECEIVER_ONLY),
        Action("decline", RECEIVE, _receives, RECEIVER_ONLY),
        Action("follow_up", RECEIVE, _receives, RECEIVER_ONLY),
        Action("cancel", WRITE, _works_on, WORKERS_ONLY),
    ],
    transitions=[
        Transition("offer", (None,), T.OFFERED, WRITE),
        Transition("accept", (T.OFFERED,), T.ACCEPTED, RECEIVE, Deadlines(open=(TRANSFER_FOLLOW_UP,))),
        Transition("decline", (T.OFFERED,), T.DECLINED, RECEIVE),
        Transition("follow_up", (T.ACCEPTED,), T.FOLLOWED_UP, RECEIVE, Deadlines(meet=(TRANSFER_FOLLOW_UP,))),
        Transition("cancel", (T.OFFERED,), T.CANCELLED, WRITE),
    ],
    authorize=_authorize_transfer,
)
