"""The social-work clocks: their kinds, default policies, who hears at each step, and what they read.

Defaults (configurable per kind through ``GRIDCARE_DEADLINE_POLICIES``):

* ``socialwork.task_due``: a plan task is due at its ``due_at``; its owner is reminded a day before,
  and at the due time the owner and the department's supervisor hear it is overdue;
* ``socialwork.transfer_follow_up``: the community side follows a discharged patient up within 7 days
  of accepting the transfer, escalating as a sentinel report does: a reminder a day before to the
  receiving side, at breach the team leader (or the station's supervisor), two days later the team's
  institution steward and the village's community steward, four days later the district commission.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.deadlines.kinds import deadline_kind
from services.core.deadlines.models import Deadline
from services.core.deadlines.policy import Policy, Step
from services.core.notifications.templates import Message
from services.core.org.models import OrgUnit
from services.core.referrals.routing import institution_users
from services.core.reports.routing import community_stewards, grant_holders, institution_stewards, team_users
from services.core.security.roles import Role
from services.core.socialwork import messages as _messages  # noqa: F401 - registers the templates
from services.core.socialwork.lifecycle import TASK_DUE, TRANSFER_FOLLOW_UP
from services.core.socialwork.models import PlanTask, SocialWorkCase, SocialWorkDepartment, Transfer

_DAY = timedelta(hours=24)
TASK_POLICY = Policy(
    due_after_hours=24,  # opened a day before the task's due time (see ``task_clock_start``)
    steps=(
        Step(name="reminder", offset_hours=-24, audience=("owner",)),
        Step(name="breach", offset_hours=0, audience=("owner", "supervisor")),
    ),
)
FOLLOW_UP_POLICY = Policy(
    due_after_hours=7 * 24,
    steps=(
        Step(name="reminder", offset_hours=-24, audience=("receiving",)),
        Step(name="breach", offset_hours=0, audience=("team_leader", "station_supervisor")),
        Step(name="escalation_1", offset_hours=48, audience=("institution_steward", "community_steward")),
        Step(name="escalation_2", offset_hours=96, audience=("district_commission",)),
    ),
)


def task_clock_start(due_at: datetime) -> datetime:
    """A task's clock starts a day before it is due, so the policy's 24 h lands on the task's own due time."""
    return due_at - _DAY


async def supervisors_of(db: AsyncSession, institution_id: uuid.UUID, at: datetime) -> list[uuid.UUID]:
    """The department's supervisors (accounts whose supervisor grant names the institution)."""
    return await institution_users(db, institution_id, Role.SOCIAL_WORK_SUPERVISOR, at)


async def workers_of_station(db: AsyncSession, institution_id: uuid.UUID, at: datetime) -> list[uuid.UUID]:
    """A station's social workers and supervisors."""
    return sorted(
        set(await institution_users(db, institution_id, Role.SOCIAL_WORKER, at))
        | set(await supervisors_of(db, institution_id, at))
    )


async def _department_name(db: AsyncSession, department_id: uuid.UUID | None) -> str | None:
    if department_id is None:
        return None
    return await db.scalar(select(SocialWorkDepartment.name).where(SocialWorkDepartment.id == department_id))


async def _task_recipients(db: AsyncSession, deadline: Deadline, step: Step) -> Sequence[uuid.UUID]:
    task = await db.get(PlanTask, deadline.subject_id)
    if task is None:
        return []
    found: list[uuid.UUID] = []
    if "owner" in step.audience:
        found.append(task.owner_id)
    if "supervisor" in step.audience:
        institution_id = await db.scalar(select(SocialWorkCase.institution_id).where(SocialWorkCase.id == task.case_id))
        if institution_id is not None:
            found += await supervisors_of(db, institution_id, clock.now())
    return list(dict.fromkeys(found))


async def transfer_audience(db: AsyncSession, transfer: Transfer, name: str, at: datetime) -> list[uuid.UUID]:
    """The accounts one audience name stands for, for this transfer at ``at``."""
    station = await db.get(SocialWorkDepartment, transfer.to_department_id) if transfer.to_department_id else None
    if name == "receiving":
        found: list[uuid.UUID] = []
        if transfer.to_team_id is not None:
            found += await team_users(db, transfer.to_team_id, at)
            found += await community_stewards(db, transfer.village_id, at)
        if station is not None:
            found += await workers_of_station(db, station.institution_id, at)
        return found
    if name == "team_leader" and transfer.to_team_id is not None:
        return await team_users(db, transfer.to_team_id, at, leader_only=True)
    if name == "station_supervisor" and station is not None:
        return await supervisors_of(db, station.institution_id, at)
    if name == "institution_steward" and transfer.to_team_id is not None:
        return await institution_stewards(db, transfer.to_team_id, at)
    if name == "community_steward" and transfer.to_team_id is not None:
        return await community_stewards(db, transfer.village_id, at)
    if name == "district_commission":
        grid_path = await db.scalar(select(OrgUnit.path).where(OrgUnit.id == transfer.grid_id)) or ""
        return await grant_holders(db, Role.DISTRICT_COMMISSION, grid_path, at)
    return []


async def _transfer_recipients(db: AsyncSession, deadline: Deadline, step: Step) -> Sequence[uuid.UUID]:
    transfer = await db.get(Transfer, deadline.subject_id)
    if transfer is None:
        return []
    now = clock.now()
    found: list[uuid.UUID] = []
    for name in step.audience:
        found += await transfer_audience(db, transfer, name, now)
    return list(dict.fromkeys(found))


async def message(db: AsyncSession, deadline: Deadline, step: Step, recipients: Sequence[uuid.UUID]) -> Message:
    """A step's message: what is due, by when, which department; no client, no note, no id."""
    del recipients  # every recipient reads the same
    department_id: uuid.UUID | None = None
    if deadline.kind == TASK_DUE:
        department_id = await db.scalar(
            select(SocialWorkCase.department_id)
            .join(PlanTask, PlanTask.case_id == SocialWorkCase.id)
            .where(PlanTask.id == deadline.subject_id)
        )
    else:
        department_id = await db.scalar(select(Transfer.department_id).where(Transfer.id == deadline.subject_id))
    return Message(
        deadline.kind,
        {
            "what": deadline.kind,
            "step": step.name,
            "due_at": deadline.due_at,
            "department": await _department_name(db, department_id),
        },
    )


deadline_kind(TASK_DUE, message=message, default_policy=TASK_POLICY)(_task_recipients)
deadline_kind(TRANSFER_FOLLOW_UP, message=message, default_policy=FOLLOW_UP_POLICY)(_transfer_recipients)
