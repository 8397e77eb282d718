"""The duties' figures per team and institution for a period, in SQL: what the supervision bulletins and
the team assessment read (``work_days``, ``livestreams``, ``contact_duty``) and the checks reuse.

Periods are ``[start, end)`` China dates. Each function answers every team (institution) asked for, or
every one with data when ``team_ids`` (``institution_ids``) is None, in a statement or two.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, Date, cast, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.assignments.schemas import UnitBrief
from services.core.duties.calendar import add_months, china_date, day_start, quarter_start
from services.core.duties.models import Livestream, WorkDay, WorkDayUnit
from services.core.duties.schemas import (
    LIVESTREAM_MINUTES,
    ContactDutyRead,
    DutyMetrics,
    InstitutionDutyFigures,
    LivestreamFiguresRead,
    TeamDutyFigures,
    WorkDayFiguresRead,
)
from services.core.errors import NotFound
from services.core.org.models import Institution, OrgUnit
from services.core.residents.models import Resident
from services.core.security.principal import Principal, scope_clause
from services.core.security.roles import Permission
from services.core.signing.models import DUTY_OUTCOMES, Contact, Signing
from services.core.teams.models import Team

Period = tuple[date, date]


@dataclass(frozen=True)
class WorkDayFigures:
    """A team's family doctor work days in a period."""

    days_held: int = 0  # distinct days
    months_held: int = 0  # calendar months with at least one
    villages_covered: int = 0  # distinct villages (a grid counts its village)
    units_covered: int = 0  # distinct villages and grids named
    residents_served: int = 0


@dataclass(frozen=True)
class LivestreamFigures:
    """An institution's health livestreams in a period."""

    held: int = 0
    qualifying: int = 0  # at least LIVESTREAM_MINUTES long
    minutes: int = 0
    questions_answered: int = 0
    weeks_met: int = 0  # weeks (Monday first, China time) with a qualifying one


@dataclass(frozen=True)
class ContactDuty:
    """The quarterly-contact duty of a team: residents signed with it on a day, and those a contact reached
    in the quarter (any team's contact that reached them, as ``signing.queries.uncontacted`` counts)."""

    signed: int = 0
    reached: int = 0

    @property
    def unreached(self) -> int:
        return self.signed - self.reached

    @property
    def met(self) -> bool:
        """Every signed resident was reached this quarter."""
        return self.reached >= self.signed

    @property
    def rate(self) -> float | None:
        return round(self.reached / self.signed, 4) if self.signed else None


async def work_days(
    db: AsyncSession, *, period: Period, team_ids: Collection[uuid.UUID] | None = None
) -> dict[uuid.UUID, WorkDayFigures]:
    """Per team: days and months with a work day, villages and units covered, residents served."""
    start, end = period
    where: list[ColumnElement[bool]] = [WorkDay.held_on >= start, WorkDay.held_on < end]
    if team_ids is not None:
        where.append(WorkDay.team_id.in_(list(team_ids)))
    days = await db.execute(
        select(
            WorkDay.team_id,
            func.count(func.distinct(WorkDay.held_on)),
            func.count(func.distinct(func.date_trunc("month", WorkDay.held_on))),
            func.coalesce(func.sum(WorkDay.residents_served), 0),
        )
        .where(*where)
        .group_by(WorkDay.team_id)
    )
    places = {
        team_id: (villages, units)
        for team_id, villages, units in await db.execute(
            select(
                WorkDay.team_id,
                func.count(func.distinct(WorkDayUnit.village_id)),
                func.count(func.distinct(WorkDayUnit.org_unit_id)),
            )
            .join(WorkDayUnit, WorkDayUnit.work_day_id == WorkDay.id)
            .where(*where)
            .group_by(WorkDay.team_id)
        )
    }
    found = {
        team_id: WorkDayFigures(
            days_held=n_days,
            months_held=n_months,
            villages_covered=places.get(team_id, (0, 0))[0],
            units_covered=places.get(team_id, (0, 0))[1],
            residents_served=int(served),
        )
        for team_id, n_days, n_months, served in days
    }
    return {t: found.get(t, WorkDayFigures()) for t in team_ids} if team_ids is not None else found


async def livestreams(
    db: AsyncSession, *, period: Period, institution_ids: Collection[uuid.UUID] | None = None
) -> dict[uuid.UUID, LivestreamFigures]:
    """Per institution: livestreams held, those long enough, minutes, questions, and weeks that met the duty."""
    start, end = day_start(period[0]), day_start(period[1])
    long_enough = Livestream.duration_minutes >= LIVESTREAM_MINUTES
    local_week = func.date_trunc("week", func.timezone("Asia/Shanghai", Livestream.started_at))
    stmt = (
        select(
            Livestream.institution_id,
            func.count(),
            func.count().filter(long_enough),
            func.coalesce(func.sum(Livestream.duration_minutes), 0),
            func.coalesce(func.sum(Livestream.questions_answered), 0),
            func.count(func.distinct(cast(local_week, Date))).filter(long_enough),
        )
        .where(Livestream.started_at >= start, Livestream.started_at < end)
        .group_by(Livestream.institution_id)
    )
    if institution_ids is not None:
        stmt = stmt.where(Livestream.institution_id.in_(list(institution_ids)))
    found = {
        i: LivestreamFigures(held=h, qualifying=q, minutes=int(m), questions_answered=int(a), weeks_met=w)
        for i, h, q, m, a, w in await db.execute(stmt)
    }
    return {i: found.get(i, LivestreamFigures()) for i in institution_ids} if institution_ids is not None else found


