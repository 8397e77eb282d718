"""Domain errors: each carries its HTTP status and a stable machine ``code``.

Core never raises HTTP exceptions; the API renders these as RFC 9457 problem+json
in one handler, so clients can branch on ``code`` and a change of wording breaks nobody.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """Base class; subclasses set ``status``, ``code`` and ``title``."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(DomainError):
    status, code, title = 409, "conflict", "Conflict"


class AlreadyExists(Conflict):
    code, title = "already_exists", "Already exists"


class PeriodOverlap(Conflict):
    """Two periods that must not overlap do; the problem names the record already there."""

    code, title = "period_overlap", "Overlapping period"


class IllegalTransition(Conflict):
    code, title = "illegal_transition", "Illegal state transition"


class PreconditionFailed(DomainError):
    status, code, title = 412, "version_mismatch", "The resource has changed"


class SyncExpired(DomainError):
    """A delta-sync cursor older than the removals still kept: the client syncs again without a cursor."""

    status, code, title = 410, "sync_expired", "Start the sync over"


class PreconditionRequired(DomainError):
    status, code, title = 428, "if_match_required", "If-Match is required"


class Unauthenticated(DomainError):
    status, code, title = 401, "unauthenticated", "Authentication required"


class InvalidToken(Unauthenticated):
    code, title = "invalid_token", "Invalid or expired token"


class InvalidGrant(DomainError):
    status, code, title = 400, "invalid_grant", "Invalid grant"


class InvalidClient(DomainError):
    status, code, title = 401, "invalid_client", "Invalid client"


class Forbidden(DomainError):
    status, code, title = 403, "forbidden", "Not allowed"


class ValidationFailed(DomainError):
    """A rule about the input that a schema alone cannot express; names the fields."""

    status, code, title = 422, "validation_error", "Invalid input"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]]) -> None:
        super().__init__(detail, errors=errors)


def field_error(field: str, message: str, *, detail: str | None = None) -> ValidationFailed:
    """A 422 naming one field, e.g. ``field_error("body.code", "must extend the parent's code")``."""
    return ValidationFailed(detail or f"{field}: {message}", errors=[{"field": field, "message": message}])
