"""Set-based questions about signings: coverage per team and per village, a team's residents,
and the quarterly-contact duty (each signed resident contacted at least once a calendar quarter,
China time; seed 003 §二(二)1(3)①).

Every query counts or lists only residents whose grid lies in the caller's scope (``scope``);
core callers without a principal (a worker) pass ``true()``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.core.assignments.models import Responsibility
from services.core.assignments.schemas import UnitBrief
from services.core.org.models import OrgUnit, OrgUnitKind
from services.core.pagination import paginate_rows
from services.core.periods import active_at
from services.core.residents.models import KeyPopulation, Resident, ResidentTag
from services.core.signing.models import DUTY_OUTCOMES, Contact, Signing
from services.core.signing.schemas import (
    DueContact,
    PopulationCoverage,
    TeamCoverage,
    TeamResidentRelation,
    VillageCoverage,
)


def _rate(signed: int, residents: int) -> float | None:
    return round(signed / residents, 4) if residents else None


def signed_on(on: date, *, team_id: uuid.UUID | None = None) -> ColumnElement[bool]:
    """The resident (``Resident``) has a signing covering day ``on`` (with ``team_id`` when given)."""
    terms = [Signing.resident_id == Resident.id, Signing.starts_on <= on, Signing.ends_on > on]
    if team_id is not None:
        terms.append(Signing.team_id == team_id)
    return exists().where(*terms)


def in_team_area(team_id: uuid.UUID, at: datetime, grid: Any = OrgUnit) -> ColumnElement[bool]:
    """The grid is the team's at ``at``: its own assignment names the team, or it has none and its village's does."""
    own = exists().where(Responsibility.org_unit_id == grid.id, active_at(Responsibility, at))
    own_is_team = exists().where(
        Responsibility.org_unit_id == grid.id, Responsibility.team_id == team_id, active_at(Responsibility, at)
    )
    village_is_team = exists().where(
        Responsibility.org_unit_id == grid.parent_id, Responsibility.team_id == team_id, active_at(Responsibility, at)
    )
    return or_(own_is_team, and_(~own, village_is_team))


def _tag_on(on: date) -> ColumnElement[bool]:
    return and_(
        ResidentTag.resident_id == Resident.id,
        ResidentTag.since_on <= on,
        or_(ResidentTag.until_on.is_(None), ResidentTag.until_on >= on),
    )


def _signed_ids(on: date, *, team_id: uuid.UUID | None = None) -> Any:
    """Residents with a signing covering ``on`` (with ``team_id`` when given), as a derived table."""
    stmt = select(Signing.resident_id).where(Signing.starts_on <= on, Signing.ends_on > on)
    if team_id is not None:
        stmt = stmt.where(Signing.team_id == team_id)
    return stmt.distinct().subquery("signed")


async def team_coverage(
    db: AsyncSession, *, team_id: uuid.UUID, on: date, at: datetime, scope: ColumnElement[bool]
) -> TeamCoverage:
    """Residents in the team's area at ``at`` and those signed with it on ``on``: four set-based statements.

    The area is decided per grid, then residents are counted by grid id, signings from the team's
    index: no per-resident subplans.
    """
    # The team's grids first (a handful to hundreds): the planner then estimates residents per grid
    # from the column statistics instead of guessing through a subquery.
    grid_ids = list(
        (
            await db.scalars(
                select(OrgUnit.id).where(OrgUnit.kind == OrgUnitKind.GRID.value, scope, in_team_area(team_id, at))
            )
        ).all()
    )
    in_area = Resident.grid_id.in_(grid_ids)
    residents = int(await db.scalar(select(func.count()).select_from(Resident).where(in_area)) or 0)
    # Driven from the team's signings (index on team_id): one row per signed resident on ``on``.
    signed_total, signed_in_area = (
        await db.execute(
            select(func.count(), func.count().filter(in_area))
            .select_from(Signing)
            .join(Resident, Resident.id == Signing.resident_id)
            .join(OrgUnit, OrgUnit.id == Resident.grid_id)
            .where(Signing.team_id == team_id, Signing.starts_on <= on, Signing.ends_on > on, scope)
        )
    ).one()
    signed = _signed_ids(on, team_id=team_id)
    by_population = await db.execute(
        select(
            ResidentTag.population,
            func.count(func.distinct(Resident.id)),
            func.count(func.distinct(signed.c.resident_id)),
        )
        .select_from(Resident)
        .join(ResidentTag, _tag_on(on))
        .outerjoin(signed, signed.c.resident_id == Resident.id)
        .where(in_area)
        .group_by(ResidentTag.population)
        .order_by(ResidentTag.population)
    )
    return TeamCoverage(
        team_id=team_id,
        on=on,
        residents=residents,
        signed=signed_in_area,
        rate=_rate(signed_in_area, residents),
        signed_total=signed_total,
        by_population=[
            PopulationCoverage(population=KeyPopulation(p), residents=n, signed=s, rate=_rate(s, n))
            for p, n, s in by_population
        ],
    )


async def village_coverage(
    db: AsyncSession, *, unit: OrgUnit, on: date, scope: ColumnElement[bool]
) -> list[VillageCoverage]:
    """Per village under ``unit`` (itself when a village): residents and those signed with any team on ``on``."""
    village = aliased(OrgUnit)
    grid = OrgUnit  # ``scope`` filters on the grid's path
    signed = _signed_ids(on)
    under = and_(village.kind == OrgUnitKind.VILLAGE.value, village.path.startswith(unit.path), scope)
    totals = await db.execute(
        select(village.id, village.code, village.name)
        .add_columns(func.count(Resident.id), func.count(signed.c.resident_id))
        .join(grid, grid.parent_id == village.id)
        .outerjoin(Resident, Resident.grid_id == grid.id)
        .outerjoin(signed, signed.c.resident_id == Resident.id)
        .where(under)
        .group_by(village.id, village.code, village.name, village.path)
        .order_by(village.path)
        .limit(5000)
    )
    by_population: dict[uuid.UUID, list[PopulationCoverage]] = {}
    rows = await db.execute(
        select(
            village.id,
            ResidentTag.population,
            func.count(func.distinct(Resident.id)),
            func.count(func.distinct(signed.c.resident_id)),
        )
        .join(grid, grid.parent_id == village.id)
        .join(Resident, Resident.grid_id == grid.id)
        .join(ResidentTag, _tag_on(on))
        .outerjoin(signed, signed.c.resident_id == Resident.id)
        .where(under)
        .group_by(village.id, ResidentTag.population)
        .order_by(village.id, ResidentTag.population)
    )
    for village_id, population, n, s in rows:
        by_population.setdefault(village_id, []).append(
            PopulationCoverage(population=KeyPopulation(population), residents=n, signed=s, rate=_rate(s, n))
        )
    return [
        VillageCoverage(
            village=UnitBrief(id=i, code=c, name=name),
            residents=n,
            signed=s,
            rate=_rate(s, n),
            by_population=by_population.get(i, []),
        )
        for i, c, name, n, s in totals
    ]


def team_residents(
    *,
    base: Select[Resident, str],
    team_id: uuid.UUID,
    relation: TeamResidentRelation,
    population: KeyPopulation | None,
    on: date,
    at: datetime,
) -> Select[Resident, str]:
    """``base`` (residents joined to their grid, in scope) narrowed to the team's: signed with it, or in its area."""
    stmt = base.where(
        signed_on(on, team_id=team_id) if relation is TeamResidentRelation.SIGNED else in_team_area(team_id, at)
    )
    if population is not None:
        stmt = stmt.where(exists().where(_tag_on(on), ResidentTag.population == population.value))
    return stmt


