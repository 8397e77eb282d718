"""Resident-specific problems."""

from __future__ import annotations

from services.core.errors import AlreadyExists, Conflict, Forbidden, ValidationFailed


class PossibleDuplicate(Conflict):
    code, title = "possible_duplicate", "Possibly a duplicate"


class IdentityNotPermitted(Forbidden):
    code, title = "identity_not_permitted", "Full identity is not visible to this role"


class IdempotencyKeyReused(ValidationFailed):
    code, title = "idempotency_key_reused", "Idempotency-Key reused with a different body"


class IdentityHeldElsewhere(AlreadyExists):
    """The identity number belongs to a resident outside the caller's area (nothing more is said).

    The attempt itself is on the record (``resident.identity_conflict``): the unit of work
    commits that trace instead of rolling it back (``keeps_changes``). Raise it before the
    request has written anything else, or that would be kept too.
    """

    keeps_changes = True
