"""Residents: records with protected identity, key-population tags, bulk import, mobile sync."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Header, Query, Response, UploadFile, status

from services.api.deps import DbSession, IfMatch, Pii, ResidentsImport, ResidentsRead, ResidentsWrite, answer
from services.api.problems import problem_responses
from services.core.errors import SyncExpired, field_error
from services.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from services.core.residents import imports, repository, service
from services.core.residents.models import KeyPopulation, RemovalReason
from services.core.residents.schemas import (
    IdentityRead,
    ImportSummary,
    ResidentCreate,
    ResidentLookup,
    ResidentRead,
    ResidentTombstone,
    ResidentUpdate,
    SyncPage,
    TagCreate,
    TagUpdate,
)

router = APIRouter(prefix="/residents", tags=["residents"])
sync_router = APIRouter(prefix="/sync", tags=["sync"])

MAX_IMPORT_BYTES = 20 * 1024 * 1024

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Any unique string per intended create. The same key with the same body is a replay: 200 "
        "with the record and `Idempotent-Replayed: true`, like any repeated create; with a different body it "
        "is 422 `idempotency_key_reused`. Keys are per account.",
    ),
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Register a resident",
    responses={
        200: {"model": ResidentRead, "description": "Already created with this id or Idempotency-Key (a replay)"},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def create_resident(
    db: DbSession,
    principal: ResidentsWrite,
    pii: Pii,
    body: ResidentCreate,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> ResidentRead:
    """409 `already_exists` (`existing` links it) for a known ID; 409 `possible_duplicate` for same name+birth+grid."""
    registered, created = await service.create(db, principal, body, pii=pii, idempotency_key=idempotency_key)
    body_ = service.to_read(principal, registered.resident, registered.grid_path)
    return answer(
        response, registered.resident, body_, location=f"/residents/{registered.resident.id}", created=created
    )


@router.get("", summary="List residents in scope", responses=problem_responses(401, 403, 422))
async def list_residents(
    db: DbSession,
    principal: ResidentsRead,
    org_unit_id: Annotated[
        uuid.UUID | None, Query(description="Only residents under this grid, village or town.")
    ] = None,
    population: Annotated[
        KeyPopulation | None, Query(description="Only residents in this key population today.")
    ] = None,
    q: Annotated[str | None, Query(max_length=50, description="Start of the name")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[ResidentRead]:
    """Residents the caller may read, by name; identity numbers and phones are masked."""
    rows, next_cursor = await service.list_residents(
        db, principal, org_unit_id=org_unit_id, population=population, q=q, cursor=cursor, limit=limit
    )
    return Page[ResidentRead](items=[service.to_read(principal, r, p) for r, p in rows], next_cursor=next_cursor)


@router.post(
    "/lookup",
    summary="Find a resident by identity number",
    responses=problem_responses(401, 403, 422),
)
async def lookup_resident(
    db: DbSession, principal: ResidentsRead, pii: Pii, body: ResidentLookup
) -> Page[ResidentRead]:
    """Exact match through the blind index; the number travels in the body so it never lands in a URL log."""
    rows = await service.lookup(db, principal, id_type=body.id_type, id_number=body.id_number, pii=pii)
    return Page[ResidentRead](items=[service.to_read(principal, r, p) for r, p in rows], next_cursor=None)


@router.post(
    "/imports",
    summary="Import residents from .xlsx or JSON lines",
    responses=problem_responses(401, 403, 413, 422),
)
async def import_residents(
    db: DbSession,
    principal: ResidentsImport,
    pii: Pii,
    file: Annotated[UploadFile, File(description="A .xlsx workbook (first sheet, header row) or .jsonl file.")],
) -> ImportSummary:
    """Per-row: good rows are stored, bad rows are listed with their field; re-running a file changes nothing."""
    content = await file.read(MAX_IMPORT_BYTES + 1)
    if len(content) > MAX_IMPORT_BYTES:
        raise field_error("body.file", f"at most {MAX_IMPORT_BYTES // (1024 * 1024)} MB")
    name = (file.filename or "").lower()
    if name.endswith(".xlsx") or content[:2] == b"PK":
        rows = imports.read_xlsx(content)
    else:
        rows = imports.read_jsonl(content)
    return await imports.import_rows(db, principal, rows, pii=pii)


@router.get("/{resident_id}", summary="Read one resident", responses=problem_responses(401, 403, 404, 422))
async def read_resident(
    db: DbSession, principal: ResidentsRead, resident_id: uuid.UUID, response: Response
) -> ResidentRead:
    """Masked identity; a sentinel gets the sentinel view. 404 outside the caller's scope."""
    resident, path = await repository.get_in_scope(db, principal, resident_id)
    return answer(response, resident, service.to_read(principal, resident, path))


