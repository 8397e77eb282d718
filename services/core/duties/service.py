"""Recording the duties: work days (by the team's own members), livestreams (for an institution in the
caller's scope, a steward's own), and the yearly submissions of a town; reading them in scope.

Every create takes a client id and goes through ``core.replay``; every read starts from a
``readable_*`` statement filtered in SQL by ``duties:read``.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy import Select, and_, exists, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.core import clock
from services.core.assignments.models import Responsibility
from services.core.assignments.schemas import UnitBrief
from services.core.audit import service as audit
from services.core.duties.calendar import china_date, day_start
from services.core.duties.errors import NotTeamMember
from services.core.duties.models import DutySubmission, Livestream, WorkDay, WorkDayUnit, YearlyDuty
from services.core.duties.schemas import (
    LIVESTREAM_MINUTES,
    LivestreamCreate,
    LivestreamRead,
    SubmissionCreate,
    SubmissionRead,
    WorkDayCreate,
    WorkDayRead,
)
from services.core.errors import NotFound, field_error
from services.core.org.models import OrgUnit, OrgUnitKind
from services.core.pagination import paginate, paginate_rows
from services.core.periods import active_at
from services.core.replay import Created, insert_once, replayed
from services.core.residents.models import Resident
from services.core.security.principal import (
    Principal,
    institution_scope_clause,
    scope_clause,
    scope_or_ancestor_clause,
)
from services.core.security.roles import Permission
from services.core.teams import repository as teams
from services.core.teams.models import Institution, Person, Team, TeamMember

EARLIEST = date(2020, 1, 1)
READ = Permission.DUTIES_READ

# The yearly due dates (seed 003 §三(四)): the last day each document is due, China time.
DUE_ON: dict[YearlyDuty, tuple[int, int]] = {YearlyDuty.ROSTER: (7, 10), YearlyDuty.ANNUAL_SUMMARY: (11, 30)}


def due_on(duty: YearlyDuty, year: int) -> date:
    """The last day ``duty`` of ``year`` is due."""
    month, day = DUE_ON[duty]
    return date(year, month, day)


# ---------------------------------------------------------------- work days


def readable_work_days(principal: Principal) -> Select[WorkDay]:
    """Work days of teams based in scope, or held in a village or grid in scope (its community steward)."""
    home = aliased(OrgUnit)
    place = aliased(OrgUnit)
    held_here = exists().where(
        WorkDayUnit.work_day_id == WorkDay.id,
        place.id == WorkDayUnit.org_unit_id,
        scope_clause(principal, READ, place.path),
    )
    return (
        select(WorkDay)
        .join(Team, Team.id == WorkDay.team_id)
        .join(home, home.id == Team.org_unit_id)
        .where(or_(scope_clause(principal, READ, home.path), held_here))
    )


async def _check_units(
    db: AsyncSession, team: Team, unit_ids: list[uuid.UUID], held_on: date
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Each unit is a village or grid the team served that day (itself, its village, or one of its grids):
    ``(unit, village)`` pairs, or a 422 naming the unit."""
    if len(set(unit_ids)) != len(unit_ids):
        raise field_error("body.unit_ids", "names a village or grid twice")
    start, end = day_start(held_on), day_start(held_on + timedelta(days=1))
    that_day = and_(
        Responsibility.starts_at < end, or_(Responsibility.ends_at.is_(None), Responsibility.ends_at > start)
    )
    found: list[tuple[uuid.UUID, uuid.UUID]] = []
    for i, unit_id in enumerate(unit_ids):
        unit = await db.get(OrgUnit, unit_id)
        if unit is None or unit.kind not in (OrgUnitKind.VILLAGE.value, OrgUnitKind.GRID.value):
            raise field_error(f"body.unit_ids.{i}", f"no village or grid {unit_id}")
        village_id = unit.id if unit.kind == OrgUnitKind.VILLAGE.value else unit.parent_id
        assert village_id is not None  # noqa: S101 - a grid always has its village
        child = aliased(OrgUnit)
        near = or_(
            Responsibility.org_unit_id.in_([unit.id, village_id]),
            exists().where(child.id == Responsibility.org_unit_id, child.parent_id == unit.id),
        )
        served = await db.scalar(select(exists().where(Responsibility.team_id == team.id, that_day, near)))
        if not served:
            raise field_error(
                f"body.unit_ids.{i}", f"team {team.id} was not responsible for {unit.name} on {held_on.isoformat()}"
            )
        found.append((unit.id, village_id))
    return found


