"""Org units: the district's towns, villages and grids."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.api.deps import DbSession, IfMatch, OrgRead, OrgWrite, answer
from services.api.problems import problem_responses
from services.core.org import repository, service
from services.core.org.models import OrgUnitKind
from services.core.org.schemas import OrgUnitCreate, OrgUnitRead, OrgUnitUpdate
from services.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from services.core.text import CleanStr

router = APIRouter(prefix="/org-units", tags=["org"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a town, village or grid under a parent",
    responses={
        200: {"model": OrgUnitRead, "description": "Already created with this id (a safe retry)"},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def create_org_unit(db: DbSession, principal: OrgWrite, body: OrgUnitCreate, response: Response) -> OrgUnitRead:
    """The kind follows the parent (district > town > village > grid); the code must extend the parent's."""
    unit, created = await service.create(db, principal, body)
    body_ = OrgUnitRead.model_validate(unit)
    return answer(response, unit, body_, location=f"/org-units/{unit.id}", created=created)


@router.get("", summary="List org units in scope", responses=problem_responses(401, 403, 422))
async def list_org_units(
    db: DbSession,
    principal: OrgRead,
    parent_id: uuid.UUID | None = None,
    kind: OrgUnitKind | None = None,
    q: Annotated[CleanStr | None, Query(max_length=100, description="Part of the name")] = None,
    cursor: Annotated[CleanStr | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[OrgUnitRead]:
    """Units the caller may read, in tree order; follow `next_cursor` for more."""
    rows, next_cursor = await service.list_units(
        db, principal, parent_id=parent_id, kind=kind, q=q, cursor=cursor, limit=limit
    )
    return Page[OrgUnitRead](items=[OrgUnitRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{unit_id}", summary="Read one org unit", responses=problem_responses(401, 403, 404, 422))
async def read_org_unit(db: DbSession, principal: OrgRead, unit_id: uuid.UUID, response: Response) -> OrgUnitRead:
    """404 when it does not exist or lies outside the caller's scope."""
    unit = await repository.get_in_scope(db, principal, unit_id)
    return answer(response, unit, OrgUnitRead.model_validate(unit))


@router.patch(
    "/{unit_id}",
    summary="Rename or recategorise an org unit",
    responses=problem_responses(401, 403, 404, 412, 422, 428),
)
async def update_org_unit(
    db: DbSession,
    principal: OrgWrite,
    unit_id: uuid.UUID,
    body: OrgUnitUpdate,
    version: IfMatch,
    response: Response,
) -> OrgUnitRead:
    """Codes never change; send If-Match with the version you read."""
    unit = await service.update(db, principal, unit_id, body, expected_version=version)
    return answer(response, unit, OrgUnitRead.model_validate(unit))
