"""The periodic duty checks, run by the worker's own timer (``duties.check`` in ``SWEEPS``), in China time.

* ``work_days``: once the month is over, a primary team without a work day in it: its leader is told.
* ``livestreams``: once the week (Monday to Sunday) is over, a district-level institution without a
  livestream of at least 30 minutes in it: its steward is told.
* ``contacts``: from a month before the quarter ends, each member of a team with signed residents no
  contact reached this quarter: how many, and the masked names the member may read.
* ``due_dates``: the member roster (by 10 July) and the annual work summary (by 30 November): from
  ``REMIND_DAYS`` before the date a reminder, after it a notice, to the district administrators and to
  each town that has not handed it in (its supervisors and its institutions' stewards).

Exactly once: every notice first claims its ``duty_notice`` row (``INSERT ... ON CONFLICT DO NOTHING
RETURNING``) in the transaction that writes the notifications, so a re-run finds the row and a second
worker running at the same moment waits on the first one's row and then finds it. A subject already
told is skipped before any work is done for it. Redis is not involved.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.core import clock
from services.core.accounts.models import RoleGrant
from services.core.accounts.service import active_grants
from services.core.duties import messages
from services.core.duties.calendar import add_months, china_date, day_start, previous_month, previous_week, quarter
from services.core.duties.metrics import contact_duty
from services.core.duties.models import DutyNotice, DutySubmission, Livestream, WorkDay, YearlyDuty
from services.core.duties.schemas import LIVESTREAM_MINUTES
from services.core.duties.service import due_on
from services.core.notifications.service import notify
from services.core.notifications.templates import Message
from services.core.org.models import OrgUnit, OrgUnitKind
from services.core.periods import active_at
from services.core.security.pii import mask_name
from services.core.security.principal import Principal, scope_clause
from services.core.security.roles import Permission, Role
from services.core.signing.queries import uncontacted
from services.core.teams.models import Institution, InstitutionLevel, InstitutionSteward, Person, Team, TeamMember

WORK_DAY, LIVESTREAM, CONTACTS = "work_day", "livestream", "quarterly_contact"
OVERDUE, REMINDER = "overdue", "reminder"
# The yearly documents: a reminder this many days before the last day.
REMIND_DAYS = 7
# Subjects taken per statement; a check that found a full batch says so and runs again at once.
BATCH = 200
# Names listed in a contact reminder; the app shows the whole list (GET /teams/{id}/contacts-due).
NAMES_SHOWN = 20


@dataclass
class CheckResult:
    """Per check: subjects told now (a re-run or a second worker adds none)."""

    told: dict[str, int] = field(default_factory=dict)
    more: bool = False


async def _claim(
    db: AsyncSession,
    *,
    duty: str,
    stage: str,
    period_start: date,
    subjects: Sequence[tuple[uuid.UUID, uuid.UUID]],
    now: datetime,
) -> set[uuid.UUID]:
    """Claim ``(subject, district)`` notices; the subjects this transaction now owns (the others were told)."""
    if not subjects:
        return set()
    rows = [
        {
            "duty": duty,
            "stage": stage,
            "period_start": period_start,
            "subject_id": s,
            "district_id": d,
            "fired_at": now,
            "recipient_ids": [],
        }
        for s, d in subjects
    ]
    stmt = insert(DutyNotice).values(rows).on_conflict_do_nothing().returning(DutyNotice.subject_id)
    return set(await db.scalars(stmt))


async def _told(
    db: AsyncSession,
    key: tuple[str, str, date, uuid.UUID],
    recipients: Sequence[uuid.UUID],
    message: Message,
    *,
    subject_type: str,
    subject_id: uuid.UUID,
) -> None:
    """Notify ``recipients`` for a claimed notice and keep who was told on its row."""
    duty, stage, period_start, notice_subject = key
    if recipients:
        await notify(
            db,
            user_ids=recipients,
            kind=f"duty.{duty}",
            message=message,
            subject_type=subject_type,
            subject_id=subject_id,
            dedupe_key=f"duty:{duty}:{stage}:{period_start.isoformat()}:{notice_subject}",
        )
    await db.execute(
        update(DutyNotice)
        .where(
            DutyNotice.duty == duty,
            DutyNotice.stage == stage,
            DutyNotice.period_start == period_start,
            DutyNotice.subject_id == notice_subject,
        )
        .values(recipient_ids=[str(r) for r in recipients])
    )


def _not_told(duty: str, stage: str, period_start: date, subject: Any) -> ColumnElement[bool]:
    return ~exists().where(
        DutyNotice.duty == duty,
        DutyNotice.stage == stage,
        DutyNotice.period_start == period_start,
        DutyNotice.subject_id == subject,
    )


async def _users(db: AsyncSession, stmt: object) -> dict[uuid.UUID, list[uuid.UUID]]:
    """``(key, user_id)`` rows grouped by key."""
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    for key, user_id in await db.execute(stmt):  # type: ignore[call-overload]
        if user_id is not None and user_id not in found.setdefault(key, []):
            found[key].append(user_id)
    return found


# ---------------------------------------------------------------- the month's work day


async def work_days(db: AsyncSession, *, now: datetime | None = None) -> tuple[int, bool]:
    """Tell the leader of each primary team that held no work day last month (teams existing all month)."""
    now = now or clock.now()
    start, end = previous_month(china_date(now))
    held = exists().where(WorkDay.team_id == Team.id, WorkDay.held_on >= start, WorkDay.held_on < end)
    teams = (
        await db.execute(
            select(Team.id, Team.district_id, Team.name)
            .where(
                Team.kind == "primary",
                Team.status == "active",
                Team.created_at < day_start(start),
                ~held,
                _not_told(WORK_DAY, OVERDUE, start, Team.id),
            )
            .order_by(Team.id)
            .limit(BATCH)
        )
    ).all()
    claimed = await _claim(
        db, duty=WORK_DAY, stage=OVERDUE, period_start=start, subjects=[(t, d) for t, d, _ in teams], now=now
    )
    leaders = await _users(
        db,
        select(TeamMember.team_id, Person.user_id)
        .join(Person, Person.id == TeamMember.person_id)
        .where(TeamMember.team_id.in_(claimed), TeamMember.role == "leader", active_at(TeamMember, now))
        .order_by(Person.user_id),
    )
    for team_id, _, name in teams:
        if team_id in claimed:
            message = Message(messages.WORK_DAY_MISSED, {"team": name, "month": start})
            key = (WORK_DAY, OVERDUE, start, team_id)
            await _told(db, key, leaders.get(team_id, []), message, subject_type="team", subject_id=team_id)
    return len(claimed), len(teams) >= BATCH


# ---------------------------------------------------------------- the week's livestream


async def livestreams(db: AsyncSession, *, now: datetime | None = None) -> tuple[int, bool]:
    """Tell the steward of each district-level institution that held no livestream of 30 minutes last week."""
    now = now or clock.now()
    start, end = previous_week(china_date(now))
    held = exists().where(
        Livestream.institution_id == Institution.id,
        Livestream.started_at >= day_start(start),
        Livestream.started_at < day_start(end),
        Livestream.duration_minutes >= LIVESTREAM_MINUTES,
    )
    institutions = (
        await db.execute(
            select(Institution.id, Institution.district_id, Institution.name)
            .where(
                Institution.level == InstitutionLevel.DISTRICT.value,
                Institution.created_at < day_start(start),
                ~held,
                _not_told(LIVESTREAM, OVERDUE, start, Institution.id),
            )
            .order_by(Institution.id)
            .limit(BATCH)
        )
    ).all()
    claimed = await _claim(
        db, duty=LIVESTREAM, stage=OVERDUE, period_start=start, subjects=[(i, d) for i, d, _ in institutions], now=now
    )
    stewards = await _users(
        db,
        select(InstitutionSteward.institution_id, Person.user_id)
        .join(Person, Person.id == InstitutionSteward.person_id)
        .where(InstitutionSteward.institution_id.in_(claimed), active_at(InstitutionSteward, now))
        .order_by(Person.user_id),
    )
    for institution_id, _, name in institutions:
        if institution_id in claimed:
            message = Message(
                messages.LIVESTREAM_MISSED,
                {"institution": name, "week_start": start, "week_end": end - timedelta(days=1)},
            )
            key = (LIVESTREAM, OVERDUE, start, institution_id)
            recipients = stewards.get(institution_id, [])
            await _told(db, key, recipients, message, subject_type="institution", subject_id=institution_id)
    return len(claimed), len(institutions) >= BATCH


# ---------------------------------------------------------------- the quarter's contacts


async def contacts(db: AsyncSession, *, now: datetime | None = None) -> tuple[int, bool]:
    """A month before the quarter ends, tell each member of a team with signed residents not reached yet."""
    now = now or clock.now()
    today = china_date(now)
    start, end = quarter(today)
    if today < add_months(start, 2):
        return 0, False
    # Only teams with a member not yet told this quarter are counted (a team told whole is not scanned again).
    untold = select(TeamMember.team_id).join(Person, Person.id == TeamMember.person_id)
    untold = untold.where(
        active_at(TeamMember, now), Person.user_id.is_not(None), _not_told(CONTACTS, REMINDER, start, TeamMember.id)
    )
    candidates = list(await db.scalars(untold.distinct()))
    if not candidates:
        return 0, False
    duty = await contact_duty(db, quarter=(start, end), on=today, team_ids=candidates)
    behind = [team_id for team_id, figures in duty.items() if figures.unreached > 0]
    if not behind:
        return 0, False
    members = (
        await db.execute(
            select(TeamMember.id, TeamMember.district_id, TeamMember.team_id, Person.user_id, Team.name)
            .join(Person, Person.id == TeamMember.person_id)
            .join(Team, Team.id == TeamMember.team_id)
            .where(
                TeamMember.team_id.in_(behind),
                active_at(TeamMember, now),
                Person.user_id.is_not(None),
                _not_told(CONTACTS, REMINDER, start, TeamMember.id),
            )
            .order_by(TeamMember.id)
            .limit(BATCH)
        )
    ).all()
    claimed = await _claim(
        db, duty=CONTACTS, stage=REMINDER, period_start=start, subjects=[(m[0], m[1]) for m in members], now=now
    )
    for member_id, _, team_id, user_id, team_name in members:
        if member_id not in claimed or user_id is None:
            continue
        # The names only as far as this member may read residents: a scope built from their own grants.
        grants = tuple(await active_grants(db, user_id=user_id))
        reader = Principal(user_id=user_id, username="", kind="person", session_id=uuid.uuid4(), grants=grants)
        names: list[str] = []
        if reader.can(Permission.RESIDENTS_READ):
            shown, _ = await uncontacted(
                db,
                team_id=team_id,
                on=today,
                quarter=(day_start(start), day_start(end)),
                scope=scope_clause(reader, Permission.RESIDENTS_READ, OrgUnit.path),
                limit=NAMES_SHOWN,
            )
            names = [mask_name(item.name) for item in shown]
        count = duty[team_id].unreached
        listed = "、".join(names) + (f"等{count}人" if count > len(names) else "")
        message = Message(
            messages.CONTACTS_DUE,
            {"team": team_name, "count": count, "quarter_ends_at": day_start(end)},
            restricted={"names": listed} if names else {},
            readers=frozenset({user_id}) if names else frozenset(),
        )
        key = (CONTACTS, REMINDER, start, member_id)
        await _told(db, key, [user_id], message, subject_type="team", subject_id=team_id)
    return len(claimed), len(members) >= BATCH


# ---------------------------------------------------------------- the yearly due dates


async def due_dates(db: AsyncSession, *, now: datetime | None = None) -> tuple[int, bool]:
    """Remind before, and tell after, each yearly date: per recipient the towns of theirs not handed in."""
    now = now or clock.now()
    today = china_date(now)
    told, more = 0, False
    for duty in YearlyDuty:
        due = due_on(duty, today.year)
        if today > due:
            stage = OVERDUE
        elif today >= due - timedelta(days=REMIND_DAYS):
            stage = REMINDER
        else:
            continue
        n, full = await _due_date(db, duty=duty, stage=stage, year=today.year, due=due, now=now)
        told, more = told + n, more or full
    return told, more


async def _due_date(
    db: AsyncSession, *, duty: YearlyDuty, stage: str, year: int, due: date, now: datetime
) -> tuple[int, bool]:
    handed_in = exists().where(
        DutySubmission.duty == duty.value, DutySubmission.year == year, DutySubmission.org_unit_id == OrgUnit.id
    )
    missing = (
        await db.execute(
            select(OrgUnit.id, OrgUnit.name, OrgUnit.path)
            .where(OrgUnit.kind == OrgUnitKind.TOWN.value, ~handed_in)
            .order_by(OrgUnit.path)
        )
    ).all()
    if not missing:
        return 0, False
    town_ids = [t for t, _, _ in missing]
    town, grant_unit = aliased(OrgUnit, name="town"), aliased(OrgUnit, name="grant_unit")
    # District administrators and town supervisors whose grant covers the town; stewards of its institutions.
    granted = (
        select(town.id, RoleGrant.user_id)
        .select_from(RoleGrant)
        .join(grant_unit, grant_unit.id == RoleGrant.org_unit_id)
        .join(town, town.path.startswith(grant_unit.path))
        .where(
            town.id.in_(town_ids),
            RoleGrant.role.in_([Role.DISTRICT_ADMIN.value, Role.TOWN_SUPERVISOR.value]),
            active_at(RoleGrant, now),
        )
    )
    per_user: dict[uuid.UUID, list[uuid.UUID]] = {}
    districts: dict[uuid.UUID, uuid.UUID] = {}
    for town_id, user_id in await db.execute(granted):
        per_user.setdefault(user_id, []).append(town_id)
    stewards = await db.execute(
        select(Institution.org_unit_id, Person.user_id)
        .join(InstitutionSteward, InstitutionSteward.institution_id == Institution.id)
        .join(Person, Person.id == InstitutionSteward.person_id)
        .where(Institution.org_unit_id.in_(town_ids), active_at(InstitutionSteward, now), Person.user_id.is_not(None))
    )
    for town_id, steward in stewards:
        if steward is not None and town_id not in per_user.setdefault(steward, []):
            per_user[steward].append(town_id)
    district_of = dict(
        (await db.execute(select(OrgUnit.id, OrgUnit.district_id).where(OrgUnit.id.in_(town_ids)))).all()
    )
    for user_id, towns in per_user.items():
        districts[user_id] = district_of[towns[0]]
    period_start = date(year, 1, 1)
    told_before = set(
        await db.scalars(
            select(DutyNotice.subject_id).where(
                DutyNotice.duty == duty.value,
                DutyNotice.stage == stage,
                DutyNotice.period_start == period_start,
                DutyNotice.subject_id.in_(list(per_user)),
            )
        )
    )
    pending = sorted(u for u in per_user if u not in told_before)[:BATCH]
    claimed = await _claim(
        db,
        duty=duty.value,
        stage=stage,
        period_start=period_start,
        subjects=[(u, districts[u]) for u in pending],
        now=now,
    )
    names = {t: n for t, n, _ in missing}
    for user_id in sorted(claimed):
        listed = "、".join(names[t] for t in sorted(set(per_user[user_id]), key=lambda t: names[t]))
        message = Message(messages.DUE_DATE, {"duty": duty.value, "stage": stage, "due_on": due, "towns": listed})
        key = (duty.value, stage, period_start, user_id)
        await _told(db, key, [user_id], message, subject_type="org_unit", subject_id=per_user[user_id][0])
    return len(claimed), len(per_user) - len(told_before) > BATCH


CHECKS = {"work_days": work_days, "livestreams": livestreams, "contacts": contacts, "due_dates": due_dates}
