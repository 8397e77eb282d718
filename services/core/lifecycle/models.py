"""One history table for every stateful record's transitions (reports, signings, teams, ...).

A row says who moved which record (``subject_type``, ``subject_id``) from which state to which,
when, by what action, why, and anything else worth keeping (``details``; never personal data).
``from_state`` is NULL for the transition that creates a record.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, new_id


class RecordTransition(Base):
    """A change of state of one record: who, when, from, to, by which action and why."""

    __tablename__ = "record_transition"
    __table_args__ = (Index("ix_record_transition_subject_type_subject_id_at", "subject_type", "subject_id", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    # Insertion order: two transitions in one instant (a frozen clock, one request) keep their order.
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[uuid.UUID]
    district_id: Mapped[uuid.UUID] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(String(500))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
