"""Webhook subscriptions, the outbox of messages, one delivery per (message, subscription), its attempts.

A subscription belongs to an institution (the HIS client bound to it, or its steward, manages it) and
holds up to two signing secrets: the current one and, during a rotation, the previous one until it
expires. Both are sealed (AES-GCM, ``core.security.sealed``) and never answered again after the create
or the rotation that made them. A message is written once, in the transaction of the change it tells,
with its stable ``webhook-id``; a delivery row per enabled subscription carries the retry schedule;
every HTTP attempt leaves a row. Nothing here is ever deleted by the machinery: an exhausted delivery
stays, and a re-enabled endpoint gets it again.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, TimestampMixin, new_id
from services.core.security.sealed import sealed


class SubscriptionStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class DisabledReason(StrEnum):
    MANUAL = "manual"  # its owner turned it off
    GONE = "gone"  # the receiver answered 410 Gone
    EXHAUSTED = "exhausted"  # a message failed every attempt of the schedule


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # not tried yet (or due again after a re-enable or a redelivery)
    FAILED = "failed"  # the last attempt failed; the next one is scheduled
    DELIVERED = "delivered"  # a 2xx answer
    EXHAUSTED = "exhausted"  # every attempt failed; kept, and sent again when the endpoint is re-enabled


class WebhookSubscription(TimestampMixin, Base):
    """An institution's endpoint: where to POST which event types, signed with which secret(s)."""

    __tablename__ = "webhook_subscription"
    __table_args__ = (
        CheckConstraint("status in ('enabled','disabled')", name="status"),
        CheckConstraint(
            "disabled_reason is null or disabled_reason in ('manual','gone','exhausted')", name="disabled_reason"
        ),
        CheckConstraint("(status = 'disabled') = (disabled_at is not null)", name="disabled_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institution.id"), index=True)
    district_id: Mapped[uuid.UUID] = mapped_column(index=True)
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    description: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=SubscriptionStatus.ENABLED.value)
    disabled_reason: Mapped[str | None] = mapped_column(String(16))
    disabled_at: Mapped[datetime | None]
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    previous_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_expires_at: Mapped[datetime | None]
    secret_rotated_at: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


SECRET = sealed(WebhookSubscription.secret_enc, context="webhook.secret")
PREVIOUS_SECRET = sealed(WebhookSubscription.previous_secret_enc, context="webhook.previous_secret")


class WebhookMessage(Base):
    """One event in the outbox: the exact JSON body every subscription receives, and its ``webhook-id``."""

    __tablename__ = "webhook_message"
    __table_args__ = (Index("ix_webhook_message_created_at", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # msg_<32 hex>: the webhook-id
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)  # the exact JSON sent: {type, timestamp, data}
    # Whose subscriptions it is for: a re-enabled endpoint catches up on what it missed from here.
    institution_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()))
    created_at: Mapped[datetime]


class WebhookDelivery(Base):
    """One message for one subscription: where it stands and when it is tried next."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("message_id", "subscription_id"),
        CheckConstraint("status in ('pending','failed','delivered','exhausted')", name="status"),
        # The sweeper's query: due rows that are not finished, oldest first.
        Index(
            "ix_webhook_delivery_due",
            "next_attempt_at",
            postgresql_where="status in ('pending','failed')",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("webhook_message.id"))
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_subscription.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class WebhookAttempt(Base):
    """One HTTP attempt: when, what came back (or why nothing did), how long it took."""

    __tablename__ = "webhook_attempt"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_delivery.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
