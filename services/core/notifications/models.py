"""Inbox items and outbox messages."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, new_id


class InboxCounter(Base):
    """Per user, the number of the latest inbox change.

    Taking the next number locks the user's row until commit, so a user's changes commit
    in number order: a client whose cursor has passed number N can never later meet a
    change numbered below N. (Transaction ids would need the server-wide oldest running
    transaction, and one long transaction anywhere would stall every inbox.) New items are
    numbered inside COMMIT by a deferred trigger (``notification_numbered_at_commit``), so the
    row is locked for the commit alone, not for the rest of the request that wrote them.
    """

    __tablename__ = "inbox_counter"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)


class Notification(Base):
    """One message in one user's inbox. ``dedupe_key`` makes writing it twice impossible."""

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_user_id_change_seq_id", "user_id", "change_seq", "id"),
        Index(
            "ix_notification_user_id_created_at_unread",
            "user_id",
            "created_at",
            "id",
            postgresql_where=text("read_at IS NULL"),
        ),
        Index("ix_notification_user_id_created_at", "user_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(String(2000))
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[uuid.UUID | None]
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]
    change_seq: Mapped[int] = mapped_column(BigInteger)


class OutboxState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class OutboxMessage(Base):
    """A notification waiting for (or done with) one external channel. Never deleted while undelivered."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        UniqueConstraint("notification_id", "channel"),
        CheckConstraint("state in ('pending','sent','failed')", name="state"),
        Index(
            "ix_outbox_message_next_attempt_at_pending",
            "next_attempt_at",
            postgresql_where=text("state = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    notification_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notification.id"))
    channel: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    state: Mapped[str] = mapped_column(String(16), default=OutboxState.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