async def uncontacted(
    db: AsyncSession,
    *,
    team_id: uuid.UUID,
    on: date,
    quarter: tuple[datetime, datetime],
    scope: ColumnElement[bool],
    cursor: str | None = None,
    limit: int = 500,
) -> tuple[list[DueContact], str | None]:
    """Residents signed with the team on ``on`` with no contact that reached them in ``quarter``, by resident id.

    One statement: signings covering the day, anti-joined with the quarter's contacts (index on
    ``(resident_id, contacted_at)``), with the last reaching contact ever for each.
    """
    start, end = quarter
    contacted = exists().where(
        Contact.resident_id == Resident.id,
        Contact.outcome.in_(DUTY_OUTCOMES),
        Contact.contacted_at >= start,
        Contact.contacted_at < end,
    )
    last = (
        select(func.max(Contact.contacted_at))
        .where(Contact.resident_id == Resident.id, Contact.outcome.in_(DUTY_OUTCOMES))
        .correlate(Resident)
        .scalar_subquery()
    )
    stmt = (
        select(Resident.id, Resident.name, Resident.grid_id, Signing.id, last)
        .join(Signing, Signing.resident_id == Resident.id)
        .join(OrgUnit, OrgUnit.id == Resident.grid_id)
        .where(Signing.team_id == team_id, Signing.starts_on <= on, Signing.ends_on > on, ~contacted, scope)
    )
    # Ordered on the signing's side: ix_signing_team_id_resident_id walks the team's signings in this order.
    rows, next_cursor = await paginate_rows(
        db, stmt, keys=[Signing.resident_id], cursor=cursor, limit=limit, values_of=lambda row: [row[0]]
    )
    items = [
        DueContact(resident_id=r, name=n, grid_id=g, signing_id=s, last_contacted_at=lc) for r, n, g, s, lc in rows
    ]
    return items, next_cursor
