"""Hospital -> community transfer at discharge (两向转介): the case, or its summary, with the patient's
consent, handed to the resident's community side — the family doctor team responsible for the
resident's grid at that moment and the village's community steward, or a community social-work
station — who accept (a receipt, 转接回执; the follow-up clock starts) or decline with a reason.

The summary is sealed and read by the two sides only; supervisors see where a transfer stands.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.core import clock, lifecycle
from services.core.assignments.queries import responsible_for
from services.core.audit import service as audit
from services.core.deadlines import service as deadlines
from services.core.errors import Conflict, Forbidden, NotFound, field_error
from services.core.notifications import service as notifications
from services.core.notifications.templates import Message
from services.core.org.models import OrgUnit
from services.core.pagination import paginate_rows
from services.core.referrals.models import OPEN_STATUSES, Direction, Referral
from services.core.residents.models import Resident
from services.core.security.pii import PiiCipher
from services.core.security.roles import Permission
from services.core.socialwork import access, departments, messages, routing
from services.core.socialwork.cases import worker_ids
from services.core.socialwork.errors import CaseClosed
from services.core.socialwork.lifecycle import TRANSFER, TRANSFER_FOLLOW_UP, WORKERS_ONLY, CaseActor
from services.core.socialwork.models import (
    TRANSFER_SUMMARY,
    CaseStatus,
    SocialWorkCase,
    SocialWorkDepartment,
    Transfer,
    TransferStatus,
)
from services.core.socialwork.schemas import (
    TransferAccept,
    TransferCreate,
    TransferDecline,
    TransferFollowUp,
    TransferRead,
)

CHINA = ZoneInfo("Asia/Shanghai")
_Station = aliased(SocialWorkDepartment)
_Grid = aliased(OrgUnit)


@dataclass(frozen=True)
class ScopedTransfer:
    """A transfer loaded in the caller's scope with its case, the path of the resident's grid and the
    receiving station's institution (if it went to a station)."""

    transfer: Transfer
    case: SocialWorkCase
    grid_path: str
    station_institution_id: uuid.UUID | None


def _not_future(at: datetime, field: str) -> datetime:
    if at > clock.now():
        raise field_error(field, "lies in the future")
    return at


async def create(
    db: AsyncSession, actor: CaseActor, path: str, data: TransferCreate, *, pii: PiiCipher
) -> tuple[ScopedTransfer, bool]:
    """Offer the transfer: to the station named, or to the team responsible for the resident's grid now and
    the village's community steward. A repeat with the same id is a replay."""
    case = actor.case
    if data.id is not None and (existing := await db.get(Transfer, data.id)) is not None:
        if existing.case_id != case.id or TRANSFER_SUMMARY.open(pii, existing.id, existing.summary_enc) != data.summary:
            raise Conflict(
                f"transfer {existing.id} already exists with different content", existing_id=str(existing.id)
            )
        return await _scoped(db, existing, case), False
    if not actor.principal.can_at_institution(
        Permission.SOCIALWORK_WRITE, path, case.institution_id
    ) or not access.works_on(actor.principal, case, actor.worker_ids):
        raise Forbidden(WORKERS_ONLY)
    if case.status == CaseStatus.CLOSED.value:
        raise CaseClosed("the case is closed: reopen it first", status=case.status)
    if case.resident_id is None:
        raise field_error("body", "only a resident's case is handed to a community: the patient is not a resident")
    resident = await db.get(Resident, case.resident_id)
    assert resident is not None  # noqa: S101 - a foreign key
    _not_future(data.discharged_at, "body.discharged_at")
    _not_future(data.consent.given_at, "body.consent.given_at")
    now = clock.now()
    grid = await db.get(OrgUnit, resident.grid_id)
    assert grid is not None  # noqa: S101 - a resident lives in a grid
    assert grid.parent_id is not None  # noqa: S101 - of a village
    team_id, steward_id, station_id = None, None, None
    if data.to_department_id is not None:
        station = await departments.get(db, actor.principal, data.to_department_id, field="body.to_department_id")
        if not station.is_station or station.id == case.department_id:
            raise field_error("body.to_department_id", "not a community social-work station")
        station_id = station.id
    else:
        responsible = await responsible_for(db, grid_id=grid.id, at=now)
        if responsible.team is None:
            raise field_error(
                "body.to_department_id",
                "no family doctor team is responsible for the resident's grid: name a community social-work station",
            )
        team_id = responsible.team.id
        steward_id = responsible.community_steward.person_id if responsible.community_steward else None
    referral_id = data.referral_id
    if referral_id is not None:
        referral = await db.get(Referral, referral_id)
        if referral is None or referral.resident_id != resident.id or referral.direction != Direction.DOWNWARD:
            raise field_error("body.referral_id", "no downward referral of this resident")
    else:  # the same discharge's downward referral from this hospital, when there is one still open
        referral_id = await db.scalar(
            select(Referral.id)
            .where(
                Referral.resident_id == resident.id,
                Referral.direction == Direction.DOWNWARD.value,
                Referral.from_institution_id == case.institution_id,
                Referral.status.in_([s.value for s in OPEN_STATUSES]),
            )
            .order_by(Referral.requested_at.desc(), Referral.id)
            .limit(1)
        )
    transfer_id = data.id or uuid.uuid4()
    transfer = Transfer(
        id=transfer_id,
        case_id=case.id,
        department_id=case.department_id,
        district_id=case.district_id,
        resident_id=resident.id,
        grid_id=grid.id,
        village_id=grid.parent_id,
        status=TransferStatus.OFFERED.value,
        scope=data.scope.value,
        summary_enc=TRANSFER_SUMMARY.seal(pii, transfer_id, data.summary),
        consent_by=data.consent.given_by.value,
        consent_method=data.consent.method.value,
        consent_at=data.consent.given_at,
        to_team_id=team_id,
        to_steward_id=steward_id,
        to_department_id=station_id,
        referral_id=referral_id,
        discharged_at=data.discharged_at,
        offered_at=now,
        offered_by=actor.user_id,
    )
    db.add(transfer)
    await lifecycle.move(db, lifecycle.creating(TRANSFER, transfer, "offer"), actor_id=actor.user_id, at=now)
    await audit.record_change(
        db, actor.principal, "social_work_transfer.offered", transfer, org_path=grid.path, scope=transfer.scope
    )
    await _tell(db, transfer, await routing.transfer_audience(db, transfer, "receiving", now), "offered")
    return await _scoped(db, transfer, case), True