@router.get(
    "/{resident_id}/identity",
    summary="Reveal a resident's full identity number and phone",
    responses=problem_responses(401, 403, 404, 422),
)
async def read_resident_identity(
    db: DbSession, principal: ResidentsRead, pii: Pii, resident_id: uuid.UUID, response: Response
) -> IdentityRead:
    """Care-team roles covering the grid only (else 403 `identity_not_permitted`); every call is audited."""
    response.headers["Cache-Control"] = "no-store"
    return await service.read_identity(db, principal, resident_id, pii=pii)


@router.patch(
    "/{resident_id}",
    summary="Change a resident",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
async def update_resident(
    db: DbSession,
    principal: ResidentsWrite,
    pii: Pii,
    resident_id: uuid.UUID,
    body: ResidentUpdate,
    version: IfMatch,
    response: Response,
) -> ResidentRead:
    """Send If-Match with the version you read: 412 when it moved on, 428 when missing."""
    resident, path = await service.update(db, principal, resident_id, body, expected_version=version, pii=pii)
    resident, path = await repository.get_in_scope(db, principal, resident.id)
    return answer(response, resident, service.to_read(principal, resident, path))


@router.post(
    "/{resident_id}/tags",
    status_code=status.HTTP_201_CREATED,
    summary="Add a key-population tag",
    responses={
        200: {"model": ResidentRead, "description": "Already added with this tag id (a safe retry)"},
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def add_resident_tag(
    db: DbSession, principal: ResidentsWrite, resident_id: uuid.UUID, body: TagCreate, response: Response
) -> ResidentRead:
    """0-6 and 65+ must agree with the birth date at `since_on`; pregnancy needs a woman. Returns the resident."""
    (resident, path), created = await service.add_tag(db, principal, resident_id, body)
    return answer(response, resident, service.to_read(principal, resident, path), created=created)


@router.patch(
    "/{resident_id}/tags/{tag_id}",
    summary="End or correct a key-population tag",
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
async def update_resident_tag(
    db: DbSession,
    principal: ResidentsWrite,
    resident_id: uuid.UUID,
    tag_id: uuid.UUID,
    body: TagUpdate,
    version: IfMatch,
    response: Response,
) -> ResidentRead:
    """If-Match names the tag's version (see `tags[].version`). Returns the resident."""
    resident, path = await service.update_tag(db, principal, resident_id, tag_id, body, expected_version=version)
    return answer(response, resident, service.to_read(principal, resident, path))


@sync_router.get(
    "/residents",
    summary="Residents changed since a cursor",
    responses=problem_responses(401, 403, 410, 422, errors=[SyncExpired]),
)
async def sync_residents(
    db: DbSession,
    principal: ResidentsRead,
    cursor: Annotated[
        str | None, Query(max_length=500, description="`next_cursor` from the last call; none at first.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> SyncPage:
    """Each change in your area once, in commit-safe order: residents in `items`, those who left in `removed`.

    Removals are kept `GRIDCARE_SYNC_TOMBSTONE_DAYS` (180 by default): a cursor older than the oldest kept is
    answered 410 `sync_expired`; sync again without a cursor and replace the copy of your area."""
    page = await service.sync_changes(db, principal, cursor=cursor, limit=limit)
    return SyncPage(
        items=[service.to_read(principal, r, p) for r, p in page.items],
        removed=[ResidentTombstone(resident_id=t.resident_id, reason=RemovalReason(t.reason)) for t in page.removed],
        next_cursor=page.next_cursor,
        has_more=page.has_more,
    )
