"""Access tokens (short-lived JWT) and refresh tokens (opaque, rotating).

Expiry is checked against ``core.clock`` rather than the wall clock PyJWT would use,
so tests can move past it without waiting.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from services.core import clock
from services.core.errors import InvalidToken

_ALGORITHM = "HS256"


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    expires_at: datetime


def encode_access(
    *, key: str, issuer: str, user_id: uuid.UUID, session_id: uuid.UUID, ttl: timedelta
) -> tuple[str, datetime]:
    """A signed access token and the instant it expires."""
    issued = clock.now()
    expires = issued + ttl
    claims = {
        "iss": issuer,
        "sub": str(user_id),
        "sid": str(session_id),
        "iat": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": uuid.uuid4().hex,
        "typ": "access",
    }
    return jwt.encode(claims, key, algorithm=_ALGORITHM), expires


def decode_access(token: str, *, key: str, issuer: str) -> AccessClaims:
    """Verify signature, issuer, type and expiry; any failure is 401 ``invalid_token``."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[_ALGORITHM],
            issuer=issuer,
            options={
                "verify_exp": False,
                "verify_iat": False,
                "require": ["exp", "sub", "sid", "iss"],
            },
        )
        if claims.get("typ") != "access":
            raise InvalidToken("not an access token")
        user_id = uuid.UUID(str(claims["sub"]))
        session_id = uuid.UUID(str(claims["sid"]))
        expires_at = datetime.fromtimestamp(int(claims["exp"]), tz=clock.now().tzinfo)
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidToken("the access token is malformed or its signature is wrong") from exc
    if expires_at <= clock.now():
        raise InvalidToken("the access token has expired")
    return AccessClaims(user_id=user_id, session_id=session_id, expires_at=expires_at)


def new_refresh_token() -> tuple[str, str]:
    """A fresh refresh token and the hash to store for it."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    """SHA-256 hex of a refresh token (high-entropy, so no salt or slow hash is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()
