"""Social-work departments: register one for an institution, list and read them, and name the
institutions that must have one and do not.

Seed 004 §三(四)3 asks every tertiary (三级) institution for a social-work department and encourages the
others. Institutions carry no grade here, so the district-level hospitals (people's, TCM, maternal and
child) stand for the tertiary ones: ``REQUIRED_KINDS``. A missing department is not refused anywhere (a
hospital exists before its department does); it is reported by ``missing`` so supervision can chase it.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.audit import service as audit
from services.core.errors import AlreadyExists, NotFound, field_error
from services.core.org.models import OrgUnit
from services.core.pagination import paginate
from services.core.replay import Created, insert_once, replayed
from services.core.security.principal import Principal, institution_scope_clause, scope_or_ancestor_clause
from services.core.security.roles import Permission
from services.core.socialwork.models import SocialWorkDepartment
from services.core.socialwork.schemas import DepartmentCreate
from services.core.teams import repository as teams_repository
from services.core.teams.models import Institution, InstitutionKind

REQUIRED_KINDS = frozenset(
    {InstitutionKind.DISTRICT_HOSPITAL, InstitutionKind.TCM_HOSPITAL, InstitutionKind.MATERNAL_CHILD}
)


def readable(principal: Principal, permission: Permission = Permission.ORG_READ) -> Select[SocialWorkDepartment]:
    """Departments in scope. Reads see the subtree and what sits above it (a town sees the district
    hospital's department it hands patients to and receives them from); writes only the subtree,
    narrowed to the institution a grant names."""
    stmt = select(SocialWorkDepartment).join(OrgUnit, OrgUnit.id == SocialWorkDepartment.org_unit_id)
    if permission is Permission.ORG_READ:
        return stmt.where(scope_or_ancestor_clause(principal, permission, OrgUnit.path))
    return stmt.where(
        institution_scope_clause(principal, permission, OrgUnit.path, SocialWorkDepartment.institution_id)
    )


async def get(
    db: AsyncSession,
    principal: Principal,
    department_id: uuid.UUID,
    permission: Permission = Permission.ORG_READ,
    *,
    field: str | None = None,
) -> SocialWorkDepartment:
    """One department in scope; 404 (or 422 on ``field`` when the id came in a body)."""
    found = await db.scalar(readable(principal, permission).where(SocialWorkDepartment.id == department_id))
    if found is None:
        if field is not None:
            raise field_error(field, f"no social-work department {department_id} in your scope")
        raise NotFound(f"social-work department {department_id} not found")
    return found


async def of_institution(db: AsyncSession, institution_id: uuid.UUID | None) -> SocialWorkDepartment | None:
    """The department of an institution (None: it has none, or no institution was named)."""
    if institution_id is None:
        return None
    return await db.scalar(select(SocialWorkDepartment).where(SocialWorkDepartment.institution_id == institution_id))


async def create(db: AsyncSession, *, principal: Principal, data: DepartmentCreate) -> Created[SocialWorkDepartment]:
    """Register an institution's department (one each; a repeat with the same id and body is a replay)."""
    name = data.name.strip()
    if not name:
        raise field_error("body.name", "a department needs a name")
    expected = {
        "institution_id": data.institution_id,
        "name": name,
        "is_station": data.is_station,
        "established_on": data.established_on,
    }
    replay = await replayed(
        db,
        SocialWorkDepartment,
        data.id,
        same=expected,
        in_scope=lambda row: get(db, principal, row.id, Permission.SOCIALWORK_DEPARTMENTS_WRITE),
    )
    if replay is not None:
        return replay
    institution = await teams_repository.get_institution(
        db, principal, data.institution_id, Permission.SOCIALWORK_DEPARTMENTS_WRITE, field="body.institution_id"
    )
    existing = await of_institution(db, institution.id)
    if existing is not None and existing.id != data.id:
        raise AlreadyExists("this institution already has a social-work department", existing_id=str(existing.id))
    result = await insert_once(
        db,
        SocialWorkDepartment(
            id=data.id or uuid.uuid4(),
            institution_id=institution.id,
            name=name,
            is_station=data.is_station,
            established_on=data.established_on,
            org_unit_id=institution.org_unit_id,
            district_id=institution.district_id,
            created_by=principal.user_id,
        ),
        same=expected,
    )
    if result.created:
        path = await db.scalar(select(OrgUnit.path).where(OrgUnit.id == institution.org_unit_id))
        await audit.record_change(
            db, principal, "social_work_department.created", result.record, org_path=path or "", name=name
        )
    return result


async def list_departments(
    db: AsyncSession,
    *,
    principal: Principal,
    institution_id: uuid.UUID | None = None,
    is_station: bool | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[SocialWorkDepartment], str | None]:
    """Departments the principal may read, a page at a time."""
    stmt = readable(principal)
    if institution_id is not None:
        stmt = stmt.where(SocialWorkDepartment.institution_id == institution_id)
    if is_station is not None:
        stmt = stmt.where(SocialWorkDepartment.is_station.is_(is_station))
    return await paginate(db, stmt, key=SocialWorkDepartment.id, cursor=cursor, limit=limit)


async def missing(db: AsyncSession, *, principal: Principal) -> list[Institution]:
    """Institutions in the caller's subtree that must have a department (``REQUIRED_KINDS``) and have none
    (not those above it: a town does not answer for the district hospital)."""
    stmt = (
        teams_repository.readable_institutions(principal, Permission.ORG_READ)
        .where(Institution.kind.in_([k.value for k in REQUIRED_KINDS]))
        .where(~select(SocialWorkDepartment.id).where(SocialWorkDepartment.institution_id == Institution.id).exists())
        .order_by(Institution.name, Institution.id)
    )
    return list((await db.scalars(stmt)).all())
