"""RFC 9457 problem+json: the one shape every error takes, and its OpenAPI documentation."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.api.routing import allowed_methods
from services.core.errors import DomainError
from services.core.logging import current_request_id
from services.core.referrals import fhir

log = logging.getLogger("gridcare.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"

_CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "version_mismatch",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    428: "if_match_required",
    429: "too_many_requests",
    503: "unavailable",
}


_RESERVED = frozenset({"type", "title", "status", "code", "detail", "instance", "request_id"})


class ProblemField(BaseModel):
    field: str = Field(description="Where the problem is, e.g. `body.code` or `query.cursor`.")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem; branch on ``code``, which never changes for a given problem."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI naming the problem type.")
    title: str
    status: int
    code: str = Field(description="Stable machine-readable code, e.g. `validation_error`, `version_mismatch`.")
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[ProblemField] | None = Field(default=None, description="Each field that is wrong, for 422.")


# Paths whose every answer carries Cache-Control: no-store and Pragma: no-cache (RFC 6749 §5.1: tokens).
NO_STORE_PATHS = frozenset({"/oauth/token"})

_DESCRIPTIONS = {
    400: "Malformed request (bad JSON, bad grant)",
    401: "Missing, expired, tampered or revoked credentials",
    403: "Authenticated, but the role does not allow this",
    404: "Not found, or outside the caller's scope",
    409: "Conflicts with the current state",
    410: "Gone: the cursor is older than what is kept; start over without it",
    412: "If-Match names a version that is no longer current",
    413: "Request body too large",
    422: "The input is invalid; `errors` names each field",
    428: "If-Match is required for this change",
    429: "Too many attempts; see Retry-After",
    503: "Unavailable just now (the database cannot be reached, or a change collided with another); "
    "nothing was changed, retry after `Retry-After`",
}


def problem_responses(*statuses: int, errors: Sequence[type[DomainError]] = ()) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting problem+json answers; ``errors`` name the codes a status carries."""
    codes: dict[int, list[str]] = {}
    for error in errors:
        codes.setdefault(error.status, []).append(error.code)
    return {
        status: {
            "description": _DESCRIPTIONS.get(status, "Problem")
            + (f" (`code`: {', '.join(f'`{c}`' for c in codes[status])})" if status in codes else ""),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def problem(
    status: int,
    *,
    code: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """Build a problem+json response; ``extra`` members never overwrite the standard ones.

    On the FHIR face (``/fhir/...``) the same error is a FHIR ``OperationOutcome`` instead.
    """
    code = code or _CODE_BY_STATUS.get(status, "error")
    if instance is not None and instance.startswith(FHIR_PREFIX):
        fields = [str(e["field"]) for e in (extra or {}).get("errors") or [] if isinstance(e, dict) and "field" in e]
        outcome = fhir.operation_outcome(status, code=code, detail=detail or title, fields=fields or None)
        return JSONResponse(outcome, status_code=status, media_type=fhir.FHIR_MEDIA_TYPE, headers=headers)
    body: dict[str, Any] = {
        "type": f"urn:gridcare:problem:{code}",
        "title": title or code.replace("_", " ").capitalize(),
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    rid = current_request_id()
    if rid:
        body["request_id"] = rid
    body.update({k: v for k, v in (extra or {}).items() if v is not None and k not in _RESERVED})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


FHIR_PREFIX = "/fhir/"


def _field_name(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into problem+json."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if exc.status == 401 else {}
        extra = dict(exc.extra)
        if "retry_after_seconds" in extra:
            headers["Retry-After"] = str(extra["retry_after_seconds"])
        if exc.code in ("invalid_grant", "invalid_client", "refresh_token_reused"):
            extra.setdefault("error", "invalid_client" if exc.code == "invalid_client" else "invalid_grant")
        return problem(
            exc.status,
            code=exc.code,
            title=exc.title,
            detail=exc.detail,
            instance=request.url.path,
            headers=headers,
            extra=extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return problem(
                400,
                code="malformed_json",
                title="Malformed JSON",
                detail="the body is not valid JSON",
                instance=request.url.path,
            )
        fields = [{"field": _field_name(tuple(e.get("loc", ()))), "message": str(e.get("msg", ""))} for e in errors]
        detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        return problem(
            422,
            code="validation_error",
            title="Invalid input",
            detail=detail,
            instance=request.url.path,
            extra={"errors": fields},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers) if exc.headers else {}
        if exc.status_code == 405:
            # Starlette names only the first route of the path it tried; list every route's methods.
            headers["Allow"] = ", ".join(allowed_methods(request.app.routes, request.url.path))
        return problem(exc.status_code, detail=str(exc.detail), instance=request.url.path, headers=headers or None)

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, _exc: StaleDataError) -> JSONResponse:
        return problem(
            412,
            code="version_mismatch",
            title="The resource has changed",
            detail="another change landed first; re-read and retry",
            instance=request.url.path,
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("integrity error", extra={"constraint": getattr(exc.orig, "constraint_name", None)})
        return problem(
            409,
            code="conflict",
            title="Conflict",
            detail="the change conflicts with existing data",
            instance=request.url.path,
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(SQLAlchemyTimeoutError)
    @app.exception_handler(OSError)
    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable", extra={"error": type(exc).__name__})
        return database_unavailable(request.url.path)

    @app.exception_handler(DBAPIError)
    async def _dbapi(request: Request, exc: DBAPIError) -> JSONResponse:
        sqlstate = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")
        if exc.connection_invalidated or sqlstate.startswith(("08", "57")):
            return database_unavailable(request.url.path)
        if sqlstate in ("40001", "40P01"):  # serialization failure, deadlock: nothing was changed
            return problem(
                503,
                code="retry",
                title="Try again",
                detail="the change collided with another one and was not made; retry it",
                instance=request.url.path,
                headers={"Retry-After": "1"},
            )
        if sqlstate.startswith("22"):  # data exception: a value PostgreSQL cannot take
            return problem(
                422,
                code="invalid_value",
                title="Invalid value",
                detail="a value could not be stored (out of range or invalid characters)",
                instance=request.url.path,
            )
        raise exc


def database_unavailable(instance: str) -> JSONResponse:
    """503 with Retry-After: the database cannot be reached just now; the request changed nothing."""
    return problem(
        503,
        code="database_unavailable",
        title="Database unavailable",
        detail="the database cannot be reached right now; nothing was changed, retry shortly",
        instance=instance,
        headers={"Retry-After": "5"},
    )


def internal_error(instance: str) -> JSONResponse:
    """The answer for a bug: no details, the request id to quote."""
    return problem(
        500,
        code="internal_error",
        title="Internal error",
        detail="something went wrong on our side; quote the request id",
        instance=instance,
    )
