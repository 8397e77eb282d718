"""The caller's own inbox: unread list, mark read, delta sync for the mobile apps."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services.api.deps import CurrentPrincipal, DbSession
from services.api.problems import problem_responses
from services.core.notifications import service
from services.core.notifications.schemas import InboxChanges, NotificationRead, ReadAllResult
from services.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page

router = APIRouter(prefix="/inbox", tags=["inbox"])


@router.get("", summary="List my inbox, newest first", responses=problem_responses(401, 422))
async def list_inbox(
    db: DbSession,
    principal: CurrentPrincipal,
    unread: Annotated[bool, Query(description="Only items not yet read.")] = False,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[NotificationRead]:
    """Only ever the caller's own items; page with `cursor`."""
    rows, next_cursor = await service.list_inbox(
        db, user_id=principal.user_id, unread_only=unread, cursor=cursor, limit=limit
    )
    return Page[NotificationRead](items=[NotificationRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/changes", summary="Sync my inbox: items created or changed since a cursor", responses=problem_responses(401, 422)
)
async def inbox_changes(
    db: DbSession,
    principal: CurrentPrincipal,
    since: Annotated[str | None, Query(max_length=500, description="The `cursor` of the last sync.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> InboxChanges:
    """Each change is delivered once, in order; store `cursor` and sync again while `has_more`."""
    rows, cursor, more = await service.changes(db, user_id=principal.user_id, since=since, limit=limit)
    return InboxChanges(items=[NotificationRead.model_validate(r) for r in rows], cursor=cursor, has_more=more)


@router.post("/read-all", summary="Mark all my inbox items read", responses=problem_responses(401))
async def read_all(db: DbSession, principal: CurrentPrincipal) -> ReadAllResult:
    """Idempotent: a second call marks nothing."""
    return ReadAllResult(marked=await service.mark_all_read(db, user_id=principal.user_id))


@router.post(
    "/{notification_id}/read", summary="Mark one of my inbox items read", responses=problem_responses(401, 404, 422)
)
async def mark_read(db: DbSession, principal: CurrentPrincipal, notification_id: uuid.UUID) -> NotificationRead:
    """Idempotent; 404 for an item that is not the caller's."""
    item = await service.mark_read(db, user_id=principal.user_id, notification_id=notification_id)
    return NotificationRead.model_validate(item)
