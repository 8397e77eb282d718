"""Who hears about a report: at submission, and at each step of its follow-up clock.

People reach accounts through ``person.user_id``; a person without an account is not
notified (the coverage gaps and the team roster show who lacks one). Audiences:

* ``responsible`` / ``team``: the responsible team's members active now; for an unrouted
  report (no team), the town's primary institutions' stewards and the town supervisors;
* ``team_if_waiting``: the team members not yet told, while the report waits to be reported in;
* ``team_leader``: the team's active leader (unrouted: as ``team``);
* ``institution_steward``: the steward of the team's institution (unrouted: the town's primary ones);
* ``community_steward``: the village's community steward;
* ``district_commission``: accounts with an active ``district_commission`` grant covering the grid.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import and_, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.accounts.models import RoleGrant
from services.core.assignments.models import CommunityRole, CommunityRoleKind
from services.core.deadlines.kinds import deadline_kind, deadline_kind_many, deadline_messages_many, default_message
from services.core.deadlines.models import Deadline
from services.core.deadlines.policy import DEFAULT_STEPS, Policy, Step
from services.core.notifications.models import Notification
from services.core.notifications.templates import Message
from services.core.org.models import OrgUnit
from services.core.periods import active_at
from services.core.reports import messages
from services.core.reports.models import ReportStatus, SentinelReport
from services.core.security.roles import Role
from services.core.teams.models import Institution, InstitutionLevel, InstitutionSteward, Person, Team, TeamMember

KIND = "report.follow_up"
# An urgent risk happening now must be reported in on within 2 hours (its own clock, met by the
# report-in transition); the 48-hour follow-up clock runs beside it as for every report.
REPORT_IN_KIND = "report.report_in"
SUBJECT = "report"

# The follow-up clock's built-in policy (configuration may override it, per category too):
# when the sentinel's paired members have not reported in two hours after submission, the rest
# of the team is told (``team_if_waiting``); an urgent risk tells the village's community
# steward and the whole team at once (``at_start``).
TEAM_IF_WAITING = Step(name="team_if_waiting", offset_hours=2, anchor="start", audience=("team_if_waiting",))
AT_START = Step(name="at_start", offset_hours=0, anchor="start", audience=("community_steward", "team"))
FOLLOW_UP_POLICY = Policy(steps=(TEAM_IF_WAITING, *DEFAULT_STEPS))
URGENT_POLICY = Policy(steps=(AT_START, *DEFAULT_STEPS))
# The report-in clock of an urgent risk happening now: due 2 h after submission; half an hour
# before, the whole team is reminded; at breach the team leader and the institution steward (who
# can send someone) are told; 2 h later the district commission.
REPORT_IN_POLICY = Policy(
    due_after_hours=2,
    steps=(
        Step(name="reminder", offset_hours=-0.5, audience=("team",)),
        Step(name="breach", offset_hours=0, audience=("team_leader", "institution_steward")),
        Step(name="escalation_1", offset_hours=2, audience=("district_commission",)),
    ),
)


async def team_users(
    db: AsyncSession, team_id: uuid.UUID, at: datetime, *, leader_only: bool = False
) -> list[uuid.UUID]:
    """Accounts of the team's members (or its leader) active at ``at``."""
    stmt = (
        select(Person.user_id)
        .join(TeamMember, TeamMember.person_id == Person.id)
        .where(TeamMember.team_id == team_id, active_at(TeamMember, at), Person.user_id.is_not(None))
    )
    if leader_only:
        stmt = stmt.where(TeamMember.role == "leader")
    return [u for u in await db.scalars(stmt.order_by(Person.user_id)) if u is not None]


async def town_fallback(db: AsyncSession, town_id: uuid.UUID, grid_path: str, at: datetime) -> list[uuid.UUID]:
    """Stewards of the town's primary institutions and the town supervisors (for unrouted reports)."""
    stewards = (
        select(Person.user_id)
        .join(InstitutionSteward, InstitutionSteward.person_id == Person.id)
        .join(Institution, Institution.id == InstitutionSteward.institution_id)
        .where(
            Institution.org_unit_id == town_id,
            Institution.level == InstitutionLevel.PRIMARY.value,
            active_at(InstitutionSteward, at),
            Person.user_id.is_not(None),
        )
    )
    supervisors = await grant_holders(db, Role.TOWN_SUPERVISOR, grid_path, at)
    return sorted({u for u in await db.scalars(stewards) if u is not None} | set(supervisors))


