"""Writing to the audit trail, inside the caller's unit of work (so a rolled-back
change leaves no audit row claiming it happened)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.audit.models import AuditEvent
from services.core.logging import current_request_id
from services.core.security.principal import Principal


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


async def record_change(db: AsyncSession, principal: Principal, action: str, subject: Any, **details: Any) -> None:
    """Audit a change made by ``principal`` to ``subject``; the subject type is the action's prefix
    (``team.updated`` -> ``team``). Details are stringified and must hold no personal data."""
    await record(
        db,
        actor_id=principal.user_id,
        action=action,
        subject_type=action.split(".")[0],
        subject_id=subject.id,
        details={k: str(v) for k, v in details.items()},
    )