async def _is_member(db: AsyncSession, principal: Principal, team_id: uuid.UUID) -> bool:
    stmt = (
        select(TeamMember.id)
        .join(Person, Person.id == TeamMember.person_id)
        .where(Person.user_id == principal.user_id, TeamMember.team_id == team_id, active_at(TeamMember, clock.now()))
        .limit(1)
    )
    return await db.scalar(stmt) is not None


async def record_work_day(
    db: AsyncSession, principal: Principal, team_id: uuid.UUID, data: WorkDayCreate
) -> Created[WorkDay]:
    """Record a work day of the caller's own team (a current member), in villages or grids it served that day."""
    team = await teams.get_team(db, principal, team_id)
    expected = {
        "team_id": team.id,
        "held_on": data.held_on,
        "activities": [a.value for a in data.activities],
        "residents_served": data.residents_served,
        "resident_ids": [str(r) for r in data.resident_ids],
    }

    def same(existing: WorkDay) -> bool:
        return all(getattr(existing, k) == v for k, v in expected.items()) and existing.notes == data.notes

    replay = await replayed(db, WorkDay, data.id, same=same)
    if replay is not None:
        if replay.record.team_id != team.id:
            raise NotFound(f"work day {data.id} not found")
        return replay
    if not await _is_member(db, principal, team.id):
        raise NotTeamMember(f"only current members of team {team.name} record its work days")
    today = china_date(clock.now())
    if data.held_on > today:
        raise field_error("body.held_on", "lies in the future")
    if data.held_on < EARLIEST:
        raise field_error("body.held_on", f"not before {EARLIEST.isoformat()}")
    units = await _check_units(db, team, data.unit_ids, data.held_on)
    if data.resident_ids:
        visible = set(
            await db.scalars(
                select(Resident.id)
                .join(OrgUnit, OrgUnit.id == Resident.grid_id)
                .where(
                    Resident.id.in_(data.resident_ids),
                    scope_clause(principal, Permission.RESIDENTS_READ, OrgUnit.path),
                )
            )
        )
        for i, resident_id in enumerate(data.resident_ids):
            if resident_id not in visible:
                raise field_error(f"body.resident_ids.{i}", f"no resident {resident_id} in your scope")
    result = await insert_once(
        db,
        WorkDay(
            id=data.id or uuid.uuid4(),
            district_id=team.district_id,
            notes=data.notes,
            recorded_by=principal.user_id,
            **expected,
        ),
        same=same,
    )
    if result.created:
        db.add_all(
            WorkDayUnit(work_day_id=result.record.id, org_unit_id=u, village_id=v, position=i)
            for i, (u, v) in enumerate(units)
        )
        path = await db.scalar(select(OrgUnit.path).where(OrgUnit.id == team.org_unit_id))
        await audit.record(
            db,
            actor_id=principal.user_id,
            action="duty.work_day_recorded",
            subject_type="team",
            subject_id=team.id,
            org_path=path,
            details={"work_day_id": str(result.record.id), "held_on": data.held_on.isoformat()},
        )
        await db.flush()
    return result


async def work_day_views(db: AsyncSession, rows: list[WorkDay]) -> list[WorkDayRead]:
    """The read models of ``rows``, their places loaded in one statement."""
    places: dict[uuid.UUID, list[UnitBrief]] = {}
    if rows:
        found = await db.execute(
            select(WorkDayUnit.work_day_id, OrgUnit.id, OrgUnit.code, OrgUnit.name)
            .join(OrgUnit, OrgUnit.id == WorkDayUnit.org_unit_id)
            .where(WorkDayUnit.work_day_id.in_([r.id for r in rows]))
            .order_by(WorkDayUnit.work_day_id, WorkDayUnit.position)
        )
        for work_day_id, unit_id, code, name in found:
            places.setdefault(work_day_id, []).append(UnitBrief(id=unit_id, code=code, name=name))
    return [
        WorkDayRead.model_validate(
            {
                **{k: getattr(r, k) for k in ("id", "team_id", "held_on", "activities", "residents_served", "notes")},
                **{k: getattr(r, k) for k in ("recorded_by", "version", "created_at")},
                "units": places.get(r.id, []),
                "resident_ids": r.resident_ids,
            }
        )
        for r in rows
    ]


async def get_work_day(db: AsyncSession, principal: Principal, work_day_id: uuid.UUID) -> WorkDay:
    """One work day in scope; 404 otherwise."""
    found = await db.scalar(readable_work_days(principal).where(WorkDay.id == work_day_id))
    if found is None:
        raise NotFound(f"work day {work_day_id} not found")
    return found


