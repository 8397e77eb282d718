"""Argon2id hashing for passwords and client secrets."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong username costs as much as a wrong password.
_DUMMY = _hasher.hash("gridcare-timing-equaliser")


def hash_secret(secret: str) -> str:
    """An argon2id hash of ``secret``."""
    return _hasher.hash(secret)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    """True when ``secret`` matches; constant work whether or not a hash exists."""
    try:
        return _hasher.verify(stored_hash or _DUMMY, secret) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False
