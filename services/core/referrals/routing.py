"""The referral clocks: their kinds, default policies, who hears at each step, and what they read.

Defaults (configurable per kind through ``GRIDCARE_DEADLINE_POLICIES``, seed 003 §二(二)1(3)④):

* ``referral.receive`` (upward): the receiving institution sees the request within 2 h; the desk is
  reminded at 1 h, at breach the desk and the institution's steward hear, 2 h later the commission;
* ``referral.decide`` (upward): accepted or declined within 24 h (paused while ``on_hold``): reminder
  4 h before to the desk, breach to the receiving institution's steward, +24 h the district commission;
* ``referral.no_show`` (upward): started at the appointment, due a day later: if the patient has not
  arrived by then the referring team and the desk are told;
* ``referral.take_over`` (downward): the responsible team takes the patient over within 24 h;
* ``referral.follow_up`` (downward): the first follow-up within 48 h of discharge, escalating as a
  sentinel report's does (team, leader, steward and community steward, commission).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.accounts.models import RoleGrant
from services.core.deadlines.kinds import deadline_kind
from services.core.deadlines.models import Deadline
from services.core.deadlines.policy import DEFAULT_STEPS, Policy, Step
from services.core.notifications.templates import Message
from services.core.org.models import Institution, OrgUnit
from services.core.periods import active_at
from services.core.referrals import messages as _messages  # noqa: F401 - registers the templates
from services.core.referrals.models import Referral
from services.core.reports.routing import community_stewards, grant_holders, institution_stewards, team_users
from services.core.security.roles import Role
from services.core.teams.models import InstitutionSteward, Person

SUBJECT = "referral"
RECEIVE = "referral.receive"
DECIDE = "referral.decide"
NO_SHOW = "referral.no_show"
TAKE_OVER = "referral.take_over"
FOLLOW_UP = "referral.follow_up"
CHINA = ZoneInfo("Asia/Shanghai")

RECEIVE_POLICY = Policy(
    due_after_hours=2,
    steps=(
        Step(name="reminder", offset_hours=-1, audience=("desk",)),
        Step(name="breach", offset_hours=0, audience=("desk", "receiving_steward")),
        Step(name="escalation_1", offset_hours=2, audience=("district_commission",)),
    ),
)
DECIDE_POLICY = Policy(
    due_after_hours=24,
    steps=(
        Step(name="reminder", offset_hours=-4, audience=("desk",)),
        Step(name="breach", offset_hours=0, audience=("receiving_steward",)),
        Step(name="escalation_1", offset_hours=24, audience=("district_commission",)),
    ),
)
NO_SHOW_POLICY = Policy(
    due_after_hours=24, steps=(Step(name="check", offset_hours=0, audience=("referring_team", "desk")),)
)
TAKE_OVER_POLICY = Policy(
    due_after_hours=24,
    steps=(
        Step(name="reminder", offset_hours=-6, audience=("responsible",)),
        Step(name="breach", offset_hours=0, audience=("team_leader",)),
        Step(name="escalation_1", offset_hours=24, audience=("institution_steward",)),
        Step(name="escalation_2", offset_hours=48, audience=("district_commission",)),
    ),
)
FOLLOW_UP_POLICY = Policy(due_after_hours=48, steps=DEFAULT_STEPS)


def china_time(at: datetime) -> str:
    """A time as a person in the district reads it: ``2026-03-02 16:00`` (China time)."""
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


async def institution_users(db: AsyncSession, institution_id: uuid.UUID, role: Role, at: datetime) -> list[uuid.UUID]:
    """Accounts holding an active ``role`` grant naming the institution (its referral desk, say)."""
    stmt = select(RoleGrant.user_id).where(
        RoleGrant.institution_id == institution_id, RoleGrant.role == role.value, active_at(RoleGrant, at)
    )
    return sorted(set(await db.scalars(stmt)))


async def stewards_of(db: AsyncSession, institution_id: uuid.UUID, at: datetime) -> list[uuid.UUID]:
    """The institution's active stewards (their accounts)."""
    stmt = (
        select(Person.user_id)
        .join(InstitutionSteward, InstitutionSteward.person_id == Person.id)
        .where(
            InstitutionSteward.institution_id == institution_id,
            active_at(InstitutionSteward, at),
            Person.user_id.is_not(None),
        )
    )
    return sorted({u for u in await db.scalars(stmt) if u is not None})


async def audience(db: AsyncSession, referral: Referral, name: str, at: datetime) -> list[uuid.UUID]:
    """The accounts one audience name stands for, for this referral at ``at``."""
    if name == "desk":
        return await institution_users(db, referral.to_institution_id, Role.REFERRAL_DESK, at)
    if name == "receiving_steward":
        return await stewards_of(db, referral.to_institution_id, at)
    if name == "referring_team":
        return await team_users(db, referral.from_team_id, at) if referral.from_team_id else []
    team_id = referral.to_team_id
    if name in ("responsible", "team") and team_id is not None:
        return await team_users(db, team_id, at)
    if name == "team_leader" and team_id is not None:
        return await team_users(db, team_id, at, leader_only=True)
    if name == "institution_steward" and team_id is not None:
        return await institution_stewards(db, team_id, at)
    if name == "community_steward":
        return await community_stewards(db, referral.village_id, at)
    if name == "district_commission":
        grid_path = await db.scalar(select(OrgUnit.path).where(OrgUnit.id == referral.grid_id)) or ""
        return await grant_holders(db, Role.DISTRICT_COMMISSION, grid_path, at)
    return []


_WHAT = {
    RECEIVE: "接收上转申请",
    DECIDE: "答复上转申请(接受或拒绝)",
    NO_SHOW: "确认患者到诊",
    TAKE_OVER: "承接下转患者",
    FOLLOW_UP: "下转患者首次随访",
}


async def message(db: AsyncSession, deadline: Deadline, step: Step, recipients: Sequence[uuid.UUID]) -> Message:
    """A step's message (``referrals/messages.py``): what is due, by when, between which institutions;
    no clinical text and no id."""
    del recipients  # every recipient reads the same: nothing here is restricted
    referral = await db.get(Referral, deadline.subject_id)
    names: dict[uuid.UUID, str] = {}
    if referral is not None:
        ids = [referral.from_institution_id, referral.to_institution_id]
        names = dict((await db.execute(select(Institution.id, Institution.name).where(Institution.id.in_(ids)))).all())
    return Message(
        "referral.step",
        {
            "what": deadline.kind,
            "step": step.name,
            "due_at": deadline.due_at,
            "from_name": names.get(referral.from_institution_id) if referral else None,
            "to_name": names.get(referral.to_institution_id) if referral else None,
        },
    )


async def _recipients(db: AsyncSession, deadline: Deadline, step: Step) -> Sequence[uuid.UUID]:
    referral = await db.get(Referral, deadline.subject_id)
    if referral is None:
        return []
    now = clock.now()
    found: list[uuid.UUID] = []
    for name in step.audience:
        found += await audience(db, referral, name, now)
    return list(dict.fromkeys(found))


for _kind, _policy in (
    (RECEIVE, RECEIVE_POLICY),
    (DECIDE, DECIDE_POLICY),
    (NO_SHOW, NO_SHOW_POLICY),
    (TAKE_OVER, TAKE_OVER_POLICY),
    (FOLLOW_UP, FOLLOW_UP_POLICY),
):
    deadline_kind(_kind, message=message, default_policy=_policy)(_recipients)
