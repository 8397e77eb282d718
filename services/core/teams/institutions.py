"""Institutions and their stewards: register, correct, list; appoint a steward for a period and end it."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import periods
from services.core.audit import service as audit
from services.core.errors import AlreadyExists, field_error
from services.core.org import repository as org_repository
from services.core.org.models import OrgUnitKind
from services.core.pagination import paginate
from services.core.replay import Created, insert_once, replayed
from services.core.security.principal import Principal
from services.core.security.roles import Permission
from services.core.teams import common, hooks, repository, validation
from services.core.teams.models import LEVEL_OF_KIND, Institution, InstitutionKind, InstitutionSteward, PersonKind
from services.core.teams.schemas import InstitutionCreate, InstitutionUpdate, PeriodUpdate, StewardCreate
from services.core.versioning import check_version


async def create_institution(
    db: AsyncSession, *, principal: Principal, data: InstitutionCreate
) -> Created[Institution]:
    """Register an institution in a district or town (a repeat with the same id and body is a replay)."""
    code = validation.credit_code(data.credit_code)
    expected = {"name": data.name.strip(), "kind": data.kind, "credit_code": code, "org_unit_id": data.org_unit_id}
    replay = await replayed(
        db,
        Institution,
        data.id,
        same=expected,
        in_scope=lambda row: repository.get_institution(db, principal, row.id, Permission.INSTITUTIONS_WRITE),
    )
    if replay is not None:
        return replay
    unit = await org_repository.get_in_scope(db, principal, data.org_unit_id, Permission.INSTITUTIONS_WRITE)
    if unit.kind not in (OrgUnitKind.DISTRICT, OrgUnitKind.TOWN):
        raise field_error("body.org_unit_id", "an institution sits in the district or a town")
    await _credit_code_free(db, code, but=data.id)
    result = await insert_once(
        db,
        Institution(
            id=data.id or uuid.uuid4(),
            name=data.name.strip(),
            kind=data.kind,
            level=LEVEL_OF_KIND[InstitutionKind(data.kind)],
            credit_code=code,
            org_unit_id=unit.id,
            district_id=unit.district_id,
        ),
        same=expected,
    )
    if result.created:
        await audit.record_change(
            db, principal, "institution.created", result.record, org_path=unit.path, kind=data.kind
        )
    return result


async def _credit_code_free(db: AsyncSession, code: str, *, but: uuid.UUID | None = None) -> None:
    clash = await db.scalar(select(Institution.id).where(Institution.credit_code == code))
    if clash is not None and clash != but:
        raise AlreadyExists(f"credit code {code} is already registered", existing_id=str(clash))


async def update_institution(
    db: AsyncSession,
    *,
    principal: Principal,
    institution_id: uuid.UUID,
    data: InstitutionUpdate,
    expected_version: int,
) -> Institution:
    """Rename an institution or correct its credit code."""
    institution = await repository.get_institution(db, principal, institution_id, Permission.INSTITUTIONS_WRITE)
    check_version(institution.version, expected_version)
    if data.name is not None:
        institution.name = data.name.strip()
    if data.credit_code is not None:
        code = validation.credit_code(data.credit_code)
        await _credit_code_free(db, code, but=institution.id)
        institution.credit_code = code
    await db.flush()
    await audit.record_change(
        db,
        principal,
        "institution.updated",
        institution,
        org_path=await org_repository.path_of(db, institution.org_unit_id),
    )
    return institution


async def list_institutions(
    db: AsyncSession,
    *,
    principal: Principal,
    org_unit_id: uuid.UUID | None = None,
    kind: InstitutionKind | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Institution], str | None]:
    """Institutions the principal may read, a page at a time."""
    stmt = repository.readable_institutions(principal)
    if org_unit_id is not None:
        stmt = stmt.where(Institution.org_unit_id == org_unit_id)
    if kind is not None:
        stmt = stmt.where(Institution.kind == kind.value)
    return await paginate(db, stmt, key=Institution.id, cursor=cursor, limit=limit)


async def appoint_steward(
    db: AsyncSession, *, principal: Principal, institution_id: uuid.UUID, data: StewardCreate
) -> Created[InstitutionSteward]:
    """Name the institution's family-doctor steward for a period; one at a time (409 on overlap)."""
    expected = {
        "institution_id": institution_id,
        "person_id": data.person_id,
        "starts_at": data.starts_at,
        "ends_at": data.ends_at,
    }
    replay = await replayed(
        db,
        InstitutionSteward,
        data.id,
        same=expected,
        in_scope=lambda row: repository.get_institution(
            db, principal, row.institution_id, Permission.INSTITUTIONS_WRITE
        ),
    )
    if replay is not None:
        return replay
    institution = await repository.get_institution(db, principal, institution_id, Permission.INSTITUTIONS_WRITE)
    person = await repository.get_person(db, principal, data.person_id, field="body.person_id")
    if person.kind != PersonKind.STAFF:
        raise field_error("body.person_id", "an institution steward is a staff member")
    starts_at, ends_at = periods.resolve(data.starts_at, data.ends_at)
    path = await org_repository.path_of(db, institution.org_unit_id)
    return await periods.create_exclusive(
        db,
        InstitutionSteward(
            id=data.id or uuid.uuid4(),
            institution_id=institution.id,
            person_id=person.id,
            starts_at=starts_at,
            ends_at=ends_at,
            district_id=institution.district_id,
        ),
        same=expected,
        rules=_steward_rules(institution.id),
        lock=lambda: common.lock(db, Institution, institution.id),
        audit=lambda row: audit.record_change(
            db, principal, "institution_steward.appointed", row, org_path=path, institution_id=institution.id
        ),
    )


async def list_stewards(
    db: AsyncSession, *, principal: Principal, institution_id: uuid.UUID
) -> list[InstitutionSteward]:
    """Every steward the institution has had, oldest first."""
    await repository.get_institution(db, principal, institution_id)
    rows = await db.scalars(
        select(InstitutionSteward)
        .where(InstitutionSteward.institution_id == institution_id)
        .order_by(InstitutionSteward.starts_at)
    )
    return list(rows.all())


async def set_steward_end(
    db: AsyncSession,
    *,
    principal: Principal,
    steward_id: uuid.UUID,
    data: PeriodUpdate,
    expected_version: int,
) -> InstitutionSteward:
    """End (or move the end of) a stewardship; the new period must not overlap another."""
    steward = await common.get_or_404(db, InstitutionSteward, steward_id, "institution steward")
    institution = await repository.get_institution(db, principal, steward.institution_id, Permission.INSTITUTIONS_WRITE)
    return await common.change_end(
        db,
        principal,
        steward,
        data,
        expected_version,
        rules=_steward_rules(institution.id),
        unit_id=institution.org_unit_id,
        action="institution_steward.period_changed",
        lock=lambda: common.lock(db, Institution, institution.id),
        on_end=lambda at: hooks.steward_ended(db, steward, at),
    )


def _steward_rules(institution_id: uuid.UUID) -> list[periods.Exclusive]:
    """One steward per institution at a time."""
    return [
        periods.Exclusive(
            InstitutionSteward,
            (InstitutionSteward.institution_id == institution_id,),
            "the institution already has a steward then",
            "conflicting_steward_id",
        )
    ]