async def grant_holders(db: AsyncSession, role: Role, grid_path: str, at: datetime) -> list[uuid.UUID]:
    """Accounts with an active grant of ``role`` whose unit covers the grid."""
    stmt = (
        select(RoleGrant.user_id)
        .join(OrgUnit, OrgUnit.id == RoleGrant.org_unit_id)
        .where(RoleGrant.role == role.value, active_at(RoleGrant, at), literal(grid_path).startswith(OrgUnit.path))
        .distinct()
    )
    return sorted(await db.scalars(stmt))


async def institution_stewards(db: AsyncSession, team_id: uuid.UUID, at: datetime) -> list[uuid.UUID]:
    """The active steward(s) of the team's institution."""
    stmt = (
        select(Person.user_id)
        .join(InstitutionSteward, InstitutionSteward.person_id == Person.id)
        .join(Team, Team.institution_id == InstitutionSteward.institution_id)
        .where(Team.id == team_id, active_at(InstitutionSteward, at), Person.user_id.is_not(None))
    )
    return [u for u in await db.scalars(stmt) if u is not None]


async def community_stewards(db: AsyncSession, village_id: uuid.UUID, at: datetime) -> list[uuid.UUID]:
    """The village's active community steward(s)."""
    stmt = (
        select(Person.user_id)
        .join(CommunityRole, CommunityRole.person_id == Person.id)
        .where(
            CommunityRole.org_unit_id == village_id,
            CommunityRole.role == CommunityRoleKind.COMMUNITY_STEWARD.value,
            active_at(CommunityRole, at),
            Person.user_id.is_not(None),
        )
    )
    return [u for u in await db.scalars(stmt) if u is not None]


async def already_told(db: AsyncSession, report_id: uuid.UUID) -> set[uuid.UUID]:
    """Accounts that have any notification about the report."""
    stmt = select(Notification.user_id).where(
        and_(Notification.subject_type == SUBJECT, Notification.subject_id == report_id)
    )
    return set(await db.scalars(stmt))


async def already_told_many(db: AsyncSession, report_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, set[uuid.UUID]]:
    """``already_told`` for many reports in one query."""
    told: dict[uuid.UUID, set[uuid.UUID]] = {}
    if report_ids:
        rows = await db.execute(
            select(Notification.subject_id, Notification.user_id).where(
                Notification.subject_type == SUBJECT, Notification.subject_id.in_(list(report_ids))
            )
        )
        for report_id, user_id in rows.all():
            if report_id is not None:
                told.setdefault(report_id, set()).add(user_id)
    return told


async def audience(db: AsyncSession, report: SentinelReport, name: str, at: datetime) -> list[uuid.UUID]:
    """The accounts one audience name stands for, for this report at ``at``."""
    grid_path = await db.scalar(select(OrgUnit.path).where(OrgUnit.id == report.grid_id)) or ""
    team_id = report.team_id
    if name in ("responsible", "team", "team_leader", "team_if_waiting") and team_id is None:
        if name == "team_if_waiting":
            return []  # the town was told at submission
        return await town_fallback(db, report.town_id, grid_path, at)
    if name in ("responsible", "team") and team_id is not None:
        return await team_users(db, team_id, at)
    if name == "team_if_waiting" and team_id is not None:
        if report.status != ReportStatus.SUBMITTED:
            return []
        told = await already_told(db, report.id)
        return [u for u in await team_users(db, team_id, at) if u not in told]
    if name == "team_leader" and team_id is not None:
        return await team_users(db, team_id, at, leader_only=True)
    if name == "institution_steward":
        if team_id is None:
            return await town_fallback(db, report.town_id, grid_path, at)
        return await institution_stewards(db, team_id, at)
    if name == "community_steward":
        return await community_stewards(db, report.village_id, at)
    if name == "district_commission":
        return await grant_holders(db, Role.DISTRICT_COMMISSION, grid_path, at)
    return []


async def message(db: AsyncSession, deadline: Deadline, step: Step, recipients: Sequence[uuid.UUID]) -> Message:
    """A step's message (``reports/messages.py``): the report's category, place, people and due time."""
    report = await db.get(SentinelReport, deadline.subject_id)
    if report is None:
        return await default_message(db, deadline, step, recipients)
    return await messages.report_message(db, deadline.kind, report, recipients, step=step.name, due_at=deadline.due_at)


def happening_now(report: SentinelReport) -> bool:
    """An urgent risk whose danger is present right now: it gets the 2-hour report-in clock."""
    return report.category == "urgent_risk" and bool(report.details.get("happening_now"))