async def _scoped(db: AsyncSession, transfer: Transfer, case: SocialWorkCase) -> ScopedTransfer:
    grid_path = await db.scalar(select(OrgUnit.path).where(OrgUnit.id == transfer.grid_id)) or ""
    station = (
        await db.scalar(
            select(SocialWorkDepartment.institution_id).where(SocialWorkDepartment.id == transfer.to_department_id)
        )
        if transfer.to_department_id
        else None
    )
    return ScopedTransfer(transfer, case, grid_path, station)


def readable(viewer: access.Viewer) -> Select[Transfer, SocialWorkCase, str, uuid.UUID]:
    """Transfers the caller may see: through their case (the hospital side, supervision) or as the
    receiving side."""
    return (
        select(Transfer, SocialWorkCase, _Grid.path, _Station.institution_id)
        .join(SocialWorkCase, SocialWorkCase.id == Transfer.case_id)
        .join(OrgUnit, OrgUnit.id == SocialWorkCase.org_unit_id)
        .join(_Grid, _Grid.id == Transfer.grid_id)
        .outerjoin(_Station, _Station.id == Transfer.to_department_id)
        .where(
            or_(
                access.readable_clause(viewer.principal, OrgUnit.path),
                access.receiving_clause(viewer, _Station.institution_id),
            )
        )
    )


async def get_in_scope(db: AsyncSession, viewer: access.Viewer, transfer_id: uuid.UUID) -> ScopedTransfer:
    """One transfer the caller may see; 404 otherwise."""
    row = (await db.execute(readable(viewer).where(Transfer.id == transfer_id))).first()
    if row is None:
        raise NotFound(f"transfer {transfer_id} not found")
    return ScopedTransfer(row[0], row[1], row[2], row[3])


async def list_transfers(
    db: AsyncSession,
    viewer: access.Viewer,
    *,
    status: TransferStatus | None,
    case_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[ScopedTransfer], str | None]:
    """Transfers in scope, newest first."""
    stmt = readable(viewer)
    if status is not None:
        stmt = stmt.where(Transfer.status == status.value)
    if case_id is not None:
        stmt = stmt.where(Transfer.case_id == case_id)
    rows, next_cursor = await paginate_rows(
        db, stmt, keys=[(Transfer.offered_at, "desc"), (Transfer.id, "desc")], cursor=cursor, limit=limit
    )
    return [ScopedTransfer(r[0], r[1], r[2], r[3]) for r in rows], next_cursor


