"""Rules for org units: kinds follow the parent, codes extend the parent's, paths follow codes."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.audit import service as audit
from services.core.errors import AlreadyExists, field_error
from services.core.org import repository
from services.core.org.codes import CHILD_KIND, code_problem
from services.core.org.models import CATEGORIES_OF, OrgUnit, OrgUnitCategory, OrgUnitKind
from services.core.org.schemas import OrgUnitCreate, OrgUnitUpdate
from services.core.pagination import paginate
from services.core.replay import Created, insert_once, replayed
from services.core.security.principal import Principal
from services.core.security.roles import Permission
from services.core.versioning import check_version


async def create_district(db: AsyncSession, *, code: str, name: str) -> OrgUnit:
    """A new district (county-level); only the CLI does this, as it sits above every grant."""
    problem = code_problem(OrgUnitKind.DISTRICT, code, None)
    if problem:
        raise field_error("code", problem)
    existing = await db.scalar(select(OrgUnit).where(OrgUnit.code == code))
    if existing is not None:
        return existing
    unit_id = uuid.uuid4()
    unit = OrgUnit(
        id=unit_id,
        kind=OrgUnitKind.DISTRICT,
        category=OrgUnitCategory.DISTRICT,
        code=code,
        name=name,
        parent_id=None,
        district_id=unit_id,
        path=f"/{code}/",
    )
    db.add(unit)
    await db.flush()
    return unit


async def create(db: AsyncSession, principal: Principal, data: OrgUnitCreate) -> Created[OrgUnit]:
    """Create a unit under a parent the principal may write (a repeat with the same id and body is a replay)."""
    expected = {"parent_id": data.parent_id, "code": data.code, "name": data.name.strip(), "category": data.category}
    replay = await replayed(db, OrgUnit, data.id, same=expected)
    if replay is not None:
        return replay
    parent = await repository.get_in_scope(db, principal, data.parent_id, Permission.ORG_WRITE)
    parent_kind = OrgUnitKind(parent.kind)
    if parent_kind not in CHILD_KIND:
        raise field_error("body.parent_id", "a grid has no child units")
    kind = CHILD_KIND[parent_kind]
    category = data.category or OrgUnitCategory(kind.value)
    if category not in CATEGORIES_OF[kind]:
        allowed = ", ".join(sorted(c.value for c in CATEGORIES_OF[kind]))
        raise field_error("body.category", f"a {kind.value} is one of: {allowed}")
    problem = code_problem(kind, data.code, parent.code)
    if problem:
        raise field_error("body.code", problem)
    clash = await db.scalar(select(OrgUnit.id).where(OrgUnit.code == data.code, OrgUnit.id != data.id))
    if clash is not None:
        raise AlreadyExists(f"code {data.code} is already used", existing_id=str(clash))
    result = await insert_once(
        db,
        OrgUnit(
            id=data.id or uuid.uuid4(),
            kind=kind,
            category=category,
            code=data.code,
            name=data.name.strip(),
            parent_id=parent.id,
            district_id=parent.district_id,
            path=f"{parent.path}{data.code}/",
        ),
        same=expected,
    )
    unit = result.record
    if result.created:
        await audit.record(
            db,
            actor_id=principal.user_id,
            action="org_unit.created",
            subject_type="org_unit",
            subject_id=unit.id,
            org_path=unit.path,
            details={"code": unit.code, "kind": unit.kind},
        )
    return result


async def update(
    db: AsyncSession,
    principal: Principal,
    unit_id: uuid.UUID,
    data: OrgUnitUpdate,
    *,
    expected_version: int,
) -> OrgUnit:
    """Rename or recategorise a unit; codes never change (they are the unit's identity)."""
    unit = await repository.get_in_scope(db, principal, unit_id, Permission.ORG_WRITE)
    check_version(unit.version, expected_version)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "category" in changes and OrgUnitCategory(changes["category"]) not in CATEGORIES_OF[OrgUnitKind(unit.kind)]:
        raise field_error("body.category", f"not a category of a {unit.kind}")
    for key, value in changes.items():
        setattr(unit, key, value.strip() if isinstance(value, str) else value)
    await db.flush()
    await audit.record(
        db,
        actor_id=principal.user_id,
        action="org_unit.updated",
        subject_type="org_unit",
        subject_id=unit.id,
        org_path=unit.path,
        details={"fields": sorted(changes)},
    )
    return unit


async def list_units(
    db: AsyncSession,
    principal: Principal,
    *,
    parent_id: uuid.UUID | None,
    kind: OrgUnitKind | None,
    q: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[OrgUnit], str | None]:
    """Units in scope, in tree order (by path), a page at a time."""
    stmt = repository.readable(principal)
    if parent_id is not None:
        stmt = stmt.where(OrgUnit.parent_id == parent_id)
    if kind is not None:
        stmt = stmt.where(OrgUnit.kind == kind.value)
    if q:
        stmt = stmt.where(OrgUnit.name.contains(q, autoescape=True))
    return await paginate(db, stmt, key=OrgUnit.path, cursor=cursor, limit=limit)
