"""Request and response models for tokens, users and grants."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.core.security.roles import Role
from services.core.text import DateTime, RequestModel

# The languages notifications are written in (core/notifications/templates.py).
Locale = Literal["zh-CN", "en"]


class TokenResponse(BaseModel):
    """RFC 6749 §5.1 token response."""

    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the RFC 6749 token type
    expires_in: int
    refresh_token: str | None = None


class GrantCreate(RequestModel):
    role: Role
    org_unit_id: uuid.UUID
    institution_id: uuid.UUID | None = Field(
        default=None,
        description=(
            "The one institution the grant is for (it must sit in org_unit_id): an institution steward's may name "
            "it, a referral desk's must, and a HIS client is bound to the one its grant names."
        ),
    )
    starts_at: DateTime | None = Field(default=None, description="Defaults to now.")
    ends_at: DateTime | None = None


class GrantRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    role: Role
    org_unit_id: uuid.UUID
    institution_id: uuid.UUID | None = None
    starts_at: datetime
    ends_at: datetime | None


class UserCreate(RequestModel):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    display_name: str = Field(min_length=1, max_length=100)
    kind: str = Field(default="person", pattern="^(person|system)$")
    secret: str = Field(min_length=12, max_length=200, description="Password, or client secret for a system.")
    org_unit_id: uuid.UUID = Field(description="The unit the account belongs to; who may manage it follows from this.")
    grants: list[GrantCreate] = Field(default_factory=list, max_length=20)
    locale: Locale = Field(default="zh-CN", description="The language of the account's notifications.")


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    display_name: str
    kind: str
    org_unit_id: uuid.UUID
    is_active: bool
    locale: Locale
    version: int
    grants: list[GrantRead] = Field(default_factory=list)


class UserUpdate(RequestModel):
    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    is_active: bool | None = None
    locale: Locale | None = Field(default=None, description="`zh-CN` (the default) or `en`.")
    secret: str | None = Field(default=None, min_length=12, max_length=200)


class MeRead(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str
    kind: str
    grants: list[GrantRead]
