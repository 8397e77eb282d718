"""Responsibility (team <-> village/grid), community roles, pairings, and the questions they answer."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from services.api.deps import AssignmentsRead, AssignmentsWrite, DbSession, IfMatch, answer
from services.api.problems import problem_responses
from services.core import clock
from services.core.assignments import queries, repository, service
from services.core.assignments.errors import AssignmentOverlap, PeriodOverlap
from services.core.assignments.models import CommunityRoleKind, PairingKind
from services.core.assignments.schemas import (
    CommunityRoleCreate,
    CommunityRoleRead,
    CoverageGaps,
    MemberSentinels,
    PairingCreate,
    PairingRead,
    PersonRoles,
    ResponsibilityCreate,
    ResponsibilityRead,
    ResponsibleRead,
)
from services.core.errors import NotFound
from services.core.org import repository as org_repository
from services.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from services.core.security.roles import Permission
from services.core.teams import repository as teams_repository
from services.core.teams.models import TeamMember
from services.core.teams.schemas import PeriodUpdate
from services.core.text import Instant

router = APIRouter(tags=["assignments"])

Cursor = Annotated[str | None, Query(max_length=500)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
At = Annotated[Instant | None, Query(description="An instant with its offset; defaults to now.")]


def _retry(model: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model, "description": "Already created with this id (a safe retry)"}}


# --- responsibility -----------------------------------------------------------------------


@router.post(
    "/assignments",
    status_code=status.HTTP_201_CREATED,
    summary="Make a team responsible for a village or grid for a period",
    responses={**_retry(ResponsibilityRead), **problem_responses(401, 403, 404, 409, 422, errors=(AssignmentOverlap,))},
)
async def create_assignment(
    db: DbSession, principal: AssignmentsWrite, body: ResponsibilityCreate, response: Response
) -> ResponsibilityRead:
    """A grid assignment overrides its village's; overlapping assignments of one unit are 409
    `assignment_overlap` naming `conflicting_assignment_id`."""
    row, was_created = await service.assign_team(db, principal=principal, data=body)
    return answer(
        response, row, ResponsibilityRead.model_validate(row), location=f"/assignments/{row.id}", created=was_created
    )


@router.get(
    "/assignments", summary="List responsibility assignments in scope", responses=problem_responses(401, 403, 422)
)
async def list_assignments(
    db: DbSession,
    principal: AssignmentsRead,
    team_id: uuid.UUID | None = None,
    org_unit_id: uuid.UUID | None = None,
    at: Annotated[Instant | None, Query(description="Only those in force then")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[ResponsibilityRead]:
    """Past, present and future assignments for villages and grids in the caller's area."""
    rows, next_cursor = await service.list_assignments(
        db, principal=principal, team_id=team_id, org_unit_id=org_unit_id, at=at, cursor=cursor, limit=limit
    )
    return Page[ResponsibilityRead](items=[ResponsibilityRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/assignments/{assignment_id}", summary="Read one assignment", responses=problem_responses(401, 403, 404, 422)
)
async def read_assignment(
    db: DbSession, principal: AssignmentsRead, assignment_id: uuid.UUID, response: Response
) -> ResponsibilityRead:
    """404 when it does not exist or lies outside the caller's scope."""
    row = await repository.get_responsibility(db, principal, assignment_id)
    return answer(response, row, ResponsibilityRead.model_validate(row))


@router.patch(
    "/assignments/{assignment_id}",
    summary="End an assignment (or move its end)",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428, errors=(AssignmentOverlap,)),
)
async def end_assignment(
    db: DbSession,
    principal: AssignmentsWrite,
    assignment_id: uuid.UUID,
    body: PeriodUpdate,
    version: IfMatch,
    response: Response,
) -> ResponsibilityRead:
    """Set `ends_at` to hand the unit over; history stays, so past questions keep their answers."""
    row = await service.set_assignment_end(
        db, principal=principal, assignment_id=assignment_id, data=body, expected_version=version
    )
    return answer(response, row, ResponsibilityRead.model_validate(row))


# --- community roles ----------------------------------------------------------------------


@router.post(
    "/community-roles",
    status_code=status.HTTP_201_CREATED,
    summary="Appoint a community steward, grid leader or sentinel for a period",
    responses={**_retry(CommunityRoleRead), **problem_responses(401, 403, 404, 409, 422, errors=(PeriodOverlap,))},
)
async def create_community_role(
    db: DbSession, principal: AssignmentsWrite, body: CommunityRoleCreate, response: Response
) -> CommunityRoleRead:
    """One community steward per village and one grid leader per grid at a time (409 `period_overlap`)."""
    row, was_created = await service.add_community_role(db, principal=principal, data=body)
    return answer(
        response, row, CommunityRoleRead.model_validate(row), location=f"/community-roles/{row.id}", created=was_created
    )


