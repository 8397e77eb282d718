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


def event(
    *,
    actor_id: uuid.UUID | None,
    action: str,
    subject_type: str,
    subject_id: uuid.UUID | None,
    org_path: str | None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The row ``record`` appends, for a writer that inserts it within a larger statement (same rules:
    ``org_path`` scopes it for auditors, ``details`` never holds personal data in clear)."""
    return {
        "occurred_at": clock.now(),
        "actor_id": actor_id,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "org_path": org_path,
        "request_id": current_request_id(),
        "details": details or {},
    }


async def record(
    db: AsyncSession,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    subject_type: str,
    subject_id: uuid.UUID | None,
    org_path: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one event; ``details`` must never hold personal data in clear.

    ``org_path`` is the path of the subject's org unit (``OrgUnit.path``), which scopes the event
    for auditors: required, so no new call site can forget it; None only for events about no org
    unit at all."""
    row = event(
        actor_id=actor_id,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        org_path=org_path,
        details=details,
    )
    db.add(AuditEvent(**row))
    await db.flush()


async def record_change(
    db: AsyncSession, principal: Principal, action: str, subject: Any, *, org_path: str, **details: Any
) -> None:
    """Audit a change made by ``principal`` to ``subject`` (its org unit's path ``org_path``); the subject
    type is the action's prefix (``team.updated`` -> ``team``). Details are stringified and hold no personal data."""
    await record(
        db,
        actor_id=principal.user_id,
        action=action,
        subject_type=action.split(".")[0],
        subject_id=subject.id,
        org_path=org_path,
        details={k: str(v) for k, v in details.items()},
    )
