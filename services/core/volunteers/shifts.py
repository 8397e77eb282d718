"""Shifts and tasks a department offers its volunteers: offered -> scheduled -> attended / no_show,
cancellable until then (``lifecycle.SHIFT``)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock, lifecycle
from services.core.audit import service as audit
from services.core.errors import Conflict, field_error
from services.core.pagination import paginate
from services.core.replay import Created, insert_once, replayed
from services.core.security.principal import Principal
from services.core.security.roles import Permission
from services.core.socialwork import departments
from services.core.volunteers import common, repository
from services.core.volunteers.lifecycle import SHIFT
from services.core.volunteers.models import ShiftStatus, Volunteer, VolunteerShift
from services.core.volunteers.schemas import ShiftCreate, ShiftReason, ShiftSchedule

MAX_LENGTH = timedelta(hours=24)


class ShiftNotStarted(Conflict):
    """Attendance is told once the shift has begun."""

    code, title = "shift_not_started", "Shift not started"


async def offer(db: AsyncSession, *, principal: Principal, data: ShiftCreate) -> Created[VolunteerShift]:
    """Offer a shift (a retry with the same id and body is safe)."""
    title = data.title.strip()
    if not title:
        raise field_error("body.title", "must not be blank")
    if data.ends_at <= data.starts_at:
        raise field_error("body.ends_at", "must be after starts_at")
    if data.ends_at - data.starts_at > MAX_LENGTH:
        raise field_error("body.ends_at", "a shift lasts at most 24 hours")
    expected = {
        "department_id": data.department_id,
        "title": title,
        "place": data.place,
        "starts_at": data.starts_at,
        "ends_at": data.ends_at,
    }
    replay = await replayed(
        db,
        VolunteerShift,
        data.id,
        same=expected,
        in_scope=lambda row: repository.get(
            db, principal, VolunteerShift, row.id, "shift", Permission.VOLUNTEERS_WRITE
        ),
    )
    if replay is not None:
        return replay
    department = await departments.get(
        db, principal, data.department_id, Permission.VOLUNTEERS_WRITE, field="body.department_id"
    )
    result = await insert_once(
        db,
        VolunteerShift(
            id=data.id or uuid.uuid4(),
            title=title,
            place=data.place,
            starts_at=data.starts_at,
            ends_at=data.ends_at,
            status=ShiftStatus.OFFERED.value,
            created_by=principal.user_id,
            **common.department_columns(department),
        ),
        same=expected,
    )
    if result.created:
        await lifecycle.move(
            db, lifecycle.creating(SHIFT, result.record, "offer"), actor_id=principal.user_id, at=clock.now()
        )
        _, path = await repository.get(db, principal, VolunteerShift, result.record.id, "shift")
        await audit.record_change(db, principal, "volunteer_shift.offered", result.record, org_path=path)
    return result


async def schedule(
    db: AsyncSession, *, principal: Principal, shift_id: uuid.UUID, data: ShiftSchedule, expected_version: int | None
) -> VolunteerShift:
    """Give an offered shift to a volunteer of the same department."""
    shift, path = await repository.get(db, principal, VolunteerShift, shift_id, "shift", for_update=True)
    checked = lifecycle.check(SHIFT, shift, "schedule", actor=principal, path=path, expected_version=expected_version)
    volunteer, _ = await repository.get(
        db, principal, Volunteer, data.volunteer_id, "volunteer", Permission.VOLUNTEERS_WRITE, field="body.volunteer_id"
    )
    if volunteer.department_id != shift.department_id:
        raise field_error("body.volunteer_id", "the volunteer is registered with another department")
    await lifecycle.move(
        db, checked, actor_id=principal.user_id, at=clock.now(), changes={"volunteer_id": volunteer.id}
    )
    await audit.record_change(db, principal, "volunteer_shift.scheduled", shift, org_path=path)
    return shift


async def change(
    db: AsyncSession,
    *,
    principal: Principal,
    shift_id: uuid.UUID,
    action: str,
    data: ShiftReason,
    expected_version: int | None,
) -> VolunteerShift:
    """``attend``, ``no_show`` (once the shift has begun) or ``cancel``, with an optional reason."""
    shift, path = await repository.get(db, principal, VolunteerShift, shift_id, "shift", for_update=True)
    checked = lifecycle.check(SHIFT, shift, action, actor=principal, path=path, expected_version=expected_version)
    now = clock.now()
    if action in ("attend", "no_show") and now < shift.starts_at:
        raise ShiftNotStarted("attendance is recorded once the shift has begun", starts_at=shift.starts_at.isoformat())
    await lifecycle.move(db, checked, actor_id=principal.user_id, at=now, reason=data.reason)
    await audit.record_change(db, principal, f"volunteer_shift.{action}", shift, org_path=path)
    return shift


async def list_shifts(
    db: AsyncSession,
    *,
    principal: Principal,
    department_id: uuid.UUID | None,
    volunteer_id: uuid.UUID | None,
    status: ShiftStatus | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[VolunteerShift], str | None]:
    """Shifts in scope (a volunteer's login: their own), soonest first."""
    stmt = repository.readable(principal, VolunteerShift)
    if department_id is not None:
        stmt = stmt.where(VolunteerShift.department_id == department_id)
    if volunteer_id is not None:
        stmt = stmt.where(VolunteerShift.volunteer_id == volunteer_id)
    if status is not None:
        stmt = stmt.where(VolunteerShift.status == status.value)
    return await paginate(db, stmt, keys=[VolunteerShift.starts_at, VolunteerShift.id], cursor=cursor, limit=limit)
