"""Hours a volunteer served: submitted by the volunteer (their login) or recorded by a social worker,
then verified or rejected by a social worker of the department (``lifecycle.HOURS``); and what a
supervisor should chase — volunteers idle for 30 days, entries left unverified for 14."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock, lifecycle
from services.core.audit import service as audit
from services.core.errors import AlreadyExists, Forbidden, field_error
from services.core.org.models import OrgUnit
from services.core.pagination import paginate
from services.core.replay import Created, insert_once, replayed
from services.core.security.principal import Principal
from services.core.security.roles import Permission
from services.core.volunteers import common, repository
from services.core.volunteers.lifecycle import HOURS
from services.core.volunteers.models import HoursStatus, ShiftStatus, Volunteer, VolunteerHours, VolunteerShift
from services.core.volunteers.schemas import Attention, HoursCreate, HoursReject, IdleVolunteer, StaleHours

IDLE_DAYS = 30
UNVERIFIED_DAYS = 14


async def _volunteer_for(db: AsyncSession, principal: Principal, data: HoursCreate) -> tuple[Volunteer, str, str]:
    """The volunteer whose hours these are, the path of their department, and the action: a social
    worker ``record``s for a volunteer of their department, a volunteer ``submit``s their own."""
    if data.volunteer_id is not None and principal.can(Permission.VOLUNTEERS_WRITE):
        volunteer, path = await repository.get(
            db,
            principal,
            Volunteer,
            data.volunteer_id,
            "volunteer",
            Permission.VOLUNTEERS_WRITE,
            field="body.volunteer_id",
        )
        return volunteer, path, "record"
    if not principal.can(Permission.VOLUNTEERS_SUBMIT_HOURS):
        if data.volunteer_id is None:
            raise field_error("body.volunteer_id", "name the volunteer whose hours you record")
        raise Forbidden("this account may not record volunteer hours")
    own = await db.execute(
        select(Volunteer, OrgUnit.path)
        .join(OrgUnit, OrgUnit.id == Volunteer.org_unit_id)
        .where(Volunteer.user_id == principal.user_id)
    )
    row = own.first()
    if row is None:
        raise Forbidden("this login is not registered as a volunteer")
    volunteer, path = row[0], row[1]
    if data.volunteer_id is not None and data.volunteer_id != volunteer.id:
        raise field_error("body.volunteer_id", "a volunteer submits their own hours only")
    if not principal.can_at_institution(Permission.VOLUNTEERS_SUBMIT_HOURS, path, volunteer.institution_id):
        raise Forbidden("this login no longer serves the volunteer's institution")
    return volunteer, path, "submit"


async def submit(db: AsyncSession, *, principal: Principal, data: HoursCreate) -> Created[VolunteerHours]:
    """Submit (volunteer) or record (social worker) hours; a retry with the same id and body is safe."""
    activity = data.activity.strip()
    if not activity:
        raise field_error("body.activity", "must not be blank")
    hours = Decimal(str(data.hours))
    expected = {
        "volunteer_id": data.volunteer_id,
        "shift_id": data.shift_id,
        "served_on": data.served_on,
        "hours": hours,
        "activity": activity,
    }
    replay = await replayed(
        db,
        VolunteerHours,
        data.id,
        same=expected,
        in_scope=lambda row: repository.get(db, principal, VolunteerHours, row.id, "hours entry"),
    )
    if replay is not None:
        return replay
    volunteer, path, action = await _volunteer_for(db, principal, data)
    if data.served_on > common.today():
        raise field_error("body.served_on", "hours are submitted after they are served")
    if data.shift_id is not None:
        shift = await db.scalar(select(VolunteerShift).where(VolunteerShift.id == data.shift_id).with_for_update())
        if shift is None or shift.volunteer_id != volunteer.id:
            raise field_error("body.shift_id", "not a shift of this volunteer")
        if shift.status != ShiftStatus.ATTENDED:
            raise field_error("body.shift_id", "hours are logged for an attended shift")
        live = await db.scalar(
            select(VolunteerHours.id).where(
                VolunteerHours.shift_id == shift.id,
                VolunteerHours.status != HoursStatus.REJECTED.value,
                VolunteerHours.id != data.id,
            )
        )
        if live is not None:
            raise AlreadyExists("hours for this shift are already logged", existing_id=str(live))
    now = clock.now()
    entry = VolunteerHours(
        id=data.id or uuid.uuid4(),
        volunteer_id=volunteer.id,
        shift_id=data.shift_id,
        served_on=data.served_on,
        hours=hours,
        activity=activity,
        status=HoursStatus.SUBMITTED.value,
        submitted_at=now,
        submitted_by=principal.user_id,
        department_id=volunteer.department_id,
        institution_id=volunteer.institution_id,
        org_unit_id=volunteer.org_unit_id,
        district_id=volunteer.district_id,
    )
    result = await insert_once(db, entry, same=expected)
    if result.created:
        await lifecycle.move(db, lifecycle.creating(HOURS, result.record, action), actor_id=principal.user_id, at=now)
        await audit.record_change(db, principal, f"volunteer_hours.{action}ed", result.record, org_path=path)
    return result


async def decide(
    db: AsyncSession,
    *,
    principal: Principal,
    entry_id: uuid.UUID,
    action: str,
    data: HoursReject | None,
    expected_version: int | None,
) -> VolunteerHours:
    """``verify`` or ``reject`` (with a reason) a submitted entry."""
    entry, path = await repository.get(db, principal, VolunteerHours, entry_id, "hours entry", for_update=True)
    checked = lifecycle.check(HOURS, entry, action, actor=principal, path=path, expected_version=expected_version)
    now = clock.now()
    changes: dict[str, object] = {"decided_at": now, "decided_by": principal.user_id}
    reason = None
    if data is not None:
        reason = data.reason.strip()
        if not reason:
            raise field_error("body.reason", "must not be blank")
        changes["rejection_reason"] = reason
    await lifecycle.move(db, checked, actor_id=principal.user_id, at=now, changes=changes, reason=reason)
    await audit.record_change(db, principal, f"volunteer_hours.{action}", entry, org_path=path)
    return entry


async def list_hours(
    db: AsyncSession,
    *,
    principal: Principal,
    department_id: uuid.UUID | None,
    volunteer_id: uuid.UUID | None,
    status: HoursStatus | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[VolunteerHours], str | None]:
    """Entries in scope (a volunteer's login: their own), newest service first."""
    stmt = repository.readable(principal, VolunteerHours)
    if department_id is not None:
        stmt = stmt.where(VolunteerHours.department_id == department_id)
    if volunteer_id is not None:
        stmt = stmt.where(VolunteerHours.volunteer_id == volunteer_id)
    if status is not None:
        stmt = stmt.where(VolunteerHours.status == status.value)
    keys = [(VolunteerHours.served_on, "desc"), (VolunteerHours.id, "desc")]
    return await paginate(db, stmt, keys=keys, cursor=cursor, limit=limit)


async def attention(
    db: AsyncSession, *, principal: Principal, department_id: uuid.UUID | None, limit: int
) -> Attention:
    """Volunteers registered before the idle window with no verified service in it, and entries
    submitted longer ago than the verification window and still undecided — oldest first."""
    today = common.today()
    idle_since = today - timedelta(days=IDLE_DAYS)
    last = (
        select(func.max(VolunteerHours.served_on))
        .where(VolunteerHours.volunteer_id == Volunteer.id, VolunteerHours.status == HoursStatus.VERIFIED.value)
        .correlate(Volunteer)
        .scalar_subquery()
    )
    volunteers = repository.readable(principal, Volunteer).add_columns(last.label("last_verified_on"))
    volunteers = volunteers.where(Volunteer.registered_on <= idle_since, func.coalesce(last, idle_since) <= idle_since)
    stale = repository.readable(principal, VolunteerHours).add_columns(Volunteer.name)
    stale = stale.join(Volunteer, Volunteer.id == VolunteerHours.volunteer_id).where(
        VolunteerHours.status == HoursStatus.SUBMITTED.value,
        VolunteerHours.submitted_at <= clock.now() - timedelta(days=UNVERIFIED_DAYS),
    )
    if department_id is not None:
        volunteers = volunteers.where(Volunteer.department_id == department_id)
        stale = stale.where(VolunteerHours.department_id == department_id)
    idle_rows = await db.execute(
        volunteers.order_by(last.asc().nulls_first(), Volunteer.name, Volunteer.id).limit(limit)
    )
    stale_rows = await db.execute(stale.order_by(VolunteerHours.submitted_at, VolunteerHours.id).limit(limit))
    return Attention(
        idle_days=IDLE_DAYS,
        unverified_days=UNVERIFIED_DAYS,
        idle_volunteers=[
            IdleVolunteer(id=v.id, name=v.name, department_id=v.department_id, last_verified_on=on)
            for v, on in idle_rows
        ],
        stale_hours=[
            StaleHours(
                id=h.id,
                volunteer_id=h.volunteer_id,
                volunteer_name=name,
                department_id=h.department_id,
                served_on=h.served_on,
                hours=h.hours,
                submitted_at=h.submitted_at,
            )
            for h, name in stale_rows
        ],
    )
