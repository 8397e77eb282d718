"""Logging in, rotating refresh tokens, logging out, and resolving a bearer token to a Principal."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.accounts import principals
from services.core.accounts.models import AuthMarker, AuthSession, RefreshToken, RoleGrant, User
from services.core.accounts.principals import PrincipalCache
from services.core.config import Settings
from services.core.errors import InvalidClient, InvalidGrant, InvalidToken
from services.core.org.models import OrgUnit
from services.core.security import tokens
from services.core.security.errors import RefreshTokenReused
from services.core.security.passwords import verify_secret_async
from services.core.security.principal import Grant, Principal
from services.core.security.roles import Role


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    refresh_token: str | None


async def login_with_password(db: AsyncSession, *, settings: Settings, username: str, password: str) -> IssuedTokens:
    """The OAuth2 ``password`` grant for people."""
    user = await _active_user(db, username=username, kind="person")
    if not await verify_secret_async(user.secret_hash if user else None, password) or user is None:
        raise InvalidGrant("wrong username or password")
    return await _open_session(db, settings=settings, user=user, with_refresh=True)


async def login_client(db: AsyncSession, *, settings: Settings, client_id: str, client_secret: str) -> IssuedTokens:
    """The OAuth2 ``client_credentials`` grant for systems (e.g. a hospital HIS)."""
    user = await _active_user(db, username=client_id, kind="system")
    if not await verify_secret_async(user.secret_hash if user else None, client_secret) or user is None:
        raise InvalidClient("unknown client or wrong secret")
    return await _open_session(db, settings=settings, user=user, with_refresh=False)


async def rotate_refresh_token(db: AsyncSession, *, settings: Settings, refresh_token: str) -> IssuedTokens:
    """Swap a refresh token for a new pair; a second use of the old one revokes the login."""
    now = clock.now()
    row = (
        await db.execute(
            select(RefreshToken, AuthSession, User)
            .join(AuthSession, AuthSession.id == RefreshToken.session_id)
            .join(User, User.id == AuthSession.user_id)
            .where(RefreshToken.token_hash == tokens.hash_refresh_token(refresh_token))
            .with_for_update(of=[RefreshToken, AuthSession])
        )
    ).one_or_none()
    if row is None:
        raise InvalidGrant("unknown refresh token")
    token, session, user = row
    if session.revoked_at is not None or not user.is_active:
        raise InvalidGrant("this login has been revoked")
    if token.used_at is not None:
        session.revoked_at, session.revoked_reason = now, "refresh_token_reused"
        await db.flush()
        principals.changed()
        raise RefreshTokenReused("this refresh token was already used; the whole login is revoked")
    if token.expires_at <= now:
        raise InvalidGrant("the refresh token has expired")
    token.used_at = now
    return await _issue(db, settings=settings, user=user, session=session, with_refresh=True)


async def logout(db: AsyncSession, *, session_id: uuid.UUID, reason: str = "logout") -> None:
    """Revoke a login: its refresh tokens and its access tokens stop working at once."""
    await db.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=clock.now(), revoked_reason=reason)
    )
    principals.changed()


async def revoke_all_sessions(db: AsyncSession, *, user_id: uuid.UUID, reason: str) -> None:
    """End every login of an account (new secret, disabled account)."""
    await db.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=clock.now(), revoked_reason=reason)
    )
    principals.changed()


async def authenticate(
    db: AsyncSession, *, settings: Settings, bearer: str, cache: PrincipalCache | None = None
) -> Principal:
    """Resolve an access token to a Principal with its grants active right now.

    With a ``cache`` (the API keeps one per process), a token resolved before is answered from it while
    the revocation marker stands still (read at most once a second); see ``principals``."""
    if cache is not None and cache.enabled:
        await _check_marker(db, cache)
        kept = cache.get(bearer)
        if kept is not None:
            return kept
    claims = tokens.decode_access(bearer, key=settings.signing_key(), issuer=settings.token_issuer)
    seen = principals.generation()
    principal, next_change = await load_principal(db, user_id=claims.user_id, session_id=claims.session_id)
    if cache is not None:
        until = claims.expires_at if next_change is None else min(next_change, claims.expires_at)
        cache.put(bearer, principal, loaded_generation=seen, until=until)
    return principal


async def _check_marker(db: AsyncSession, cache: PrincipalCache) -> None:
    """Read the revocation marker when the last reading is older than the cache's bound (one request
    reads it; those arriving meanwhile go on with the last value, so the bound is a second plus a read)."""
    if cache.marker_fresh() or cache.reading:
        return
    cache.reading = True
    try:
        value = await db.scalar(select(AuthMarker.seq).where(AuthMarker.id == 1))
        cache.saw_marker(int(value or 0))
    finally:
        cache.reading = False


async def load_principal(
    db: AsyncSession, *, user_id: uuid.UUID, session_id: uuid.UUID
) -> tuple[Principal, datetime | None]:
    """The login's principal, read in one statement (account, login, grants not yet ended, their units'
    paths), and the next instant one of those grants starts or ends (when the answer would change)."""
    now = clock.now()
    grants = RoleGrant.__table__.join(OrgUnit.__table__, OrgUnit.id == RoleGrant.org_unit_id)
    rows = (
        await db.execute(
            select(
                User.id,
                User.username,
                User.kind,
                User.is_active,
                AuthSession.revoked_at,
                RoleGrant.id.label("grant_id"),
                RoleGrant.role,
                RoleGrant.org_unit_id,
                RoleGrant.institution_id,
                RoleGrant.starts_at,
                RoleGrant.ends_at,
                OrgUnit.path,
            )
            .select_from(User)
            .join(AuthSession, and_(AuthSession.user_id == User.id, AuthSession.id == session_id))
            .outerjoin(
                grants, and_(RoleGrant.user_id == User.id, or_(RoleGrant.ends_at.is_(None), RoleGrant.ends_at > now))
            )
            .where(User.id == user_id)
        )
    ).all()
    if not rows:
        raise InvalidToken("the token's login no longer exists")
    first = rows[0]
    if first.revoked_at is not None:
        raise InvalidToken("this login has been revoked")
    if not first.is_active:
        raise InvalidToken("this account is disabled")
    active: list[Grant] = []
    changes: list[datetime] = []
    for r in rows:
        if r.grant_id is None:
            continue
        if r.starts_at > now:
            changes.append(r.starts_at)
            continue
        if r.ends_at is not None:
            changes.append(r.ends_at)
        active.append(
            Grant(
                id=r.grant_id,
                role=Role(r.role),
                org_unit_id=r.org_unit_id,
                org_path=r.path,
                institution_id=r.institution_id,
            )
        )
    principal = Principal(
        user_id=first.id, username=first.username, kind=first.kind, session_id=session_id, grants=tuple(active)
    )
    return principal, min(changes, default=None)


async def active_grants(db: AsyncSession, *, user_id: uuid.UUID) -> list[Grant]:
    """The user's grants in force now, each with the path of its org unit."""
    now = clock.now()
    rows = await db.execute(
        select(RoleGrant.id, RoleGrant.role, RoleGrant.org_unit_id, RoleGrant.institution_id, OrgUnit.path)
        .join(OrgUnit, OrgUnit.id == RoleGrant.org_unit_id)
        .where(
            RoleGrant.user_id == user_id,
            RoleGrant.starts_at <= now,
            or_(RoleGrant.ends_at.is_(None), and_(RoleGrant.ends_at > now)),
        )
    )
    return [
        Grant(id=r.id, role=Role(r.role), org_unit_id=r.org_unit_id, org_path=r.path, institution_id=r.institution_id)
        for r in rows
    ]


