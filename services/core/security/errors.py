"""Errors of the token endpoint."""

from __future__ import annotations

from services.core.errors import InvalidGrant


class RefreshTokenReused(InvalidGrant):
    """A rotated refresh token came back: the whole login is revoked.

    The revocation must survive the error answer, so the unit of work commits it
    (``keeps_changes``) instead of rolling back.
    """

    code = "refresh_token_reused"
    keeps_changes = True
