"""Writing to the audit trail, inside the caller's unit of work (so a rolled-back
change leaves no audit row claiming it happened)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.audit.models import AuditEvent
from services.core.logging import current_request_id


async def record(
    db: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    subject_type: str,
    subject_id: uuid.UUID | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one event; ``details`` must never hold personal data in clear."""
    db.add(
        AuditEvent(
            occurred_at=clock.now(),
            actor_id=actor_id,
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            request_id=current_request_id(),
            details=details or {},
        )
    )
    await db.flush()