async def _active_user(db: AsyncSession, *, username: str, kind: str) -> User | None:
    return await db.scalar(select(User).where(User.username == username.lower(), User.kind == kind, User.is_active))


async def _open_session(db: AsyncSession, *, settings: Settings, user: User, with_refresh: bool) -> IssuedTokens:
    session = AuthSession(user_id=user.id, created_at=clock.now())
    db.add(session)
    await db.flush()
    return await _issue(db, settings=settings, user=user, session=session, with_refresh=with_refresh)


async def _issue(
    db: AsyncSession, *, settings: Settings, user: User, session: AuthSession, with_refresh: bool
) -> IssuedTokens:
    ttl = timedelta(seconds=settings.access_token_ttl_seconds)
    access, _ = tokens.encode_access(
        key=settings.signing_key(),
        issuer=settings.token_issuer,
        user_id=user.id,
        session_id=session.id,
        ttl=ttl,
    )
    refresh: str | None = None
    if with_refresh:
        refresh, digest = tokens.new_refresh_token()
        now = clock.now()
        db.add(
            RefreshToken(
                session_id=session.id,
                token_hash=digest,
                issued_at=now,
                expires_at=now + timedelta(seconds=settings.refresh_token_ttl_seconds),
            )
        )
        await db.flush()
    return IssuedTokens(access_token=access, expires_in=settings.access_token_ttl_seconds, refresh_token=refresh)