async def list_work_days(
    db: AsyncSession,
    principal: Principal,
    team_id: uuid.UUID,
    *,
    since: date | None,
    until: date | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[WorkDay], str | None]:
    """A team's work days in scope, latest first, optionally from ``since`` to ``until`` (inclusive)."""
    team = await teams.get_team(db, principal, team_id)
    stmt = readable_work_days(principal).where(WorkDay.team_id == team.id)
    if since is not None:
        stmt = stmt.where(WorkDay.held_on >= since)
    if until is not None:
        stmt = stmt.where(WorkDay.held_on <= until)
    return await paginate(db, stmt, keys=[(WorkDay.held_on, "desc"), (WorkDay.id, "desc")], cursor=cursor, limit=limit)


# ---------------------------------------------------------------- livestreams


def readable_livestreams(principal: Principal) -> Select[Livestream]:
    """Livestreams of institutions in scope or above it (the district's institutions broadcast to every town)."""
    return (
        select(Livestream)
        .join(Institution, Institution.id == Livestream.institution_id)
        .join(OrgUnit, OrgUnit.id == Institution.org_unit_id)
        .where(scope_or_ancestor_clause(principal, READ, OrgUnit.path))
    )


def livestream_view(row: Livestream) -> LivestreamRead:
    return LivestreamRead.model_validate(
        {
            **{k: getattr(row, k) for k in ("id", "institution_id", "started_at", "duration_minutes", "topic")},
            **{k: getattr(row, k) for k in ("questions_answered", "recorded_by", "version", "created_at")},
            "counts_for_week": row.duration_minutes >= LIVESTREAM_MINUTES,
        }
    )


async def record_livestream(
    db: AsyncSession, principal: Principal, institution_id: uuid.UUID, data: LivestreamCreate
) -> Created[Livestream]:
    """Record a livestream of an institution the caller may record for (a steward: its own institution)."""
    institution = await teams.get_institution(db, principal, institution_id, Permission.DUTIES_LIVESTREAMS)
    expected = {
        "institution_id": institution.id,
        "started_at": data.started_at,
        "duration_minutes": data.duration_minutes,
        "topic": data.topic,
        "questions_answered": data.questions_answered,
    }
    replay = await replayed(db, Livestream, data.id, same=expected)
    if replay is not None:
        return replay
    if data.started_at > clock.now():
        raise field_error("body.started_at", "lies in the future")
    if data.started_at < day_start(EARLIEST):
        raise field_error("body.started_at", f"not before {EARLIEST.isoformat()}")
    result = await insert_once(
        db,
        Livestream(
            id=data.id or uuid.uuid4(),
            district_id=institution.district_id,
            recorded_by=principal.user_id,
            **expected,
        ),
        same=expected,
    )
    if result.created:
        path = await db.scalar(select(OrgUnit.path).where(OrgUnit.id == institution.org_unit_id))
        await audit.record(
            db,
            actor_id=principal.user_id,
            action="duty.livestream_recorded",
            subject_type="institution",
            subject_id=institution.id,
            org_path=path,
            details={"livestream_id": str(result.record.id), "minutes": data.duration_minutes},
        )
    return result


async def get_livestream(db: AsyncSession, principal: Principal, livestream_id: uuid.UUID) -> Livestream:
    """One livestream in scope; 404 otherwise."""
    found = await db.scalar(readable_livestreams(principal).where(Livestream.id == livestream_id))
    if found is None:
        raise NotFound(f"livestream {livestream_id} not found")
    return found


async def list_livestreams(
    db: AsyncSession, principal: Principal, institution_id: uuid.UUID, *, cursor: str | None, limit: int
) -> tuple[list[Livestream], str | None]:
    """An institution's livestreams, latest first."""
    institution = await teams.get_institution(db, principal, institution_id)
    stmt = readable_livestreams(principal).where(Livestream.institution_id == institution.id)
    return await paginate(
        db, stmt, keys=[(Livestream.started_at, "desc"), (Livestream.id, "desc")], cursor=cursor, limit=limit
    )


# ---------------------------------------------------------------- yearly submissions


def readable_submissions(principal: Principal) -> Select[DutySubmission, OrgUnit]:
    """Submissions for towns in scope, with the town."""
    return (
        select(DutySubmission, OrgUnit)
        .join(OrgUnit, OrgUnit.id == DutySubmission.org_unit_id)
        .where(scope_clause(principal, READ, OrgUnit.path))
    )


