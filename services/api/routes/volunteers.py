"""Volunteers (志愿者) of social-work departments: registration and pairing (双工), shifts, service hours,
their totals and workbook, what supervisors should chase; group and community work sessions."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status

from services.api.deps import CurrentPrincipal, DbSession, IfMatchLater, answer, require
from services.api.problems import problem_responses
from services.api.workbooks import Accept, xlsx_answer, xlsx_responses
from services.core.accounts import users
from services.core.errors import AlreadyExists, Forbidden, IllegalTransition, field_error
from services.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from services.core.security.principal import Principal
from services.core.security.roles import Permission
from services.core.text import Date, Instant
from services.core.volunteers import export, hours, metrics, repository, sessions, shifts, volunteers
from services.core.volunteers.models import (
    GroupSession,
    HoursStatus,
    SessionKind,
    ShiftStatus,
    Skill,
    Volunteer,
    VolunteerHours,
    VolunteerShift,
)
from services.core.volunteers.schemas import (
    Attention,
    HoursCreate,
    HoursRead,
    HoursReject,
    HoursTotals,
    SessionCreate,
    SessionRead,
    ShiftCreate,
    ShiftRead,
    ShiftReason,
    ShiftSchedule,
    VolunteerCreate,
    VolunteerRead,
    VolunteerUpdate,
)

router = APIRouter(tags=["volunteers"])

Cursor = Annotated[str | None, Query(max_length=500)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
VolunteersRead = Annotated[Principal, Depends(require(Permission.VOLUNTEERS_READ))]
VolunteersWrite = Annotated[Principal, Depends(require(Permission.VOLUNTEERS_WRITE))]

CHANGE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422, 428, errors=(IllegalTransition,))
MAX_PERIOD_DAYS = 400
# Periods lie in 2000-2099: said as a pattern, as JSON Schema has no minimum for a date.
_IN_RANGE: dict[str, Any] = {"pattern": "^20[0-9]{2}-"}


async def _reader(principal: CurrentPrincipal) -> Principal:
    """Department records (``volunteers:read``) or a volunteer's own (``volunteers:submit_hours``)."""
    if not repository.may_read(principal):
        raise Forbidden("this account may not read volunteers' records")
    return principal


async def _hours_writer(principal: CurrentPrincipal) -> Principal:
    """A social worker recording hours, or a volunteer submitting their own."""
    if not (principal.can(Permission.VOLUNTEERS_WRITE) or principal.can(Permission.VOLUNTEERS_SUBMIT_HOURS)):
        raise Forbidden("this account may not submit volunteer hours")
    return principal


OwnOrRead = Annotated[Principal, Depends(_reader)]
HoursWriter = Annotated[Principal, Depends(_hours_writer)]


def _retry(model: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model, "description": "Already created with this id (a safe retry)"}}


def _period(starts_on: date, ends_on: date) -> None:
    if ends_on < starts_on:
        raise field_error("query.to", "must not be before `from`")
    if (ends_on - starts_on) > timedelta(days=MAX_PERIOD_DAYS):
        raise field_error("query.to", f"a period spans at most {MAX_PERIOD_DAYS} days")


From = Annotated[Date, Query(alias="from", description="First day (China's calendar).", json_schema_extra=_IN_RANGE)]
To = Annotated[
    Date, Query(description="Last day, inclusive; not before `from`, at most 400 days on.", json_schema_extra=_IN_RANGE)
]


# --- volunteers ---------------------------------------------------------------------------------


@router.post(
    "/volunteers",
    status_code=status.HTTP_201_CREATED,
    summary="Register a volunteer with a social-work department",
    responses={**_retry(VolunteerRead), **problem_responses(401, 403, 404, 409, 422, errors=(AlreadyExists,))},
)
async def register_volunteer(
    db: DbSession, principal: VolunteersWrite, body: VolunteerCreate, response: Response
) -> VolunteerRead:
    """Skills, certificates with their expiry, usual free half days, the social worker they pair with (双工)."""
    row, was_created = await volunteers.register(db, principal=principal, data=body)
    return answer(response, row, volunteers.to_read(row), location=f"/volunteers/{row.id}", created=was_created)


