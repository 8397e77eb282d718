"""Request-scoped dependencies: settings, the unit of work, the caller, If-Match.

Auth lives here at the edge; what a principal may *see* is decided in SQL by the
core repositories (``readable``), never by filtering in Python after loading.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, Header, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.accounts import service as auth_service
from services.core.config import Settings
from services.core.db import unit_of_work
from services.core.errors import Forbidden, PreconditionRequired, Unauthenticated, field_error
from services.core.jobs import enqueue_intents, take_job_intents
from services.core.security.pii import PiiCipher, cipher_for
from services.core.security.principal import Principal
from services.core.security.roles import Permission


# The small dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in the thread
# pool, a thread hop per request for a getattr.
async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    """One unit of work per request: commit when the handler returns, roll back when it raises.

    Errors marked ``keeps_changes`` (a revoked token family, say) commit what they did first.
    """
    async with request.app.state.session_factory() as session:
        async with unit_of_work(session):
            yield session
        intents = take_job_intents(session)
    # Committed: now start the jobs it asked for. A failed enqueue is logged, never an error:
    # the sweepers find the same work in Postgres.
    await enqueue_intents(getattr(request.app.state, "redis", None), intents)


SettingsDep = Annotated[Settings, Depends(get_settings)]
# scope="function": commit before the response is sent, so a failed commit is an error answer.
DbSession = Annotated[AsyncSession, Depends(get_db, scope="function")]

bearer_scheme = HTTPBearer(auto_error=False, description="An access token from /oauth/token.")


async def authenticate(
    request: Request,
    db: DbSession,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """The caller behind the bearer token; 401 problem+json when there is none or it is bad.

    The process's principal cache spares a login seen in the last second its three-table read."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("send an access token as 'Authorization: Bearer <token>'")
    cache = getattr(request.app.state, "principals", None)
    return await auth_service.authenticate(db, settings=settings, bearer=credentials.credentials, cache=cache)


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def require(permission: Permission) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """A dependency that passes the caller through when it holds ``permission`` somewhere."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if not principal.can(permission):
            raise Forbidden(f"this account may not {permission.value}")
        return principal

    dependency.__name__ = f"require_{permission.name.lower()}"
    return dependency


OrgRead = Annotated[Principal, Depends(require(Permission.ORG_READ))]
OrgWrite = Annotated[Principal, Depends(require(Permission.ORG_WRITE))]
UsersRead = Annotated[Principal, Depends(require(Permission.USERS_READ))]
UsersWrite = Annotated[Principal, Depends(require(Permission.USERS_WRITE))]
TeamsRead = Annotated[Principal, Depends(require(Permission.TEAMS_READ))]
RosterExport = Annotated[Principal, Depends(require(Permission.ROSTER_EXPORT))]
InstitutionsWrite = Annotated[Principal, Depends(require(Permission.INSTITUTIONS_WRITE))]
PeopleWrite = Annotated[Principal, Depends(require(Permission.PEOPLE_WRITE))]
TeamsWrite = Annotated[Principal, Depends(require(Permission.TEAMS_WRITE))]
PostingsWrite = Annotated[Principal, Depends(require(Permission.POSTINGS_WRITE))]
AssignmentsRead = Annotated[Principal, Depends(require(Permission.ASSIGNMENTS_READ))]
AssignmentsWrite = Annotated[Principal, Depends(require(Permission.ASSIGNMENTS_WRITE))]
ResidentsRead = Annotated[Principal, Depends(require(Permission.RESIDENTS_READ))]
ResidentsWrite = Annotated[Principal, Depends(require(Permission.RESIDENTS_WRITE))]
ResidentsImport = Annotated[Principal, Depends(require(Permission.RESIDENTS_IMPORT))]
SigningsWrite = Annotated[Principal, Depends(require(Permission.SIGNINGS_WRITE))]
AuditRead = Annotated[Principal, Depends(require(Permission.AUDIT_READ))]
ReportsRead = Annotated[Principal, Depends(require(Permission.REPORTS_READ))]
ReportsSubmit = Annotated[Principal, Depends(require(Permission.REPORTS_SUBMIT))]
ReportsHandle = Annotated[Principal, Depends(require(Permission.REPORTS_HANDLE))]


async def get_pii(settings: SettingsDep) -> PiiCipher:
    """The PII cipher for the app's keys."""
    return cipher_for(settings)


Pii = Annotated[PiiCipher, Depends(get_pii)]

T = TypeVar("T")
# What If-Match may hold: an ETag as sent ("3"), weak (W/"3") or bare (3).
IF_MATCH_PATTERN = r'^(?:W/)?"?\d{1,9}"?$'
_ETAG = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')


def _version(if_match: str) -> int:
    match = _ETAG.match(if_match.strip())
    if match is None:
        raise field_error("header.if-match", 'expected an ETag such as "3"')
    return int(match.group(1))


IfMatchHeader = Annotated[str | None, Header(description='The version read earlier, as its ETag (`"3"`).')]


async def if_match(if_match: IfMatchHeader = None) -> int:
    """The version an update is based on; 428 when missing, 422 when unreadable."""
    if if_match is None:
        raise PreconditionRequired('send If-Match with the ETag you read, e.g. If-Match: "3"')
    return _version(if_match)


def if_match_later(if_match: IfMatchHeader = None) -> int | None:
    """The version a state change is based on, or None: the lifecycle kit answers 428 once the
    record is found in scope, so a record outside it stays 404 (422 at once when unreadable)."""
    return None if if_match is None else _version(if_match)


async def if_match_later_header(if_match: IfMatchHeader = None) -> int | None:
    """``if_match_later`` as an (inline, not thread-pooled) dependency."""
    return if_match_later(if_match)


IfMatch = Annotated[int, Depends(if_match)]
IfMatchLater = Annotated[int | None, Depends(if_match_later_header)]


class Versioned(Protocol):
    id: Any
    version: int


def etag(version: int) -> str:
    """The ETag for a record at ``version``."""
    return f'"{version}"'


def answer(
    response: Response, record: Versioned, body: T, *, location: str | None = None, created: bool | None = None
) -> T:
    """Answer ``body`` for ``record``: its ETag always; ``Location`` when given; with ``created``
    201 for a new record, 200 and ``Idempotent-Replayed: true`` for a safe retry of one that exists.
    Every route answers a record so, and the contract declares these headers wherever it is called."""
    response.headers["ETag"] = etag(record.version)
    if location is not None:
        response.headers["Location"] = location
    if created is not None:
        response.status_code = 201 if created else 200
        if not created:
            response.headers["Idempotent-Replayed"] = "true"
    return body
