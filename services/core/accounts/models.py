"""Users, role grants and login sessions.

A login session is a refresh-token family: every rotation stays in the same
session, and revoking the session (logout, or reuse of a rotated token) ends every
token of that login at once, access tokens included, since each carries its ``sid``.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from services.core.db import Base, TimestampMixin, new_id


class User(TimestampMixin, Base):
    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint("kind in ('person','system')", name="kind"),
        CheckConstraint("locale in ('zh-CN','en')", name="locale"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default="person")
    secret_hash: Mapped[str] = mapped_column(String(200))
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    # The language of the messages this account receives (notifications): Chinese unless it asks for English.
    locale: Mapped[str] = mapped_column(String(8), default="zh-CN", server_default="zh-CN")
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class RoleGrant(TimestampMixin, Base):
    """A role over an org-unit subtree for a half-open period ``[starts_at, ends_at)``;
    an institution steward's grant may also name the one institution it manages."""

    __tablename__ = "role_grant"
    __table_args__ = (
        CheckConstraint("ends_at is null or ends_at > starts_at", name="period"),
        Index("ix_role_grant_user_id_starts_at", "user_id", "starts_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    role: Mapped[str] = mapped_column(String(32))
    org_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_unit.id"), index=True)
    # Narrows an institution steward's grant to one institution's teams and staff (within org_unit_id).
    institution_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("institution.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    granted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"))


class AuthSession(Base):
    __tablename__ = "auth_session"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"), index=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(32))


class RefreshToken(Base):
    """Only the SHA-256 of a refresh token is kept; ``used_at`` marks it rotated."""

    __tablename__ = "refresh_token"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("auth_session.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class AuthMarker(Base):
    """One row whose ``seq`` PostgreSQL itself bumps (statement triggers, migration 0015) whenever a login
    is revoked, an account changes or a grant is given, changed or ended, by any process or tool. An API
    process reads it at most once a second and keeps the principals it resolved while it stands still:
    a revocation takes effect everywhere within a second, and no request reads the login tables."""

    __tablename__ = "auth_marker"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
