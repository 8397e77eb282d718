"""Produce, read, issue, acknowledge and correct supervision snapshots: each exactly once.

A snapshot is inserted with ``ON CONFLICT (kind, org_unit_id, period, edition) DO NOTHING``: two
workers producing the same period at once, a cron that fires twice, or a rerun after Redis lost
its queue all end with the one row the first writer made, and the others read it back unchanged.
Figures are computed only for half years that have ended (``as_of`` = their end), so a rerun
computes the same content; the running half year is a draft on demand, answered and not stored.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock, lifecycle
from services.core.config import Settings, get_settings
from services.core.errors import Conflict, NotFound, field_error
from services.core.org.models import OrgUnit, OrgUnitKind
from services.core.pagination import paginate_rows
from services.core.security.principal import Principal, scope_clause
from services.core.security.roles import Permission
from services.core.supervision import assessment, figures, messages
from services.core.supervision.errors import NoChange
from services.core.supervision.halves import HalfYear, content_hash, last_closed
from services.core.supervision.lifecycle import DISTRICT_SNAPSHOT, TOWN_BULLETIN
from services.core.supervision.models import Bulletin, SnapshotKind, SnapshotStatus
from services.core.supervision.sections import Figures, Unit, Window

DONE = (SnapshotStatus.ISSUED.value, SnapshotStatus.ACKNOWLEDGED.value)


def unit_of(row: OrgUnit) -> Unit:
    return Unit(id=row.id, district_id=row.district_id, path=row.path, code=row.code, name=row.name)


def content(kind: str, unit_id: uuid.UUID, period: str, figures_: Figures, counts: dict[str, int]) -> dict[str, Any]:
    """What the hash covers: the snapshot's meaning, not its edition, state or row metadata."""
    return {
        "kind": kind,
        "org_unit_id": str(unit_id),
        "period": period,
        "definitions_version": figures.DEFINITIONS_VERSION,
        "figures": figures_,
        "source_counts": counts,
    }


async def latest(db: AsyncSession, kind: SnapshotKind, unit_id: uuid.UUID, period: str) -> Bulletin | None:
    """The newest edition of a snapshot (superseded ones stay readable by id)."""
    stmt = (
        select(Bulletin)
        .where(Bulletin.kind == kind.value, Bulletin.org_unit_id == unit_id, Bulletin.period == period)
        .order_by(Bulletin.edition.desc())
        .limit(1)
    )
    found: Bulletin | None = await db.scalar(stmt)
    return found


async def _insert(
    db: AsyncSession,
    *,
    kind: SnapshotKind,
    unit: Unit,
    half: HalfYear,
    edition: int,
    figures_: Figures,
    counts: dict[str, int],
    supersedes: Bulletin | None = None,
    reason: str | None = None,
) -> tuple[Bulletin, bool]:
    """Insert one edition once; the row (ours or the one a concurrent writer made) and whether we made it."""
    now = clock.now()
    digest = content_hash(content(kind.value, unit.id, half.name, figures_, counts))
    stmt = (
        insert(Bulletin)
        .values(
            id=uuid.uuid4(),
            kind=kind.value,
            org_unit_id=unit.id,
            district_id=unit.district_id,
            period=half.name,
            period_starts_at=half.starts_at,
            period_ends_at=half.ends_at,
            edition=edition,
            status=SnapshotStatus.DRAFT.value,
            definitions_version=figures.DEFINITIONS_VERSION,
            figures=figures_,
            source_counts=counts,
            content_hash=digest,
            produced_at=now,
            supersedes_id=supersedes.id if supersedes else None,
            correction_reason=reason,
            version=1,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["kind", "org_unit_id", "period", "edition"])
        .returning(Bulletin.id)
    )
    made = await db.scalar(stmt)
    row = await db.scalar(
        select(Bulletin)
        .where(
            Bulletin.kind == kind.value,
            Bulletin.org_unit_id == unit.id,
            Bulletin.period == half.name,
            Bulletin.edition == edition,
        )
        .execution_options(populate_existing=True)
    )
    assert row is not None  # noqa: S101 - just inserted, or a concurrent writer's
    return row, made is not None


def _reference(b: Bulletin) -> dict[str, Any]:
    return {
        "id": str(b.id),
        "edition": b.edition,
        "content_hash": b.content_hash,
        "period": b.period,
        "headline": b.figures.get("headline"),
    }


async def _town_figures(db: AsyncSession, town: Unit, window: Window) -> tuple[Figures, dict[str, int]]:
    previous = await latest(db, SnapshotKind.TOWN, town.id, window.half.previous.name)
    return await figures.town_bulletin(db, town, window, _reference(previous) if previous else None)