@deadline_kind(REPORT_IN_KIND, message=message, default_policy=REPORT_IN_POLICY)
@deadline_kind(KIND, message=message, default_policy=FOLLOW_UP_POLICY, category_policies={"urgent_risk": URGENT_POLICY})
async def report_follow_up(db: AsyncSession, deadline: Deadline, step: Step) -> Sequence[uuid.UUID]:
    """The accounts to tell at ``step`` of a report's follow-up or report-in clock."""
    report = await db.get(SentinelReport, deadline.subject_id)
    if report is None:
        return []
    now = clock.now()
    found: list[uuid.UUID] = []
    for name in step.audience:
        found += await audience(db, report, name, now)
    return list(dict.fromkeys(found))


def _shared_key(report: SentinelReport, name: str) -> tuple[object, ...] | None:
    """All that ``audience(report, name)`` reads, when reports sharing it get the same answer; None: per report.

    Kept beside ``audience``: a change there that reads another field of the report changes this too.
    """
    team_names = ("responsible", "team", "team_leader")
    if name == "team_if_waiting":
        return None  # depends on the report's own status and who was told about it
    if name in (*team_names, "institution_steward") and report.team_id is None:
        return ("town", report.town_id, report.grid_id)
    if name in ("responsible", "team"):
        return ("team", report.team_id)
    if name == "team_leader":
        return ("leader", report.team_id)
    if name == "institution_steward":
        return ("steward", report.team_id)
    if name == "community_steward":
        return ("community", report.village_id)
    if name == "district_commission":
        return ("commission", report.grid_id)
    return ("nobody",)


@deadline_kind_many(KIND)
async def report_follow_up_many(db: AsyncSession, pairs: Sequence[tuple[Deadline, Step]]) -> list[list[uuid.UUID]]:
    """``report_follow_up`` for a sweep batch: the reports in one query, each audience once per team, village, grid."""
    ids = {deadline.subject_id for deadline, _ in pairs}
    reports = {r.id: r for r in await db.scalars(select(SentinelReport).where(SentinelReport.id.in_(ids)))}
    now = clock.now()
    memo: dict[tuple[object, ...], list[uuid.UUID]] = {}
    waiting = {
        deadline.subject_id
        for deadline, step in pairs
        if "team_if_waiting" in step.audience
        and (r := reports.get(deadline.subject_id)) is not None
        and r.team_id is not None
        and r.status == ReportStatus.SUBMITTED
    }
    told = await already_told_many(db, waiting)
    answers: list[list[uuid.UUID]] = []
    for deadline, step in pairs:
        report = reports.get(deadline.subject_id)
        found: list[uuid.UUID] = []
        if report is None:
            answers.append(found)
            continue
        for name in step.audience:
            if name == "team_if_waiting":  # ``audience``'s rule, with who was told read for the whole batch
                if report.id in waiting:
                    if ("team", report.team_id) not in memo:
                        memo[("team", report.team_id)] = await audience(db, report, "team", now)
                    found += [u for u in memo[("team", report.team_id)] if u not in told.get(report.id, set())]
                continue
            key = _shared_key(report, name)
            if key is None:
                found += await audience(db, report, name, now)
                continue
            if key not in memo:
                memo[key] = await audience(db, report, name, now)
            found += memo[key]
        answers.append(list(dict.fromkeys(found)))
    return answers


@deadline_messages_many(REPORT_IN_KIND)
@deadline_messages_many(KIND)
async def messages_many(db: AsyncSession, items: Sequence[tuple[Deadline, Step, Sequence[uuid.UUID]]]) -> list[Message]:
    """``message`` for a sweep batch: the reports in one query (none when the recipients step loaded them),
    their names and places in a few more."""
    ids = {deadline.subject_id for deadline, _, _ in items}
    reports: dict[uuid.UUID, SentinelReport] = {}
    for rid in ids:
        loaded = db.identity_map.get(db.identity_key(SentinelReport, rid))
        if isinstance(loaded, SentinelReport):
            reports[rid] = loaded
    missing = ids - set(reports)
    if missing:
        reports |= {r.id: r for r in await db.scalars(select(SentinelReport).where(SentinelReport.id.in_(missing)))}
    found = [reports.get(deadline.subject_id) for deadline, _, _ in items]
    rendered = iter(
        await messages.report_messages(
            db,
            [
                (deadline.kind, report, recipients, {"step": step.name, "due_at": deadline.due_at})
                for (deadline, step, recipients), report in zip(items, found, strict=True)
                if report is not None
            ],
        )
    )
    return [
        next(rendered) if report is not None else await default_message(db, deadline, step, recipients)
        for (deadline, step, recipients), report in zip(items, found, strict=True)
    ]
