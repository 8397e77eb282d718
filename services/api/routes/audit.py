"""The audit trail, for auditors."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services.api.deps import AuditRead, DbSession
from services.api.problems import problem_responses
from services.core.audit import queries
from services.core.audit.schemas import AuditEventRead
from services.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from services.core.text import DateTime

router = APIRouter(prefix="/audit-events", tags=["audit"])


@router.get("", summary="Query the audit trail", responses=problem_responses(401, 403, 422))
async def list_audit_events(
    db: DbSession,
    principal: AuditRead,
    actor_id: Annotated[uuid.UUID | None, Query(description="Who acted.")] = None,
    subject_id: Annotated[uuid.UUID | None, Query(description="What it was about, e.g. a resident id.")] = None,
    occurred_from: Annotated[DateTime | None, Query(description="Inclusive start.")] = None,
    occurred_before: Annotated[DateTime | None, Query(description="Exclusive end.")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[AuditEventRead]:
    """Newest first, within the auditor's scope; details never hold personal data in clear."""
    rows, next_cursor = await queries.list_events(
        db,
        principal,
        actor_id=actor_id,
        subject_id=subject_id,
        occurred_from=occurred_from,
        occurred_before=occurred_before,
        cursor=cursor,
        limit=limit,
    )
    return Page[AuditEventRead](items=[AuditEventRead.model_validate(r) for r in rows], next_cursor=next_cursor)