@router.get("/volunteers", summary="List volunteers", responses=problem_responses(401, 403, 422))
async def list_volunteers(
    db: DbSession,
    principal: OwnOrRead,
    department_id: uuid.UUID | None = None,
    skill: Skill | None = None,
    paired_user_id: Annotated[uuid.UUID | None, Query(description="Those paired with this social worker")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[VolunteerRead]:
    """By name; a volunteer's own login sees their own record only."""
    rows, next_cursor = await volunteers.list_volunteers(
        db,
        principal=principal,
        department_id=department_id,
        skill=skill.value if skill else None,
        paired_user_id=paired_user_id,
        cursor=cursor,
        limit=limit,
    )
    return Page[VolunteerRead](items=[volunteers.to_read(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/volunteers/attention",
    summary="Volunteers idle for 30 days and hours unverified for 14",
    responses=problem_responses(401, 403, 422),
)
async def volunteers_needing_attention(
    db: DbSession,
    principal: VolunteersRead,
    department_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = MAX_LIMIT,
) -> Attention:
    """For the supervisor: volunteers with no verified service in the last 30 days (registered before
    then), and entries submitted 14 or more days ago still waiting for a decision; oldest first."""
    return await hours.attention(db, principal=principal, department_id=department_id, limit=limit)


@router.get("/volunteers/{volunteer_id}", summary="One volunteer", responses=problem_responses(401, 403, 404, 422))
async def get_volunteer(
    db: DbSession, principal: OwnOrRead, volunteer_id: uuid.UUID, response: Response
) -> VolunteerRead:
    """Certificates are marked expired against today's date in China."""
    row, _ = await repository.get(db, principal, Volunteer, volunteer_id, "volunteer")
    return answer(response, row, volunteers.to_read(row))


@router.patch(
    "/volunteers/{volunteer_id}",
    summary="Change a volunteer's skills, certificates, availability or pair",
    responses=problem_responses(401, 403, 404, 412, 422, 428),
)
async def update_volunteer(
    db: DbSession,
    principal: VolunteersWrite,
    volunteer_id: uuid.UUID,
    body: VolunteerUpdate,
    version: IfMatchLater,
    response: Response,
) -> VolunteerRead:
    """Send If-Match with the version you read; `paired_user_id: null` unpairs."""
    row = await volunteers.update(
        db, principal=principal, volunteer_id=volunteer_id, data=body, expected_version=version
    )
    return answer(response, row, volunteers.to_read(row))


# --- shifts -----------------------------------------------------------------------------------


@router.post(
    "/volunteer-shifts",
    status_code=status.HTTP_201_CREATED,
    summary="Offer a volunteer shift or task",
    responses={**_retry(ShiftRead), **problem_responses(401, 403, 404, 409, 422)},
)
async def offer_volunteer_shift(
    db: DbSession, principal: VolunteersWrite, body: ShiftCreate, response: Response
) -> ShiftRead:
    """Status `offered`; at most 24 hours long."""
    row, was_created = await shifts.offer(db, principal=principal, data=body)
    return answer(
        response, row, ShiftRead.model_validate(row), location=f"/volunteer-shifts/{row.id}", created=was_created
    )


@router.get("/volunteer-shifts", summary="List volunteer shifts", responses=problem_responses(401, 403, 422))
async def list_volunteer_shifts(
    db: DbSession,
    principal: OwnOrRead,
    department_id: uuid.UUID | None = None,
    volunteer_id: uuid.UUID | None = None,
    status: ShiftStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[ShiftRead]:
    """Soonest first; a volunteer's own login sees their own shifts."""
    rows, next_cursor = await shifts.list_shifts(
        db,
        principal=principal,
        department_id=department_id,
        volunteer_id=volunteer_id,
        status=status,
        cursor=cursor,
        limit=limit,
    )
    return Page[ShiftRead](items=[ShiftRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/volunteer-shifts/{shift_id}", summary="One volunteer shift", responses=problem_responses(401, 403, 404, 422)
)
async def get_volunteer_shift(
    db: DbSession, principal: OwnOrRead, shift_id: uuid.UUID, response: Response
) -> ShiftRead:
    """With its version as ETag."""
    row, _ = await repository.get(db, principal, VolunteerShift, shift_id, "shift")
    return answer(response, row, ShiftRead.model_validate(row))


@router.post(
    "/volunteer-shifts/{shift_id}/schedule", summary="Give an offered shift to a volunteer", responses=CHANGE_ERRORS
)
async def schedule_volunteer_shift(
    db: DbSession,
    principal: VolunteersWrite,
    shift_id: uuid.UUID,
    body: ShiftSchedule,
    version: IfMatchLater,
    response: Response,
) -> ShiftRead:
    """`offered` -> `scheduled`; the volunteer is registered with the shift's department."""
    row = await shifts.schedule(db, principal=principal, shift_id=shift_id, data=body, expected_version=version)
    return answer(response, row, ShiftRead.model_validate(row))


async def _shift_change(
    db: DbSession,
    principal: Principal,
    shift_id: uuid.UUID,
    action: str,
    body: ShiftReason,
    version: int | None,
    response: Response,
) -> ShiftRead:
    row = await shifts.change(
        db, principal=principal, shift_id=shift_id, action=action, data=body, expected_version=version
    )
    return answer(response, row, ShiftRead.model_validate(row))


_NOT_STARTED = problem_responses(401, 403, 404, 409, 412, 422, 428, errors=(IllegalTransition, shifts.ShiftNotStarted))


@router.post("/volunteer-shifts/{shift_id}/attend", summary="The volunteer came", responses=_NOT_STARTED)
async def attend_volunteer_shift(
    db: DbSession,
    principal: VolunteersWrite,
    shift_id: uuid.UUID,
    body: ShiftReason,
    version: IfMatchLater,
    response: Response,
) -> ShiftRead:
    """`scheduled` -> `attended`, once the shift has begun (409 `shift_not_started` before)."""
    return await _shift_change(db, principal, shift_id, "attend", body, version, response)


@router.post("/volunteer-shifts/{shift_id}/no-show", summary="The volunteer did not come", responses=_NOT_STARTED)
async def no_show_volunteer_shift(
    db: DbSession,
    principal: VolunteersWrite,
    shift_id: uuid.UUID,
    body: ShiftReason,
    version: IfMatchLater,
    response: Response,
) -> ShiftRead:
    """`scheduled` -> `no_show`, once the shift has begun."""
    return await _shift_change(db, principal, shift_id, "no_show", body, version, response)


@router.post("/volunteer-shifts/{shift_id}/cancel", summary="Cancel a shift", responses=CHANGE_ERRORS)
async def cancel_volunteer_shift(
    db: DbSession,
    principal: VolunteersWrite,
    shift_id: uuid.UUID,
    body: ShiftReason,
    version: IfMatchLater,
    response: Response,
) -> ShiftRead:
    """From `offered` or `scheduled`."""
    return await _shift_change(db, principal, shift_id, "cancel", body, version, response)


# --- hours ------------------------------------------------------------------------------------


@router.post(
    "/volunteer-hours",
    status_code=status.HTTP_201_CREATED,
    summary="Submit or record volunteer hours",
    responses={**_retry(HoursRead), **problem_responses(401, 403, 404, 409, 422, errors=(AlreadyExists,))},
)
async def submit_volunteer_hours(
    db: DbSession, principal: HoursWriter, body: HoursCreate, response: Response
) -> HoursRead:
    """A volunteer submits their own (leave `volunteer_id` out); a social worker records them for a volunteer
    of their department. Status `submitted`; one live entry per attended shift."""
    row, was_created = await hours.submit(db, principal=principal, data=body)
    return answer(
        response, row, HoursRead.model_validate(row), location=f"/volunteer-hours/{row.id}", created=was_created
    )


@router.get("/volunteer-hours", summary="List volunteer hours", responses=problem_responses(401, 403, 422))
async def list_volunteer_hours(
    db: DbSession,
    principal: OwnOrRead,
    department_id: uuid.UUID | None = None,
    volunteer_id: uuid.UUID | None = None,
    status: HoursStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[HoursRead]:
    """Newest service first; a volunteer's own login sees their own entries."""
    rows, next_cursor = await hours.list_hours(
        db,
        principal=principal,
        department_id=department_id,
        volunteer_id=volunteer_id,
        status=status,
        cursor=cursor,
        limit=limit,
    )
    return Page[HoursRead](items=[HoursRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/volunteer-hours/totals",
    summary="Verified volunteer hours per volunteer, department, institution or district",
    responses=problem_responses(401, 403, 422),
)
async def volunteer_hour_totals(
    db: DbSession,
    principal: VolunteersRead,
    from_: From,
    to: To,
    by: metrics.Level = metrics.Level.VOLUNTEER,
) -> HoursTotals:
    """Every group in your scope; `verified_hours` is null when nothing was logged in the period and 0 when
    entries were logged but none verified. Computed in one SQL statement."""
    _period(from_, to)
    items = await metrics.verified_hours(db, level=by, starts_on=from_, ends_on=to, principal=principal)
    return HoursTotals(by=by.value, starts_on=from_, ends_on=to, items=items)


@router.get(
    "/volunteer-hours.xlsx",
    summary="Export volunteer hours as .xlsx",
    response_class=Response,
    responses=xlsx_responses(
        "The workbook (sheets 服务时长明细, 志愿者时长汇总; English for an `en` account)",
        "volunteer-hours-<from>-<to>.xlsx",
        *(401, 403, 422),
    ),
)
async def export_volunteer_hours(
    db: DbSession,
    principal: VolunteersRead,
    from_: From,
    to: To,
    department_id: uuid.UUID | None = None,
    accept: Accept = None,
) -> Response:
    """Each entry served in the period (China time) and each volunteer's verified total; audited."""
    _period(from_, to)
    locale = (await users.get_self(db, principal.user_id)).locale
    content = await export.export_xlsx(
        db, principal=principal, starts_on=from_, ends_on=to, department_id=department_id, locale=locale
    )
    return xlsx_answer(content, accept=accept, filename=f"volunteer-hours-{from_:%Y%m%d}-{to:%Y%m%d}.xlsx")


@router.get("/volunteer-hours/{entry_id}", summary="One hours entry", responses=problem_responses(401, 403, 404, 422))
async def get_volunteer_hours(
    db: DbSession, principal: OwnOrRead, entry_id: uuid.UUID, response: Response
) -> HoursRead:
    """With its version as ETag."""
    row, _ = await repository.get(db, principal, VolunteerHours, entry_id, "hours entry")
    return answer(response, row, HoursRead.model_validate(row))


@router.post("/volunteer-hours/{entry_id}/verify", summary="Verify submitted hours", responses=CHANGE_ERRORS)
async def verify_volunteer_hours(
    db: DbSession, principal: VolunteersWrite, entry_id: uuid.UUID, version: IfMatchLater, response: Response
) -> HoursRead:
    """`submitted` -> `verified`: they count in the totals."""
    row = await hours.decide(
        db, principal=principal, entry_id=entry_id, action="verify", data=None, expected_version=version
    )
    return answer(response, row, HoursRead.model_validate(row))


@router.post("/volunteer-hours/{entry_id}/reject", summary="Reject submitted hours", responses=CHANGE_ERRORS)
async def reject_volunteer_hours(
    db: DbSession,
    principal: VolunteersWrite,
    entry_id: uuid.UUID,
    body: HoursReject,
    version: IfMatchLater,
    response: Response,
) -> HoursRead:
    """`submitted` -> `rejected`, with the reason the volunteer will read."""
    row = await hours.decide(
        db, principal=principal, entry_id=entry_id, action="reject", data=body, expected_version=version
    )
    return answer(response, row, HoursRead.model_validate(row))


# --- group and community work -------------------------------------------------------------------


@router.post(
    "/group-sessions",
    status_code=status.HTTP_201_CREATED,
    summary="Record a group or community work session",
    responses={**_retry(SessionRead), **problem_responses(401, 403, 404, 409, 422)},
)
async def record_group_session(
    db: DbSession, principal: VolunteersWrite, body: SessionCreate, response: Response
) -> SessionRead:
    """Participants are counted; named only with their recorded consent; community work names its village."""
    row, was_created = await sessions.record(db, principal=principal, data=body)
    return answer(
        response, row, SessionRead.model_validate(row), location=f"/group-sessions/{row.id}", created=was_created
    )


@router.get(
    "/group-sessions", summary="List group and community work sessions", responses=problem_responses(401, 403, 422)
)
async def list_group_sessions(
    db: DbSession,
    principal: VolunteersRead,
    department_id: uuid.UUID | None = None,
    village_id: uuid.UUID | None = None,
    kind: SessionKind | None = None,
    held_from: Annotated[Instant | None, Query(description="Held at or after")] = None,
    held_to: Annotated[Instant | None, Query(description="Held before")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[SessionRead]:
    """Most recent first."""
    rows, next_cursor = await sessions.list_sessions(
        db,
        principal=principal,
        department_id=department_id,
        village_id=village_id,
        kind=kind,
        held_from=held_from,
        held_to=held_to,
        cursor=cursor,
        limit=limit,
    )
    return Page[SessionRead](items=[SessionRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/group-sessions/{session_id}",
    summary="One group or community work session",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_group_session(
    db: DbSession, principal: VolunteersRead, session_id: uuid.UUID, response: Response
) -> SessionRead:
    """With its version as ETag."""
    row, _ = await repository.get(db, principal, GroupSession, session_id, "session")
    return answer(response, row, SessionRead.model_validate(row))