def _closed(half: HalfYear) -> Window:
    if not half.closed():
        raise field_error("query.period", "this half year has not ended yet: ask for its draft instead")
    return Window(half, half.ends_at)


async def produce_town(db: AsyncSession, town: OrgUnit, half: HalfYear) -> tuple[Bulletin, bool]:
    """The town's bulletin for an ended half year: the stored one if any edition exists, else edition 1."""
    existing = await latest(db, SnapshotKind.TOWN, town.id, half.name)
    if existing is not None:
        return existing, False
    unit = unit_of(town)
    figures_, counts = await _town_figures(db, unit, _closed(half))
    return await _insert(db, kind=SnapshotKind.TOWN, unit=unit, half=half, edition=1, figures_=figures_, counts=counts)


async def draft(db: AsyncSession, town: OrgUnit, half: HalfYear) -> Figures:
    """The running (or any) half year's figures as of now, not stored: the draft a supervisor looks at."""
    if clock.now() < half.starts_at:
        raise field_error("query.period", "this half year has not begun")
    unit = unit_of(town)
    figures_, counts = await _town_figures(db, unit, Window(half, half.as_of()))
    return {"figures": figures_, "source_counts": counts, "definitions_version": figures.DEFINITIONS_VERSION}


async def produce_assessment(
    db: AsyncSession, district: OrgUnit, half: HalfYear, settings: Settings | None = None
) -> tuple[Bulletin, bool]:
    """The district's team assessment for an ended half year, once."""
    existing = await latest(db, SnapshotKind.ASSESSMENT, district.id, half.name)
    if existing is not None:
        return existing, False
    unit = unit_of(district)
    figures_, counts = await assessment.assess(db, unit, _closed(half), settings or get_settings())
    return await _insert(
        db, kind=SnapshotKind.ASSESSMENT, unit=unit, half=half, edition=1, figures_=figures_, counts=counts
    )


@dataclass(frozen=True)
class Readiness:
    """Where the roll-up of a district's half year stands."""

    towns: list[OrgUnit]
    bulletins: dict[uuid.UUID, Bulletin]  # each town's newest edition

    @property
    def missing(self) -> list[OrgUnit]:
        return [t for t in self.towns if (b := self.bulletins.get(t.id)) is None or b.status not in DONE]

    @property
    def ready(self) -> bool:
        return bool(self.towns) and not self.missing

    def stale(self, rollup: Bulletin | None) -> bool:
        """Whether ``rollup`` references other editions than each town's newest."""
        if rollup is None:
            return False
        referenced = {t["bulletin"]["id"] for t in rollup.figures.get("towns", [])}
        return referenced != {str(b.id) for b in self.bulletins.values()}


async def readiness(db: AsyncSession, district: OrgUnit, half: HalfYear) -> Readiness:
    """The district's towns and each one's newest bulletin edition for the half year."""
    towns = list(
        await db.scalars(
            select(OrgUnit)
            .where(OrgUnit.parent_id == district.id, OrgUnit.kind == OrgUnitKind.TOWN.value)
            .order_by(OrgUnit.code)
        )
    )
    # Each town's newest edition: the highest edition per town, in one statement.
    top = (
        select(Bulletin.org_unit_id, func.max(Bulletin.edition).label("edition"))
        .where(
            Bulletin.kind == SnapshotKind.TOWN.value,
            Bulletin.district_id == district.district_id,
            Bulletin.period == half.name,
        )
        .group_by(Bulletin.org_unit_id)
        .subquery()
    )
    newest = select(Bulletin).join(
        top,
        and_(
            Bulletin.org_unit_id == top.c.org_unit_id,
            Bulletin.edition == top.c.edition,
            Bulletin.kind == SnapshotKind.TOWN.value,
            Bulletin.period == half.name,
        ),
    )
    return Readiness(towns, {b.org_unit_id: b for b in await db.scalars(newest)})


def _rollup_figures(district: OrgUnit, half: HalfYear, ready: Readiness) -> tuple[Figures, dict[str, int]]:
    towns = [
        {"id": str(b.id), "edition": b.edition, "content_hash": b.content_hash, "figures": b.figures}
        for t in ready.towns
        if (b := ready.bulletins[t.id])
    ]
    return figures.rollup(unit_of(district), Window(half, half.ends_at), towns)


async def maybe_rollup(db: AsyncSession, district: OrgUnit, half: HalfYear) -> tuple[Bulletin | None, Readiness]:
    """The district roll-up once every town's bulletin is issued (then the commission is told, once)."""
    ready = await readiness(db, district, half)
    existing = await latest(db, SnapshotKind.DISTRICT, district.id, half.name)
    if existing is not None or not ready.ready:
        return existing, ready
    figures_, counts = _rollup_figures(district, half, ready)
    row, made = await _insert(
        db, kind=SnapshotKind.DISTRICT, unit=unit_of(district), half=half, edition=1, figures_=figures_, counts=counts
    )
    if made:
        await messages.rollup_ready(db, row, district)
    return row, ready


