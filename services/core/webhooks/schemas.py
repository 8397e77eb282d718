"""Subscription requests and views, deliveries and attempts as a client reads them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from services.core.text import RequestModel
from services.core.webhooks.events import EventType
from services.core.webhooks.models import DeliveryStatus, DisabledReason, SubscriptionStatus
from services.core.webhooks.signing import SECRET_PATTERN

# http(s), a host, no spaces or control characters; the rest (credentials, private targets) is checked
# by core/webhooks/targets.py and answered as a 422 on body.url.
URL_PATTERN = r"^https?://[^\s/?#]+[^\s]*$"
Url = Annotated[str, Field(min_length=10, max_length=2000, pattern=URL_PATTERN)]
EventTypes = Annotated[list[EventType], Field(min_length=1, max_length=len(EventType))]
Secret = Annotated[str, Field(pattern=SECRET_PATTERN, description="`whsec_` + base64 of 24 to 64 random bytes.")]
Description = Annotated[str, Field(min_length=1, max_length=200)]


def _unique(values: list[EventType]) -> list[EventType]:
    return sorted(set(values))


class SubscriptionCreate(RequestModel):
    """Where to POST which events. The secret is made for you (or bring your own) and answered once."""

    id: uuid.UUID | None = Field(default=None, description="A client-chosen id: a replay answers the stored one.")
    institution_id: uuid.UUID | None = Field(
        default=None, description="Whose referrals; default the one institution the caller acts for."
    )
    url: Url
    event_types: EventTypes
    description: Description | None = None
    secret: Secret | None = Field(default=None, description="Default: a new random secret.")

    _unique_types = field_validator("event_types")(_unique)


class SubscriptionUpdate(RequestModel):
    """Change the URL, the event types, the description; `enabled: true` re-enables (and sends what was
    missed), `enabled: false` disables."""

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = None

    _unique_types = field_validator("event_types")(_unique)


class SecretRotate(RequestModel):
    """A new secret; the old one keeps signing beside it for ``keep_previous_hours``."""

    secret: Secret | None = Field(default=None, description="Default: a new random secret.")
    keep_previous_hours: int = Field(default=24, ge=0, le=168, description="0: the old secret stops at once.")


class SubscriptionRead(BaseModel):
    """A subscription; its secret is never shown again after the answer that made it."""

    id: uuid.UUID
    institution_id: uuid.UUID
    url: str
    event_types: list[EventType]
    description: str | None
    status: SubscriptionStatus
    disabled_reason: DisabledReason | None = Field(description="Why it is disabled; absent while enabled.")
    disabled_at: datetime | None
    secret_rotated_at: datetime | None
    previous_secret_expires_at: datetime | None = Field(
        description="While set and in the future, the previous secret signs too."
    )
    created_at: datetime
    updated_at: datetime
    version: int


class SubscriptionWithSecret(SubscriptionRead):
    """The answer to a create or a rotation: the only time the secret is shown."""

    secret: str = Field(description="The `whsec_` secret to verify `webhook-signature` with. Keep it safe.")


class DeliveryRead(BaseModel):
    """One message for this subscription: where its delivery stands."""

    message_id: str = Field(description="The `webhook-id` header: the same on every attempt.")
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="When it is tried next; absent once delivered or exhausted.")
    last_attempt_at: datetime | None
    last_status_code: int | None
    delivered_at: datetime | None
    created_at: datetime


class AttemptRead(BaseModel):
    """One HTTP attempt."""

    id: int
    message_id: str
    attempted_at: datetime
    status_code: int | None = Field(description="The receiver's status; absent when no answer came.")
    duration_ms: int
    error: str | None = Field(description="Why the attempt failed without a status (timeout, refused target...).")
