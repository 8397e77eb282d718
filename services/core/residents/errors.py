"""Resident-specific problems."""

from __future__ import annotations

from services.core.errors import Conflict, Forbidden, ValidationFailed


class PossibleDuplicate(Conflict):
    code, title = "possible_duplicate", "Possibly a duplicate"


class IdentityNotPermitted(Forbidden):
    code, title = "identity_not_permitted", "Full identity is not visible to this role"


class IdempotencyKeyReused(ValidationFailed):
    code, title = "idempotency_key_reused", "Idempotency-Key reused with a different body"
