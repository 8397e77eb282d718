"""Deadlines and the steps they have taken."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, TimestampMixin, new_id


class DeadlineState(StrEnum):
    OPEN = "open"
    MET = "met"
    BREACHED = "breached"
    CANCELLED = "cancelled"


class Deadline(TimestampMixin, Base):
    """One clock on one subject. ``next_step_at`` is NULL once nothing is left to do.

    The partial index on ``next_step_at`` holds only clocks with work ahead, so the
    sweeper's cost follows the number of due steps, not the number of deadlines.
    """

    __tablename__ = "deadline"
    __table_args__ = (
        UniqueConstraint("subject_type", "subject_id", "kind"),
        CheckConstraint("state in ('open','met','breached','cancelled')", name="state"),
        Index(
            "ix_deadline_next_step_at_pending",
            "next_step_at",
            postgresql_where=text("next_step_at IS NOT NULL"),
        ),
        Index("ix_deadline_district_id_due_at", "district_id", "due_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(64))
    policy: Mapped[dict[str, Any]] = mapped_column(JSONB)
    district_id: Mapped[uuid.UUID]
    started_at: Mapped[datetime]
    due_at: Mapped[datetime]
    met_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    # Set while the clock is paused (its subject is on hold): no step fires; resuming shifts the rest.
    paused_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(16), default=DeadlineState.OPEN.value)
    next_step_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))


class DeadlineStep(Base):
    """A step that happened. The primary key (deadline_id, step) is what makes it happen once."""

    __tablename__ = "deadline_step"

    deadline_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deadline.id", ondelete="CASCADE"), primary_key=True)
    step: Mapped[str] = mapped_column(String(32), primary_key=True)
    scheduled_at: Mapped[datetime]
    fired_at: Mapped[datetime]
    recipient_ids: Mapped[list[str]] = mapped_column(JSONB, default=list)
