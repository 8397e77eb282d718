"""Institutions, their stewards, people, family doctor teams, members and backing."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.deps import (
    DbSession,
    IfMatch,
    IfMatchLater,
    InstitutionsWrite,
    PeopleWrite,
    Pii,
    PostingsWrite,
    TeamsRead,
    TeamsWrite,
    answer,
)
from services.api.problems import problem_responses
from services.core.errors import PeriodOverlap
from services.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from services.core.teams import backings, institutions, members, people, postings, repository, teams
from services.core.teams.models import InstitutionKind, PersonKind, Team, TeamKind, TeamStatus
from services.core.teams.schemas import (
    BackingCreate,
    BackingRead,
    InstitutionCreate,
    InstitutionRead,
    InstitutionUpdate,
    MemberCreate,
    MemberRead,
    PeriodUpdate,
    PersonCreate,
    PersonMobileRead,
    PersonRead,
    PersonUpdate,
    PostingCreate,
    PostingMemberCreate,
    PostingRead,
    StewardCreate,
    StewardRead,
    TeamCreate,
    TeamRead,
    TeamUpdate,
)
from services.core.text import Instant

router = APIRouter(tags=["teams"])

Cursor = Annotated[str | None, Query(max_length=500)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


async def _teams(db: AsyncSession, rows: list[Team]) -> list[TeamRead]:
    leaders = await members.current_leaders(db, team_ids=[t.id for t in rows])
    return [TeamRead.model_validate(t).model_copy(update={"leader_person_id": leaders.get(t.id)}) for t in rows]


def _retry(model: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model, "description": "Already created with this id (a safe retry)"}}


# --- institutions -------------------------------------------------------------------------


@router.post(
    "/institutions",
    status_code=status.HTTP_201_CREATED,
    summary="Register an institution",
    responses={**_retry(InstitutionRead), **problem_responses(401, 403, 404, 409, 422)},
)
async def create_institution(
    db: DbSession, principal: InstitutionsWrite, body: InstitutionCreate, response: Response
) -> InstitutionRead:
    """The credit code is checked (GB 32100); the level follows from the kind."""
    row, was_created = await institutions.create_institution(db, principal=principal, data=body)
    return answer(
        response, row, InstitutionRead.model_validate(row), location=f"/institutions/{row.id}", created=was_created
    )


@router.get("/institutions", summary="List institutions in scope", responses=problem_responses(401, 403, 422))
async def list_institutions(
    db: DbSession,
    principal: TeamsRead,
    org_unit_id: uuid.UUID | None = None,
    kind: InstitutionKind | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[InstitutionRead]:
    """Institutions in the caller's area, and the district-level ones above it."""
    rows, next_cursor = await institutions.list_institutions(
        db, principal=principal, org_unit_id=org_unit_id, kind=kind, cursor=cursor, limit=limit
    )
    return Page[InstitutionRead](items=[InstitutionRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/institutions/{institution_id}", summary="Read one institution", responses=problem_responses(401, 403, 404, 422)
)
async def read_institution(
    db: DbSession, principal: TeamsRead, institution_id: uuid.UUID, response: Response
) -> InstitutionRead:
    """404 when it does not exist or lies outside the caller's scope."""
    row = await repository.get_institution(db, principal, institution_id)
    return answer(response, row, InstitutionRead.model_validate(row))


@router.patch(
    "/institutions/{institution_id}",
    summary="Rename an institution or correct its credit code",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
async def update_institution(
    db: DbSession,
    principal: InstitutionsWrite,
    institution_id: uuid.UUID,
    body: InstitutionUpdate,
    version: IfMatch,
    response: Response,
) -> InstitutionRead:
    """Send If-Match with the version you read."""
    row = await institutions.update_institution(
        db, principal=principal, institution_id=institution_id, data=body, expected_version=version
    )
    return answer(response, row, InstitutionRead.model_validate(row))


@router.post(
    "/institutions/{institution_id}/stewards",
    status_code=status.HTTP_201_CREATED,
    summary="Appoint the institution's family-doctor steward for a period",
    responses={**_retry(StewardRead), **problem_responses(401, 403, 404, 409, 422, errors=(PeriodOverlap,))},
)
async def appoint_institution_steward(
    db: DbSession, principal: InstitutionsWrite, institution_id: uuid.UUID, body: StewardCreate, response: Response
) -> StewardRead:
    """One steward at a time: an overlapping period is 409 `period_overlap` naming `conflicting_steward_id`."""
    row, was_created = await institutions.appoint_steward(
        db, principal=principal, institution_id=institution_id, data=body
    )
    return answer(
        response, row, StewardRead.model_validate(row), location=f"/institution-stewards/{row.id}", created=was_created
    )


@router.get(
    "/institutions/{institution_id}/stewards",
    summary="An institution's stewards, past and present",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_institution_stewards(
    db: DbSession, principal: TeamsRead, institution_id: uuid.UUID
) -> list[StewardRead]:
    """Oldest first; the one in force has no `ends_at` or one in the future."""
    rows = await institutions.list_stewards(db, principal=principal, institution_id=institution_id)
    return [StewardRead.model_validate(r) for r in rows]


@router.patch(
    "/institution-stewards/{steward_id}",
    summary="End a stewardship (or move its end)",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428, errors=(PeriodOverlap,)),
)
async def end_institution_steward(
    db: DbSession,
    principal: InstitutionsWrite,
    steward_id: uuid.UUID,
    body: PeriodUpdate,
    version: IfMatch,
    response: Response,
) -> StewardRead:
    """Records are never deleted, so past questions keep their answers."""
    row = await institutions.set_steward_end(
        db, principal=principal, steward_id=steward_id, data=body, expected_version=version
    )
    return answer(response, row, StewardRead.model_validate(row))


# --- people -------------------------------------------------------------------------------


@router.post(
    "/people",
    status_code=status.HTTP_201_CREATED,
    summary="Register a staff member or community worker",
    responses={**_retry(PersonRead), **problem_responses(401, 403, 404, 409, 422)},
)
async def create_person(
    db: DbSession, principal: PeopleWrite, pii: Pii, body: PersonCreate, response: Response
) -> PersonRead:
    """The mobile number is checked, sealed and answered masked; roles are added as period records."""
    row, was_created = await people.create_person(db, principal=principal, data=body, pii=pii)
    return answer(response, row, PersonRead.model_validate(row), location=f"/people/{row.id}", created=was_created)


@router.get("/people", summary="List people in scope", responses=problem_responses(401, 403, 422))
async def list_people(
    db: DbSession,
    principal: TeamsRead,
    org_unit_id: uuid.UUID | None = None,
    institution_id: uuid.UUID | None = None,
    kind: PersonKind | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[PersonRead]:
    """People whose home unit lies in the caller's area."""
    rows, next_cursor = await people.list_people(
        db,
        principal=principal,
        org_unit_id=org_unit_id,
        institution_id=institution_id,
        kind=kind,
        cursor=cursor,
        limit=limit,
    )
    return Page[PersonRead](items=[PersonRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/people/{person_id}", summary="Read one person", responses=problem_responses(401, 403, 404, 422))
async def read_person(db: DbSession, principal: TeamsRead, person_id: uuid.UUID, response: Response) -> PersonRead:
    """404 when they do not exist or lie outside the caller's scope."""
    row = await repository.get_person(db, principal, person_id)
    return answer(response, row, PersonRead.model_validate(row))


@router.get(
    "/people/{person_id}/mobile",
    summary="Reveal a person's full mobile number",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_person_mobile(
    db: DbSession, principal: TeamsRead, pii: Pii, person_id: uuid.UUID, response: Response
) -> PersonMobileRead:
    """District administrators, institution stewards and team leaders covering the person's unit only
    (else 403 `mobile_not_permitted`); every call is audited."""
    response.headers["Cache-Control"] = "no-store"
    return await people.read_mobile(db, principal=principal, person_id=person_id, pii=pii)


@router.patch(
    "/people/{person_id}",
    summary="Correct a person's name, phone or discipline, or link an account",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
async def update_person(
    db: DbSession,
    principal: PeopleWrite,
    pii: Pii,
    person_id: uuid.UUID,
    body: PersonUpdate,
    version: IfMatch,
    response: Response,
) -> PersonRead:
    """Send If-Match with the version you read."""
    row = await people.update_person(
        db, principal=principal, person_id=person_id, data=body, expected_version=version, pii=pii
    )
    return answer(response, row, PersonRead.model_validate(row))


# --- teams --------------------------------------------------------------------------------


@router.post(
    "/teams",
    status_code=status.HTTP_201_CREATED,
    summary="Form a family doctor team",
    responses={**_retry(TeamRead), **problem_responses(401, 403, 404, 409, 422)},
)
async def create_team(db: DbSession, principal: TeamsWrite, body: TeamCreate, response: Response) -> TeamRead:
    """A primary team, or one of the district's four departments; add the leader and members next."""
    row, was_created = await teams.create_team(db, principal=principal, data=body)
    return answer(response, row, (await _teams(db, [row]))[0], location=f"/teams/{row.id}", created=was_created)


@router.get("/teams", summary="List teams in scope", responses=problem_responses(401, 403, 422))
async def list_teams(
    db: DbSession,
    principal: TeamsRead,
    institution_id: uuid.UUID | None = None,
    status: TeamStatus | None = None,
    kind: TeamKind | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[TeamRead]:
    """Teams based in, above, or serving the caller's area."""
    rows, next_cursor = await teams.list_teams(
        db, principal=principal, institution_id=institution_id, status=status, kind=kind, cursor=cursor, limit=limit
    )
    return Page[TeamRead](items=await _teams(db, rows), next_cursor=next_cursor)


@router.get("/teams/{team_id}", summary="Read one team", responses=problem_responses(401, 403, 404, 422))
async def read_team(db: DbSession, principal: TeamsRead, team_id: uuid.UUID, response: Response) -> TeamRead:
    """404 when it does not exist or lies outside the caller's scope."""
    row = await repository.get_team(db, principal, team_id)
    return answer(response, row, (await _teams(db, [row]))[0])


@router.patch(
    "/teams/{team_id}",
    summary="Rename a team, change its service phone or status",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
async def update_team(
    db: DbSession,
    principal: TeamsWrite,
    team_id: uuid.UUID,
    body: TeamUpdate,
    version: IfMatchLater,
    response: Response,
) -> TeamRead:
    """A dissolved team stays dissolved (409 `illegal_transition`)."""
    row = await teams.update_team(db, principal=principal, team_id=team_id, data=body, expected_version=version)
    return answer(response, row, (await _teams(db, [row]))[0])


@router.post(
    "/teams/{team_id}/members",
    status_code=status.HTTP_201_CREATED,
    summary="Put a staff member on a team for a period",
    responses={**_retry(MemberRead), **problem_responses(401, 403, 404, 409, 422, errors=(PeriodOverlap,))},
)
async def add_team_member(
    db: DbSession, principal: TeamsWrite, team_id: uuid.UUID, body: MemberCreate, response: Response
) -> MemberRead:
    """role `leader` for the team leader (one at a time; 409 `period_overlap` naming `conflicting_member_id`)."""
    row, was_created = await members.add_member(db, principal=principal, team_id=team_id, data=body)
    return answer(
        response, row, MemberRead.model_validate(row), location=f"/team-members/{row.id}", created=was_created
    )


@router.get("/teams/{team_id}/members", summary="A team's members", responses=problem_responses(401, 403, 404, 422))
async def list_team_members(
    db: DbSession,
    principal: TeamsRead,
    team_id: uuid.UUID,
    at: Annotated[Instant | None, Query(description="Only memberships in force then")] = None,
) -> list[MemberRead]:
    """Every membership, or those in force at `at`; the leader first."""
    rows = await members.list_members(db, principal=principal, team_id=team_id, at=at)
    return [MemberRead.model_validate(r) for r in rows]


@router.patch(
    "/team-members/{member_id}",
    summary="End a membership (or move its end)",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428, errors=(PeriodOverlap,)),
)
async def end_team_member(
    db: DbSession,
    principal: TeamsWrite,
    member_id: uuid.UUID,
    body: PeriodUpdate,
    version: IfMatch,
    response: Response,
) -> MemberRead:
    """Send If-Match with the version you read."""
    row = await members.set_member_end(
        db, principal=principal, member_id=member_id, data=body, expected_version=version
    )
    return answer(response, row, MemberRead.model_validate(row))


@router.post(
    "/team-backings",
    status_code=status.HTTP_201_CREATED,
    summary="Have a district or town team back a lower-level team",
    responses={**_retry(BackingRead), **problem_responses(401, 403, 404, 409, 422, errors=(PeriodOverlap,))},
)
async def create_team_backing(
    db: DbSession, principal: TeamsWrite, body: BackingCreate, response: Response
) -> BackingRead:
    """The backing team must sit at a higher level (district > town > village)."""
    row, was_created = await backings.add_backing(db, principal=principal, data=body)
    return answer(
        response, row, BackingRead.model_validate(row), location=f"/team-backings/{row.id}", created=was_created
    )


@router.get(
    "/teams/{team_id}/backings",
    summary="Backings a team gives or receives",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_team_backings(db: DbSession, principal: TeamsRead, team_id: uuid.UUID) -> list[BackingRead]:
    """All periods, oldest first."""
    rows = await backings.list_backings(db, principal=principal, team_id=team_id)
    return [BackingRead.model_validate(r) for r in rows]


@router.patch(
    "/team-backings/{backing_id}",
    summary="End a backing (or move its end)",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428, errors=(PeriodOverlap,)),
)
async def end_team_backing(
    db: DbSession,
    principal: TeamsWrite,
    backing_id: uuid.UUID,
    body: PeriodUpdate,
    version: IfMatch,
    response: Response,
) -> BackingRead:
    """Send If-Match with the version you read."""
    row = await backings.set_backing_end(
        db, principal=principal, backing_id=backing_id, data=body, expected_version=version
    )
    return answer(response, row, BackingRead.model_validate(row))


# --- postings: people lent across institutions ------------------------------------------------


@router.post(
    "/postings",
    status_code=status.HTTP_201_CREATED,
    summary="Post a staff member to a primary institution for a period",
    responses={**_retry(PostingRead), **problem_responses(401, 403, 404, 409, 422, errors=(PeriodOverlap,))},
)
async def create_posting(
    db: DbSession, principal: PostingsWrite, body: PostingCreate, response: Response
) -> PostingRead:
    """县聘乡用 (a district institution's staff, with a term) or a social institution's staff; one at a time."""
    row, was_created = await postings.create(db, principal=principal, data=body)
    return answer(response, row, PostingRead.model_validate(row), location=f"/postings/{row.id}", created=was_created)


@router.get("/postings", summary="List postings", responses=problem_responses(401, 403, 422))
async def list_postings(
    db: DbSession,
    principal: TeamsRead,
    institution_id: Annotated[uuid.UUID | None, Query(description="Postings to or from this institution")] = None,
    person_id: uuid.UUID | None = None,
    at: Annotated[Instant | None, Query(description="Only postings in force then")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[PostingRead]:
    """Postings whose host or home institution is in your scope."""
    rows, next_cursor = await postings.list_postings(
        db,
        principal=principal,
        institution_id=institution_id,
        person_id=person_id,
        at=at,
        cursor=cursor,
        limit=limit,
    )
    return Page[PostingRead](items=[PostingRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/postings/{posting_id}", summary="One posting", responses=problem_responses(401, 403, 404, 422))
async def get_posting(db: DbSession, principal: TeamsRead, posting_id: uuid.UUID, response: Response) -> PostingRead:
    """With its version as ETag."""
    row = await postings.get(db, principal, posting_id)
    return answer(response, row, PostingRead.model_validate(row))


@router.patch(
    "/postings/{posting_id}",
    summary="End a posting (or move its end)",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428, errors=(PeriodOverlap,)),
)
async def end_posting(
    db: DbSession,
    principal: PostingsWrite,
    posting_id: uuid.UUID,
    body: PeriodUpdate,
    version: IfMatch,
    response: Response,
) -> PostingRead:
    """The posted person's team memberships running past the new end end with it; send If-Match."""
    row = await postings.set_end(db, principal=principal, posting_id=posting_id, data=body, expected_version=version)
    return answer(response, row, PostingRead.model_validate(row))


@router.post(
    "/postings/{posting_id}/members",
    status_code=status.HTTP_201_CREATED,
    summary="Put a posted person on a team of the host institution",
    responses={**_retry(MemberRead), **problem_responses(401, 403, 404, 409, 422, errors=(PeriodOverlap,))},
)
async def add_posted_member(
    db: DbSession, principal: TeamsWrite, posting_id: uuid.UUID, body: PostingMemberCreate, response: Response
) -> MemberRead:
    """Inside the posting's period (defaults to all of it); the membership ends with the posting."""
    row, was_created = await postings.add_member(db, principal=principal, posting_id=posting_id, data=body)
    return answer(
        response, row, MemberRead.model_validate(row), location=f"/team-members/{row.id}", created=was_created
    )