async def to_view(db: AsyncSession, viewer: access.Viewer, scoped: ScopedTransfer, *, pii: PiiCipher) -> TransferRead:
    """The transfer; its summary for the two sides only (the department's staff and the receiving side)."""
    t = scoped.transfer
    shown = access.whole_view(viewer.principal, scoped.case) or access.receives(
        viewer, t, scoped.station_institution_id
    )
    clock_row = await deadlines.get(db, subject_type=TRANSFER.subject_type, subject_id=t.id, kind=TRANSFER_FOLLOW_UP)
    return TransferRead(
        id=t.id,
        case_id=t.case_id,
        department_id=t.department_id,
        resident_id=t.resident_id,
        status=t.status,
        scope=t.scope,
        summary=TRANSFER_SUMMARY.open(pii, t.id, t.summary_enc) if shown else None,
        consent_by=t.consent_by,
        consent_method=t.consent_method,
        consent_at=t.consent_at,
        to_team_id=t.to_team_id,
        to_steward_id=t.to_steward_id,
        to_department_id=t.to_department_id,
        referral_id=t.referral_id,
        discharged_at=t.discharged_at,
        offered_at=t.offered_at,
        answered_at=t.answered_at,
        receipt_no=t.receipt_no,
        decline_reason=t.decline_reason,
        followed_up_at=t.followed_up_at,
        follow_up_due_at=clock_row.due_at if clock_row is not None else None,
        version=t.version,
    )


async def actor_for(db: AsyncSession, viewer: access.Viewer, scoped: ScopedTransfer) -> CaseActor:
    """The caller acting on a transfer: the hospital side's case workers, the receiving side's teams."""
    return CaseActor(
        viewer.principal, scoped.case, await worker_ids(db, scoped.case.id), viewer, scoped.station_institution_id
    )


async def accept(
    db: AsyncSession, actor: CaseActor, scoped: ScopedTransfer, data: TransferAccept, *, expected_version: int | None
) -> Transfer:
    """Accept with a receipt (转接回执); the follow-up clock starts now."""
    t = scoped.transfer
    checked = lifecycle.check(
        TRANSFER, t, "accept", actor=actor, path=scoped.grid_path, expected_version=expected_version
    )
    now = clock.now()
    receipt = f"ZJ{now.astimezone(CHINA).strftime('%Y%m%d')}-{t.id.hex[:8].upper()}"
    changes = {"answered_at": now, "answered_by": actor.user_id, "receipt_no": receipt}
    await lifecycle.move(db, checked, actor_id=actor.user_id, at=now, changes=changes, reason=data.note)
    await _tell(db, t, actor.worker_ids, "accepted")
    return t


async def decline(
    db: AsyncSession, actor: CaseActor, scoped: ScopedTransfer, data: TransferDecline, *, expected_version: int | None
) -> Transfer:
    """Decline with a reason; the hospital side arranges otherwise."""
    t = scoped.transfer
    checked = lifecycle.check(
        TRANSFER, t, "decline", actor=actor, path=scoped.grid_path, expected_version=expected_version
    )
    now = clock.now()
    changes = {"answered_at": now, "answered_by": actor.user_id, "decline_reason": data.reason.strip()}
    await lifecycle.move(db, checked, actor_id=actor.user_id, at=now, changes=changes, reason=data.reason)
    await _tell(db, t, actor.worker_ids, "declined")
    return t


async def follow_up(
    db: AsyncSession, actor: CaseActor, scoped: ScopedTransfer, data: TransferFollowUp, *, expected_version: int | None
) -> Transfer:
    """The community side followed the patient up: the clock is met as of when it happened."""
    t = scoped.transfer
    checked = lifecycle.check(
        TRANSFER, t, "follow_up", actor=actor, path=scoped.grid_path, expected_version=expected_version
    )
    now = clock.now()
    at = _not_future(data.at, "body.at") if data.at is not None else now
    if t.answered_at is not None and at < t.answered_at:
        raise field_error("body.at", "before the transfer was accepted")
    changes = {"followed_up_at": at, "follow_up_channel": data.channel.value, "follow_up_outcome": data.outcome.value}
    await lifecycle.move(db, checked, actor_id=actor.user_id, at=now, changes=changes, deadline_at=at)
    return t


async def cancel(
    db: AsyncSession, actor: CaseActor, scoped: ScopedTransfer, *, expected_version: int | None
) -> Transfer:
    """The hospital side withdraws an offer not yet answered."""
    t = scoped.transfer
    checked = lifecycle.check(
        TRANSFER, t, "cancel", actor=actor, path=scoped.grid_path, expected_version=expected_version
    )
    await lifecycle.move(db, checked, actor_id=actor.user_id, at=clock.now())
    return t


async def _tell(db: AsyncSession, transfer: Transfer, user_ids: Iterable[uuid.UUID], event: str) -> None:
    """Notify about a transfer: what happened and from which department; never the summary or the client."""
    recipients = sorted(set(user_ids))
    if not recipients:
        return
    name = await db.scalar(select(SocialWorkDepartment.name).where(SocialWorkDepartment.id == transfer.department_id))
    await notifications.notify(
        db,
        user_ids=recipients,
        kind=messages.TRANSFER,
        message=Message(messages.TRANSFER, {"event": event, "department": name}),
        subject_type=TRANSFER.subject_type,
        subject_id=transfer.id,
        dedupe_key=f"social_work_transfer:{transfer.id}:{event}",
    )
