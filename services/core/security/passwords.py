"""Argon2id hashing for passwords and client secrets."""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


@functools.cache
def _dummy() -> str:
    """Verified against when the user does not exist, so a wrong username costs as much as a wrong password.

    Hashed on first use rather than at import: every process importing the accounts service (API
    processes, workers, the CLI, each test run) paid one argon2 hash, ~0.2 s of CPU, before anything.
    """
    return _hasher.hash("gridcare-timing-equaliser")


def hash_secret(secret: str) -> str:
    """An argon2id hash of ``secret``."""
    return _hasher.hash(secret)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    """True when ``secret`` matches; constant work whether or not a hash exists."""
    try:
        return _hasher.verify(stored_hash or _dummy(), secret) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


# Argon2 is slow on purpose (tens of ms of CPU); run it off the event loop, a few at a time,
# so a burst of logins cannot stall every other request of the process.
_hashing = asyncio.Semaphore(4)


async def verify_secret_async(stored_hash: str | None, secret: str) -> bool:
    """``verify_secret`` in a worker thread."""
    async with _hashing:
        return await asyncio.to_thread(verify_secret, stored_hash, secret)


async def hash_secret_async(secret: str) -> str:
    """``hash_secret`` in a worker thread."""
    async with _hashing:
        return await asyncio.to_thread(hash_secret, secret)