# ---------------------------------------------------------------- reads in scope


def readable(principal: Principal) -> Select[Bulletin, str]:
    """Snapshots of units in the caller's supervision scope, with the unit's path."""
    return (
        select(Bulletin, OrgUnit.path)
        .join(OrgUnit, OrgUnit.id == Bulletin.org_unit_id)
        .where(scope_clause(principal, Permission.SUPERVISION_READ, OrgUnit.path))
    )


async def get_in_scope(db: AsyncSession, principal: Principal, bulletin_id: uuid.UUID) -> tuple[Bulletin, str]:
    """The snapshot and its unit's path; 404 outside the caller's scope."""
    row = (await db.execute(readable(principal).where(Bulletin.id == bulletin_id))).first()
    if row is None:
        raise NotFound(f"bulletin {bulletin_id} not found")
    return row[0], row[1]


async def list_bulletins(
    db: AsyncSession,
    principal: Principal,
    *,
    org_unit_id: uuid.UUID | None,
    period: str | None,
    kind: SnapshotKind | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Bulletin], str | None]:
    """Snapshots in scope, newest period first, then unit and edition."""
    stmt = readable(principal)
    if org_unit_id is not None:
        stmt = stmt.where(Bulletin.org_unit_id == org_unit_id)
    if period is not None:
        stmt = stmt.where(Bulletin.period == period)
    if kind is not None:
        stmt = stmt.where(Bulletin.kind == kind.value)
    rows, next_cursor = await paginate_rows(
        db,
        stmt,
        keys=[(Bulletin.period, "desc"), (Bulletin.org_unit_id, "asc"), (Bulletin.edition, "desc")],
        cursor=cursor,
        limit=limit,
        values_of=lambda r: [r[0].period, r[0].org_unit_id, r[0].edition],
    )
    return [r[0] for r in rows], next_cursor


async def unit_in_scope(
    db: AsyncSession, principal: Principal, unit_id: uuid.UUID, kind: OrgUnitKind, *, field: str
) -> OrgUnit:
    """An org unit of ``kind`` the caller may supervise; 404 otherwise (422 naming ``field`` for the wrong kind)."""
    unit = await db.scalar(
        select(OrgUnit).where(OrgUnit.id == unit_id, scope_clause(principal, Permission.SUPERVISION_READ, OrgUnit.path))
    )
    if unit is None:
        raise NotFound(f"org unit {unit_id} not found")
    if unit.kind != kind.value:
        raise field_error(field, f"must be a {kind.value}")
    return unit


# ---------------------------------------------------------------- changes of state


def _declaration(bulletin: Bulletin) -> Any:
    return TOWN_BULLETIN if bulletin.kind == SnapshotKind.TOWN.value else DISTRICT_SNAPSHOT


async def issue(
    db: AsyncSession, principal: Principal, bulletin: Bulletin, path: str, *, expected_version: int | None
) -> Bulletin:
    """Issue (印发) a draft: its figures were frozen when it was made; now it is circulated and the readers told."""
    checked = lifecycle.check(
        _declaration(bulletin), bulletin, "issue", actor=principal, path=path, expected_version=expected_version
    )
    now = clock.now()
    changes = {"issued_at": now, "issued_by": principal.user_id}
    await lifecycle.move(db, checked, actor_id=principal.user_id, at=now, changes=changes)
    unit = await db.get(OrgUnit, bulletin.org_unit_id)
    assert unit is not None  # noqa: S101 - a foreign key
    if bulletin.kind == SnapshotKind.TOWN.value:
        await messages.bulletin_issued(db, bulletin, unit)
        district = await db.get(OrgUnit, unit.parent_id)
        if district is not None:
            await maybe_rollup(db, district, HalfYear(int(bulletin.period[:4]), int(bulletin.period[5])))
    return bulletin


async def acknowledge(
    db: AsyncSession, principal: Principal, bulletin: Bulletin, path: str, *, expected_version: int | None
) -> Bulletin:
    """The district acknowledges (签收) an issued town bulletin."""
    checked = lifecycle.check(
        _declaration(bulletin), bulletin, "acknowledge", actor=principal, path=path, expected_version=expected_version
    )
    now = clock.now()
    changes = {"acknowledged_at": now, "acknowledged_by": principal.user_id}
    await lifecycle.move(db, checked, actor_id=principal.user_id, at=now, changes=changes)
    return bulletin


