"""Medical social work (医务社工): social-work departments; cases, resource linking and discharge transfers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from services.api.deps import DbSession, OrgRead, answer, require
from services.api.problems import problem_responses
from services.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from services.core.security.principal import Principal
from services.core.security.roles import Permission
from services.core.socialwork import departments
from services.core.socialwork.schemas import DepartmentCreate, DepartmentGap, DepartmentRead

router = APIRouter(tags=["socialwork"])

Cursor = Annotated[str | None, Query(max_length=500)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
DepartmentsWrite = Annotated[Principal, Depends(require(Permission.SOCIALWORK_DEPARTMENTS_WRITE))]


# --- departments ----------------------------------------------------------------------------


@router.post(
    "/social-work-departments",
    status_code=status.HTTP_201_CREATED,
    summary="Register an institution's social-work department",
    responses={
        200: {"model": DepartmentRead, "description": "Already created with this id (a safe retry)"},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def create_social_work_department(
    db: DbSession, principal: DepartmentsWrite, body: DepartmentCreate, response: Response
) -> DepartmentRead:
    """One department per institution (409 with the existing one's id otherwise)."""
    row, was_created = await departments.create(db, principal=principal, data=body)
    return answer(
        response,
        row,
        DepartmentRead.model_validate(row),
        location=f"/social-work-departments/{row.id}",
        created=was_created,
    )


@router.get(
    "/social-work-departments",
    summary="List social-work departments in scope",
    responses=problem_responses(401, 403, 422),
)
async def list_social_work_departments(
    db: DbSession,
    principal: OrgRead,
    institution_id: uuid.UUID | None = None,
    is_station: bool | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[DepartmentRead]:
    """Departments in the caller's area, and the district-level ones above it."""
    rows, next_cursor = await departments.list_departments(
        db, principal=principal, institution_id=institution_id, is_station=is_station, cursor=cursor, limit=limit
    )
    return Page[DepartmentRead](items=[DepartmentRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/social-work-departments/missing",
    summary="Institutions that must have a social-work department and have none",
    responses=problem_responses(401, 403, 422),
)
async def list_missing_social_work_departments(db: DbSession, principal: OrgRead) -> list[DepartmentGap]:
    """The district-level hospitals (standing for tertiary institutions) in scope without a department."""
    rows = await departments.missing(db, principal=principal)
    return [DepartmentGap(institution_id=r.id, name=r.name, kind=r.kind, org_unit_id=r.org_unit_id) for r in rows]


@router.get(
    "/social-work-departments/{department_id}",
    summary="Read one social-work department",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_social_work_department(
    db: DbSession, principal: OrgRead, department_id: uuid.UUID, response: Response
) -> DepartmentRead:
    """404 when it does not exist or lies outside the caller's scope."""
    row = await departments.get(db, principal, department_id)
    return answer(response, row, DepartmentRead.model_validate(row))