def submission_view(row: DutySubmission, town: OrgUnit) -> SubmissionRead:
    due = due_on(YearlyDuty(row.duty), row.year)
    return SubmissionRead.model_validate(
        {
            **{k: getattr(row, k) for k in ("id", "duty", "year", "institution_id", "attachment_name", "content")},
            **{k: getattr(row, k) for k in ("submitted_by", "submitted_at", "version", "created_at")},
            "org_unit": UnitBrief(id=town.id, code=town.code, name=town.name),
            "due_on": due,
            "late": china_date(row.submitted_at) > due,
        }
    )


async def submit(
    db: AsyncSession, principal: Principal, data: SubmissionCreate
) -> Created[tuple[DutySubmission, OrgUnit]]:
    """Record that a town handed in its roster or annual summary (who: the caller; when: now)."""
    town = await db.scalar(
        select(OrgUnit).where(
            OrgUnit.id == data.org_unit_id, scope_clause(principal, Permission.DUTIES_SUBMIT, OrgUnit.path)
        )
    )
    if town is None:
        raise field_error("body.org_unit_id", f"no town {data.org_unit_id} in your scope")
    expected = {
        "duty": data.duty.value,
        "year": data.year,
        "org_unit_id": town.id,
        "institution_id": data.institution_id,
        "attachment_name": data.attachment_name,
        "content": data.content,
    }
    replay = await replayed(db, DutySubmission, data.id, same=expected)
    if replay is not None:
        return Created((replay.record, town), False)
    if town.kind != OrgUnitKind.TOWN.value:
        raise field_error("body.org_unit_id", f"{town.name} is not a town or subdistrict")
    if data.attachment_name is None and data.content is None:
        raise field_error("body.content", "give the text or an attachment_name")
    if data.year > china_date(clock.now()).year + 1:
        raise field_error("body.year", "not after next year")
    if data.institution_id is not None:
        institution = await db.scalar(
            select(Institution.id).where(
                Institution.id == data.institution_id,
                Institution.org_unit_id == town.id,
                institution_scope_clause(principal, Permission.DUTIES_SUBMIT, literal(town.path), Institution.id),
            )
        )
        if institution is None:
            raise field_error(
                "body.institution_id", f"no institution {data.institution_id} of {town.name} in your scope"
            )
    result = await insert_once(
        db,
        DutySubmission(
            id=data.id or uuid.uuid4(),
            district_id=town.district_id,
            submitted_by=principal.user_id,
            submitted_at=clock.now(),
            **expected,
        ),
        same=expected,
    )
    if result.created:
        await audit.record(
            db,
            actor_id=principal.user_id,
            action="duty.submitted",
            subject_type="org_unit",
            subject_id=town.id,
            org_path=town.path,
            details={"submission_id": str(result.record.id), "duty": data.duty.value, "year": data.year},
        )
    return Created((result.record, town), result.created)


async def get_submission(
    db: AsyncSession, principal: Principal, submission_id: uuid.UUID
) -> tuple[DutySubmission, OrgUnit]:
    """One submission in scope, with its town; 404 otherwise."""
    row = (await db.execute(readable_submissions(principal).where(DutySubmission.id == submission_id))).first()
    if row is None:
        raise NotFound(f"submission {submission_id} not found")
    return row[0], row[1]


async def list_submissions(
    db: AsyncSession,
    principal: Principal,
    *,
    duty: YearlyDuty | None,
    year: int | None,
    org_unit_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[tuple[DutySubmission, OrgUnit]], str | None]:
    """Submissions in scope, latest first; narrowed to a duty, a year, or the towns under a unit."""
    stmt = readable_submissions(principal)
    if duty is not None:
        stmt = stmt.where(DutySubmission.duty == duty.value)
    if year is not None:
        stmt = stmt.where(DutySubmission.year == year)
    if org_unit_id is not None:
        under = await db.scalar(select(OrgUnit.path).where(OrgUnit.id == org_unit_id))
        if under is None:
            raise field_error("query.org_unit_id", f"no org unit {org_unit_id}")
        stmt = stmt.where(OrgUnit.path.startswith(under))
    rows, next_cursor = await paginate_rows(
        db,
        stmt,
        keys=[(DutySubmission.submitted_at, "desc"), (DutySubmission.id, "desc")],
        cursor=cursor,
        limit=limit,
    )
    return [(r[0], r[1]) for r in rows], next_cursor
