"""Family-doctor signing (签约), contacts with signed residents, coverage and the quarterly-contact duty."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.api.deps import DbSession, IfMatchLater, Pii, ResidentsRead, ResidentsWrite, SigningsWrite, answer
from services.api.problems import problem_responses
from services.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from services.core.replay import Created
from services.core.residents import service as residents_service
from services.core.residents.models import KeyPopulation
from services.core.residents.schemas import ResidentRead
from services.core.signing import service
from services.core.signing.models import Signing
from services.core.signing.schemas import (
    ContactCreate,
    ContactRead,
    DueContactPage,
    SigningCreate,
    SigningRead,
    SigningRenew,
    SigningTerminate,
    TeamCoverage,
    TeamResidentRelation,
    VillageCoverageList,
)

router = APIRouter(tags=["signing"])

Cursor = Annotated[str | None, Query(max_length=500, description="`next_cursor` of the previous page.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


def _written(response: Response, written: Created[Signing]) -> SigningRead:
    signing = written.record
    body = service.to_read(signing)
    return answer(response, signing, body, location=f"/signings/{signing.id}", created=written.created)


@router.post(
    "/residents/{resident_id}/signings",
    status_code=status.HTTP_201_CREATED,
    summary="Sign a resident with a family doctor team",
    responses={
        200: {"model": SigningRead, "description": "Already signed with this id (a safe retry)"},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def create_signing(
    db: DbSession, principal: SigningsWrite, resident_id: uuid.UUID, body: SigningCreate, response: Response
) -> SigningRead:
    """At least a year; the team must be responsible for the grid on `starts_on`; 409 names an overlapping signing."""
    return _written(response, await service.create(db, principal, resident_id, body))


@router.get(
    "/residents/{resident_id}/signings",
    summary="A resident's signings",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_resident_signings(db: DbSession, principal: ResidentsRead, resident_id: uuid.UUID) -> Page[SigningRead]:
    """Every signing of the resident, oldest first (renewals follow what they renew)."""
    rows = await service.list_for_resident(db, principal, resident_id)
    return Page[SigningRead](items=[service.to_read(s) for s in rows], next_cursor=None)


@router.get("/signings/{signing_id}", summary="Read one signing", responses=problem_responses(401, 403, 404, 422))
async def read_signing(
    db: DbSession, principal: ResidentsRead, signing_id: uuid.UUID, response: Response
) -> SigningRead:
    """404 when the resident's grid is outside the caller's scope."""
    signing, _ = await service.get_in_scope(db, principal, signing_id)
    return answer(response, signing, service.to_read(signing))


@router.post(
    "/signings/{signing_id}/renewals",
    status_code=status.HTTP_201_CREATED,
    summary="Renew a signing",
    responses={
        200: {"model": SigningRead, "description": "Already renewed with this id (a safe retry)"},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def renew_signing(
    db: DbSession, principal: SigningsWrite, signing_id: uuid.UUID, body: SigningRenew, response: Response
) -> SigningRead:
    """A new signing from the old contract's end (same or other team and package); once, never after a termination."""
    return _written(response, await service.renew(db, principal, signing_id, body))


@router.post(
    "/signings/{signing_id}/termination",
    summary="Terminate a signing",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
async def terminate_signing(
    db: DbSession,
    principal: SigningsWrite,
    signing_id: uuid.UUID,
    body: SigningTerminate,
    version: IfMatchLater,
    response: Response,
) -> SigningRead:
    """A reason from the fixed list and the first day no longer covered; send If-Match with the signing's version."""
    signing = await service.terminate(db, principal, signing_id, body, expected_version=version)
    return answer(response, signing, service.to_read(signing))


@router.post(
    "/residents/{resident_id}/contacts",
    status_code=status.HTTP_201_CREATED,
    summary="Record a contact with a signed resident",
    responses={
        200: {"model": ContactRead, "description": "Already recorded with this id (a safe retry)"},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def record_contact(
    db: DbSession, principal: ResidentsWrite, pii: Pii, resident_id: uuid.UUID, body: ContactCreate, response: Response
) -> ContactRead:
    """By a current member of the resident's signing team (else 403 `not_team_member`); notes are stored encrypted."""
    (contact, path), created = await service.record_contact(db, principal, resident_id, body, pii=pii)
    body_ = service.contact_read(principal, contact, path, pii)
    return answer(response, contact, body_, location=f"/contacts/{contact.id}", created=created)


@router.get(
    "/residents/{resident_id}/contacts",
    summary="A resident's contacts",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_resident_contacts(
    db: DbSession,
    principal: ResidentsRead,
    pii: Pii,
    resident_id: uuid.UUID,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[ContactRead]:
    """Newest first; sentinels never see the notes."""
    rows, path, next_cursor = await service.list_contacts(db, principal, resident_id, cursor=cursor, limit=limit)
    return Page[ContactRead](
        items=[service.contact_read(principal, c, path, pii) for c in rows], next_cursor=next_cursor
    )


@router.get("/contacts/{contact_id}", summary="Read one contact", responses=problem_responses(401, 403, 404, 422))
async def read_contact(db: DbSession, principal: ResidentsRead, pii: Pii, contact_id: uuid.UUID) -> ContactRead:
    """404 outside the caller's scope; sentinels never see the notes."""
    contact, path = await service.get_contact(db, principal, contact_id)
    return service.contact_read(principal, contact, path, pii)


@router.get(
    "/teams/{team_id}/signing-coverage",
    summary="Signing coverage of a team",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_team_signing_coverage(db: DbSession, principal: ResidentsRead, team_id: uuid.UUID) -> TeamCoverage:
    """Residents in the team's area today and those signed with it, overall and per key population (caller's scope)."""
    return await service.team_coverage(db, principal, team_id)


@router.get(
    "/signing-coverage/villages",
    summary="Signing coverage per village",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_village_signing_coverage(
    db: DbSession,
    principal: ResidentsRead,
    org_unit_id: Annotated[uuid.UUID, Query(description="A district, town or village: its villages are listed.")],
) -> VillageCoverageList:
    """Per village: residents, those signed with any team today, and the same per key population."""
    return await service.village_coverage(db, principal, org_unit_id)


@router.get(
    "/teams/{team_id}/residents",
    summary="A team's residents",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_team_residents(
    db: DbSession,
    principal: ResidentsRead,
    team_id: uuid.UUID,
    relation: Annotated[
        TeamResidentRelation,
        Query(description="`signed`: signed with the team today; `area`: living in a grid it is responsible for."),
    ] = TeamResidentRelation.SIGNED,
    population: Annotated[
        KeyPopulation | None, Query(description="Only residents in this key population today.")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[ResidentRead]:
    """By name, masked as everywhere; only residents in the caller's scope."""
    rows, next_cursor = await service.team_residents(
        db, principal, team_id, relation=relation, population=population, cursor=cursor, limit=limit
    )
    return Page[ResidentRead](
        items=[residents_service.to_read(principal, r, p) for r, p in rows], next_cursor=next_cursor
    )


@router.get(
    "/teams/{team_id}/contacts-due",
    summary="Signed residents not contacted this quarter",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_team_contacts_due(
    db: DbSession, principal: ResidentsRead, team_id: uuid.UUID, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> DueContactPage:
    """The quarterly-contact duty: residents signed with the team whom no contact reached this quarter (China time)."""
    return await service.due_contacts(db, principal, team_id, cursor=cursor, limit=limit)
