"""Audit events. The table refuses UPDATE, DELETE and TRUNCATE by trigger (see the
migration), so not even a bug in the app, or a hurried DBA using the app's role,
can rewrite history.

``org_path`` is the path of the org unit the event is about (a resident's grid, a team's
unit, an account's home unit), copied at record time: auditors are scoped on it with the
same prefix rule as every other row, whatever the subject's type, and a record moved or
deleted later leaves its history where it happened."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Identity, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_actor_id_occurred_at", "actor_id", "occurred_at"),
        Index("ix_audit_event_subject_id_occurred_at", "subject_id", "occurred_at"),
        Index("ix_audit_event_org_path_prefix", "org_path", postgresql_ops={"org_path": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[uuid.UUID | None]
    org_path: Mapped[str | None] = mapped_column(String(200))  # None: about no org unit (seen by no auditor)
    request_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