async def correct(
    db: AsyncSession,
    principal: Principal,
    bulletin: Bulletin,
    path: str,
    *,
    reason: str,
    expected_version: int | None,
    settings: Settings | None = None,
) -> Bulletin:
    """A correction: the figures computed again from today's data for the same period, stored as the next
    edition that supersedes this one (which stays readable). 409 when nothing changed, or when another
    correction of this edition got there first."""
    checked = lifecycle.check(
        _declaration(bulletin), bulletin, "supersede", actor=principal, path=path, expected_version=expected_version
    )
    unit_row = await db.get(OrgUnit, bulletin.org_unit_id)
    assert unit_row is not None  # noqa: S101 - a foreign key
    half = HalfYear(int(bulletin.period[:4]), int(bulletin.period[5]))
    unit, window = unit_of(unit_row), Window(half, half.ends_at)
    kind = SnapshotKind(bulletin.kind)
    if kind is SnapshotKind.TOWN:
        figures_, counts = await _town_figures(db, unit, window)
    elif kind is SnapshotKind.ASSESSMENT:
        figures_, counts = await assessment.assess(db, unit, window, settings or get_settings())
    else:
        ready = await readiness(db, unit_row, half)
        if not ready.ready:
            raise Conflict("the roll-up waits for every town's bulletin to be issued")
        figures_, counts = _rollup_figures(unit_row, half, ready)
    if content_hash(content(kind.value, unit.id, half.name, figures_, counts)) == bulletin.content_hash:
        raise NoChange("the figures have not changed since this edition: nothing to correct")
    row, made = await _insert(
        db,
        kind=kind,
        unit=unit,
        half=half,
        edition=bulletin.edition + 1,
        figures_=figures_,
        counts=counts,
        supersedes=bulletin,
        reason=reason,
    )
    if not made:
        raise Conflict("this edition has already been corrected", existing_id=str(row.id))
    await lifecycle.move(
        db, checked, actor_id=principal.user_id, at=clock.now(), reason=reason, details={"superseded_by": str(row.id)}
    )
    return row


async def editions(db: AsyncSession, bulletin: Bulletin) -> list[Bulletin]:
    """Every edition of the same snapshot, oldest first."""
    stmt = (
        select(Bulletin)
        .where(
            and_(
                Bulletin.kind == bulletin.kind,
                Bulletin.org_unit_id == bulletin.org_unit_id,
                Bulletin.period == bulletin.period,
            )
        )
        .order_by(Bulletin.edition)
    )
    return list(await db.scalars(stmt))


# ---------------------------------------------------------------- the worker's sweep


async def due_work(db: AsyncSession) -> list[tuple[str, uuid.UUID]]:
    """What the last ended half year still lacks: ``("town", id)`` per town without a bulletin,
    ``("assessment", id)`` and ``("rollup", id)`` per district without them. One cheap query each."""
    half = last_closed()
    work: list[tuple[str, uuid.UUID]] = []
    has = select(Bulletin.org_unit_id).where(Bulletin.period == half.name)
    towns = await db.scalars(
        select(OrgUnit.id)
        .where(OrgUnit.kind == OrgUnitKind.TOWN.value, OrgUnit.id.not_in(has.where(Bulletin.kind == "town")))
        .order_by(OrgUnit.code)
    )
    work += [("town", t) for t in towns]
    districts = list(await db.scalars(select(OrgUnit.id).where(OrgUnit.kind == OrgUnitKind.DISTRICT.value)))
    done = {
        (k, u)
        for k, u in (
            await db.execute(
                select(Bulletin.kind, Bulletin.org_unit_id).where(
                    Bulletin.period == half.name, Bulletin.kind.in_(["assessment", "district"])
                )
            )
        ).all()
    }
    for d in districts:
        if ("assessment", d) not in done:
            work.append(("assessment", d))
        if ("district", d) not in done:
            work.append(("rollup", d))
    return work


async def run_one(db: AsyncSession, what: str, unit_id: uuid.UUID, settings: Settings | None = None) -> bool:
    """Produce one missing snapshot of the last ended half year; whether this call made it."""
    half = last_closed()
    unit = await db.get(OrgUnit, unit_id)
    if unit is None:
        return False
    if what == "town":
        return (await produce_town(db, unit, half))[1]
    if what == "assessment":
        return (await produce_assessment(db, unit, half, settings))[1]
    row, _ready = await maybe_rollup(db, unit, half)
    return row is not None


async def count_editions(db: AsyncSession, kind: SnapshotKind, unit_id: uuid.UUID, period: str) -> int:
    """How many editions exist (tests and the perf script read it)."""
    stmt = select(func.count()).where(
        Bulletin.kind == kind.value, Bulletin.org_unit_id == unit_id, Bulletin.period == period
    )
    return int(await db.scalar(stmt) or 0)