async def contact_duty(
    db: AsyncSession,
    *,
    quarter: Period,
    on: date,
    team_ids: Collection[uuid.UUID] | None = None,
    scope: ColumnElement[bool] | None = None,
) -> dict[uuid.UUID, ContactDuty]:
    """Per team: residents signed with it on ``on``, and how many a contact reached within ``quarter``.

    The one definition of "quarterly-contact duty met" (the reminder, the bulletins and the assessment
    read it); ``scope`` (a clause on the resident's grid ``OrgUnit``) narrows to a caller's residents.
    """
    start, end = day_start(quarter[0]), day_start(quarter[1])
    reached = exists().where(
        Contact.resident_id == Signing.resident_id,
        Contact.outcome.in_(DUTY_OUTCOMES),
        Contact.contacted_at >= start,
        Contact.contacted_at < end,
    )
    stmt = (
        select(Signing.team_id, func.count(), func.count().filter(reached))
        .where(Signing.starts_on <= on, Signing.ends_on > on)
        .group_by(Signing.team_id)
    )
    if scope is not None:
        stmt = stmt.join(Resident, Resident.id == Signing.resident_id).join(OrgUnit, OrgUnit.id == Resident.grid_id)
        stmt = stmt.where(scope)
    if team_ids is not None:
        stmt = stmt.where(Signing.team_id.in_(list(team_ids)))
    found = {t: ContactDuty(signed=s, reached=r) for t, s, r in await db.execute(stmt)}
    return {t: found.get(t, ContactDuty()) for t in team_ids} if team_ids is not None else found


async def figures(db: AsyncSession, principal: Principal, *, org_unit_id: uuid.UUID, period: Period) -> DutyMetrics:
    """Every duty figure of the teams based in a unit and the institutions sitting in it, for a period
    (``[start, end)`` China dates); the contact duty per quarter the period touches, up to today."""
    unit = await db.scalar(
        select(OrgUnit).where(OrgUnit.id == org_unit_id, scope_clause(principal, Permission.DUTIES_READ, OrgUnit.path))
    )
    if unit is None:
        raise NotFound(f"org unit {org_unit_id} not found")
    under = OrgUnit.path.startswith(unit.path)
    team_rows = (
        await db.execute(
            select(Team.id, Team.name).join(OrgUnit, OrgUnit.id == Team.org_unit_id).where(under).order_by(Team.name)
        )
    ).all()
    institution_rows = (
        await db.execute(
            select(Institution.id, Institution.name)
            .join(OrgUnit, OrgUnit.id == Institution.org_unit_id)
            .where(under)
            .order_by(Institution.name)
        )
    ).all()
    team_ids = [t for t, _ in team_rows]
    days = await work_days(db, period=period, team_ids=team_ids)
    today = china_date(clock.now())
    quarters: list[tuple[Period, date, dict[uuid.UUID, ContactDuty]]] = []
    start = quarter_start(period[0])
    while start < period[1] and start <= today:
        end = add_months(start, 3)
        on = min(end - timedelta(days=1), today)
        quarters.append(((start, end), on, await contact_duty(db, quarter=(start, end), on=on, team_ids=team_ids)))
        start = end
    streams = await livestreams(db, period=period, institution_ids=[i for i, _ in institution_rows])
    return DutyMetrics(
        org_unit=UnitBrief(id=unit.id, code=unit.code, name=unit.name),
        starts_on=period[0],
        ends_on=period[1],
        teams=[
            TeamDutyFigures(
                team_id=team_id,
                name=name,
                work_days=WorkDayFiguresRead(**asdict(days[team_id])),
                contact_duty=[
                    ContactDutyRead(
                        quarter_starts_on=q[0],
                        quarter_ends_on=q[1],
                        on=on,
                        signed=found[team_id].signed,
                        reached=found[team_id].reached,
                        rate=found[team_id].rate,
                        met=found[team_id].met,
                    )
                    for q, on, found in quarters
                ],
            )
            for team_id, name in team_rows
        ],
        institutions=[
            InstitutionDutyFigures(institution_id=i, name=name, livestreams=LivestreamFiguresRead(**asdict(streams[i])))
            for i, name in institution_rows
        ],
    )