@router.get("/community-roles", summary="List community roles in scope", responses=problem_responses(401, 403, 422))
async def list_community_roles(
    db: DbSession,
    principal: AssignmentsRead,
    org_unit_id: uuid.UUID | None = None,
    person_id: uuid.UUID | None = None,
    role: CommunityRoleKind | None = None,
    at: Annotated[Instant | None, Query(description="Only those in force then")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[CommunityRoleRead]:
    """Community stewards, grid leaders and sentinels of villages and grids in the caller's area."""
    rows, next_cursor = await service.list_community_roles(
        db,
        principal=principal,
        org_unit_id=org_unit_id,
        person_id=person_id,
        role=role,
        at=at,
        cursor=cursor,
        limit=limit,
    )
    return Page[CommunityRoleRead](items=[CommunityRoleRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/community-roles/{role_id}", summary="Read one community role", responses=problem_responses(401, 403, 404, 422)
)
async def read_community_role(
    db: DbSession, principal: AssignmentsRead, role_id: uuid.UUID, response: Response
) -> CommunityRoleRead:
    """404 when it does not exist or lies outside the caller's scope."""
    row = await repository.get_community_role(db, principal, role_id)
    return answer(response, row, CommunityRoleRead.model_validate(row))


@router.patch(
    "/community-roles/{role_id}",
    summary="End a community role (or move its end)",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428, errors=(PeriodOverlap,)),
)
async def end_community_role(
    db: DbSession,
    principal: AssignmentsWrite,
    role_id: uuid.UUID,
    body: PeriodUpdate,
    version: IfMatch,
    response: Response,
) -> CommunityRoleRead:
    """Send If-Match with the version you read."""
    row = await service.set_community_role_end(
        db, principal=principal, role_id=role_id, data=body, expected_version=version
    )
    return answer(response, row, CommunityRoleRead.model_validate(row))


# --- pairings -----------------------------------------------------------------------------


@router.post(
    "/pairings",
    status_code=status.HTTP_201_CREATED,
    summary="Pair a medical-side role with a community-side role for a period",
    responses={**_retry(PairingRead), **problem_responses(401, 403, 404, 409, 422, errors=(PeriodOverlap,))},
)
async def create_pairing(
    db: DbSession, principal: AssignmentsWrite, body: PairingCreate, response: Response
) -> PairingRead:
    """Refused with 422 `pairing_outside_area` when the two sides share no area at the start."""
    row, was_created = await service.create_pairing(db, principal=principal, data=body)
    return answer(response, row, PairingRead.model_validate(row), location=f"/pairings/{row.id}", created=was_created)


@router.get("/pairings", summary="List pairings in scope", responses=problem_responses(401, 403, 422))
async def list_pairings(
    db: DbSession,
    principal: AssignmentsRead,
    kind: PairingKind | None = None,
    org_unit_id: uuid.UUID | None = None,
    team_member_id: uuid.UUID | None = None,
    at: Annotated[Instant | None, Query(description="Only those in force then")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[PairingRead]:
    """Pairings whose community side lies in the caller's area."""
    rows, next_cursor = await service.list_pairings(
        db,
        principal=principal,
        kind=kind,
        org_unit_id=org_unit_id,
        team_member_id=team_member_id,
        at=at,
        cursor=cursor,
        limit=limit,
    )
    return Page[PairingRead](items=[PairingRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/pairings/{pairing_id}", summary="Read one pairing", responses=problem_responses(401, 403, 404, 422))
async def read_pairing(
    db: DbSession, principal: AssignmentsRead, pairing_id: uuid.UUID, response: Response
) -> PairingRead:
    """404 when it does not exist or lies outside the caller's scope."""
    row = await repository.get_pairing(db, principal, pairing_id)
    return answer(response, row, PairingRead.model_validate(row))


@router.patch(
    "/pairings/{pairing_id}",
    summary="End a pairing (or move its end)",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428, errors=(PeriodOverlap,)),
)
async def end_pairing(
    db: DbSession,
    principal: AssignmentsWrite,
    pairing_id: uuid.UUID,
    body: PeriodUpdate,
    version: IfMatch,
    response: Response,
) -> PairingRead:
    """Send If-Match with the version you read."""
    row = await service.set_pairing_end(
        db, principal=principal, pairing_id=pairing_id, data=body, expected_version=version
    )
    return answer(response, row, PairingRead.model_validate(row))


# --- queries ------------------------------------------------------------------------------


@router.get(
    "/grids/{grid_id}/responsible",
    summary="Who is responsible for a grid at an instant",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_grid_responsible(
    db: DbSession, principal: AssignmentsRead, grid_id: uuid.UUID, at: At = None
) -> ResponsibleRead:
    """Team, leader, members, paired sentinels, community steward and grid leader, for any past instant."""
    await org_repository.get_in_scope(db, principal, grid_id, Permission.ASSIGNMENTS_READ)
    return await queries.responsible_for(db, grid_id=grid_id, at=at or clock.now())


@router.get(
    "/coverage-gaps",
    summary="Coverage gaps of a town or the district",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_coverage_gaps(
    db: DbSession, principal: AssignmentsRead, org_unit_id: uuid.UUID, at: At = None
) -> CoverageGaps:
    """Grids without a sentinel or a team, sentinels without a paired member, villages without a steward."""
    unit = await org_repository.get_in_scope(db, principal, org_unit_id, Permission.ASSIGNMENTS_READ)
    return await queries.coverage_gaps(db, unit=unit, at=at or clock.now())


@router.get(
    "/people/{person_id}/roles",
    summary="Every role a person has held over time",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_person_roles(db: DbSession, principal: AssignmentsRead, person_id: uuid.UUID) -> PersonRoles:
    """Team memberships, institution stewardships and community roles, each with its period."""
    person = await teams_repository.get_person(db, principal, person_id, Permission.ASSIGNMENTS_READ)
    return await queries.roles_of(db, person=person)


@router.get(
    "/team-members/{member_id}/sentinels",
    summary="A team member's paired sentinels and their grids",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_member_sentinels(
    db: DbSession, principal: AssignmentsRead, member_id: uuid.UUID, at: At = None
) -> MemberSentinels:
    """The sentinels paired with this membership at `at` (default now)."""
    member = await db.get(TeamMember, member_id)
    if member is None:
        raise NotFound(f"team member {member_id} not found")
    try:
        await teams_repository.get_team(db, principal, member.team_id, Permission.ASSIGNMENTS_READ)
    except NotFound:
        raise NotFound(f"team member {member_id} not found") from None
    return await queries.member_sentinels(db, member=member, at=at or clock.now(), principal=principal)
