"""Referrals: create (race-safe by client id and by the sender's identifiers), the life of a referral,
the views, and the per-institution change feed.

The life is declared in ``referrals/lifecycle.py`` (``UPWARD``, ``DOWNWARD``) and applied by the
lifecycle kit: one check order (404, 428/412, 403, 409), one ``record_transition`` history, clocks
opened, met, cancelled, paused and resumed by the transitions. Every change is published once
(``events.publish``: the webhook outbox and the change feed) in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock, lifecycle
from services.core.assignments.repository import responsibility_at
from services.core.audit import service as audit
from services.core.deadlines import service as deadlines
from services.core.deadlines.models import Deadline
from services.core.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from services.core.notifications import service as notifications
from services.core.notifications.templates import Message
from services.core.org.models import Institution, OrgUnit
from services.core.pagination import Keyset, paginate
from services.core.referrals import access, events, routing
from services.core.referrals.access import Viewer
from services.core.referrals.lifecycle import DOWNWARD, UPWARD, of
from services.core.referrals.models import (
    FOLLOW_UP_NOTES,
    OUTCOME_SUMMARY,
    REASON,
    SUMMARY,
    ConsentBy,
    ConsentMethod,
    DeclineReason,
    Direction,
    Referral,
    ReferralChange,
    ReferralIdentifier,
    ReferralStatus,
    Urgency,
)
from services.core.referrals.routing import SUBJECT
from services.core.referrals.schemas import (
    AppointmentRead,
    ConsentRead,
    DeadlineRead,
    IdentifierRead,
    Ref,
    ReferralAccept,
    ReferralBrief,
    ReferralCancel,
    ReferralChangeRead,
    ReferralChanges,
    ReferralComplete,
    ReferralCreate,
    ReferralDecline,
    ReferralEventData,
    ReferralFollowUp,
    ReferralHold,
    ReferralNote,
    ReferralRead,
    ReferralTransitionRead,
)
from services.core.reports.routing import institution_stewards, team_users
from services.core.residents.identity import normalise_id_number
from services.core.residents.models import ID_NUMBER, Resident
from services.core.security.pii import PiiCipher
from services.core.security.roles import Permission, Role
from services.core.signing.models import Signing
from services.core.teams.models import Team

# A consent recorded on a device whose clock runs a little fast is still a consent given before.
CLOCK_SKEW = timedelta(minutes=5)
KINDS = (routing.RECEIVE, routing.DECIDE, routing.NO_SHOW, routing.TAKE_OVER, routing.FOLLOW_UP)


@dataclass(frozen=True)
class CreateResult:
    referral: Referral
    grid_path: str
    status_code: int  # 201 stored, 200 a replay


def digest(pii: PiiCipher, data: ReferralCreate) -> str:
    """A keyed digest of the request (it holds clinical text: a plain hash could be guessed)."""
    return pii.blind_index("referral.request", data.model_dump_json(exclude={"id"})).hex()


# ---------------------------------------------------------------- create


async def _existing(db: AsyncSession, data: ReferralCreate) -> Referral | None:
    if data.id is not None:
        found = await db.get(Referral, data.id, populate_existing=True)
        if found is not None:
            return found
    for ident in data.identifiers:
        found = await db.scalar(
            select(Referral)
            .join(ReferralIdentifier, ReferralIdentifier.referral_id == Referral.id)
            .where(ReferralIdentifier.system == ident.system, ReferralIdentifier.value == ident.value)
            .execution_options(populate_existing=True)
        )
        if found is not None:
            return found
    return None


async def _replay(db: AsyncSession, viewer: Viewer, existing: Referral, body_digest: str) -> CreateResult:
    path = await db.scalar(select(OrgUnit.path).where(OrgUnit.id == existing.grid_id)) or ""
    visible = await db.scalar(
        select(Referral.id)
        .join(OrgUnit, OrgUnit.id == Referral.grid_id)
        .where(Referral.id == existing.id, access.readable_clause(viewer, OrgUnit.path))
    )
    if visible is None:
        raise Conflict("this referral id or identifier is taken")
    if existing.body_digest != body_digest:
        raise Conflict(
            f"referral {existing.id} was already requested with a different body",
            existing_id=str(existing.id),
            existing=f"/referrals/{existing.id}",
        )
    return CreateResult(existing, path, 200)


async def _resident(db: AsyncSession, viewer: Viewer, data: ReferralCreate, pii: PiiCipher) -> tuple[Resident, OrgUnit]:
    """The patient, in the caller's reach (404-like 422 otherwise: the id says no more than that)."""
    stmt = select(Resident, OrgUnit).join(OrgUnit, OrgUnit.id == Resident.grid_id)
    if data.resident_id is not None and data.patient is not None:
        raise field_error("body.patient", "send either resident_id or patient, not both")
    if data.resident_id is not None:
        field, stmt = "body.resident_id", stmt.where(Resident.id == data.resident_id)
    elif data.patient is not None:
        number = normalise_id_number(data.patient.id_number)
        field, stmt = "body.patient.id_number", stmt.where(Resident.id_number_bidx == ID_NUMBER.index(pii, number))
    else:
        raise field_error("body.resident_id", "name the patient: resident_id or patient")
    for resident, grid in (await db.execute(stmt)).all():
        if viewer.principal.can_at(Permission.REFERRALS_WRITE, grid.path):  # a HIS's grant covers its area too
            return resident, grid
    raise field_error(field, "no such resident in your area")


async def _team(db: AsyncSession, team_id: uuid.UUID, field: str) -> Team:
    team = await db.get(Team, team_id)
    if team is None or team.status != "active":
        raise field_error(field, "no such active team")
    return team


async def _sides(
    db: AsyncSession, viewer: Viewer, data: ReferralCreate, grid: OrgUnit, now: datetime, acting_for: uuid.UUID | None
) -> tuple[uuid.UUID, uuid.UUID | None, uuid.UUID, uuid.UUID | None]:
    """(from institution, from team, to institution, to team), checked against the caller's side."""
    writing = viewer.writing_institutions
    if data.direction == Direction.UPWARD:
        if data.to_team_id is not None:
            raise field_error("body.to_team_id", "an upward referral goes to an institution (to_institution_id)")
        team: Team | None = None
        if data.from_team_id is not None:
            team = await _team(db, data.from_team_id, "body.from_team_id")
            if team.id not in viewer.team_ids and team.institution_id not in writing:
                raise Forbidden("you may refer only for your own team or your institution's teams")
        elif len(viewer.team_ids) == 1:
            team = await _team(db, next(iter(viewer.team_ids)), "body.from_team_id")
        elif writing:
            found = await responsibility_at(db, grid_id=grid.id, at=now)
            candidate = await db.get(Team, found.team_id) if found else None
            if candidate is not None and candidate.institution_id in writing:
                team = candidate
        if team is None:
            raise field_error("body.from_team_id", "name the referring team")
        if data.to_institution_id is None:
            raise field_error("body.to_institution_id", "an upward referral names the district institution")
        target = await db.get(Institution, data.to_institution_id)
        if target is None or target.level != "district" or target.district_id != grid.district_id:
            raise field_error("body.to_institution_id", "no such district-level institution in the district")
        return team.institution_id, team.id, target.id, None
    # downward: sent by an institution's desk or HIS
    if data.from_team_id is not None or data.to_institution_id is not None:
        field = "body.from_team_id" if data.from_team_id is not None else "body.to_institution_id"
        raise field_error(field, "a downward referral goes from your institution to a team (to_team_id)")
    if acting_for is None:
        if not writing:
            raise Forbidden("a downward referral is sent by an institution's referral desk or HIS")
        if len(writing) > 1:
            raise field_error("body.direction", "you act for several institutions; send it from one of them")
        acting_for = next(iter(writing))
    if data.to_team_id is not None:
        team = await _team(db, data.to_team_id, "body.to_team_id")
    else:
        found = await responsibility_at(db, grid_id=grid.id, at=now)
        if found is None:
            raise field_error("body.to_team_id", "no team is responsible for the resident's grid: name one")
        team = await _team(db, found.team_id, "body.to_team_id")
    return acting_for, None, team.institution_id, team.id


async def create(
    db: AsyncSession,
    viewer: Viewer,
    data: ReferralCreate,
    *,
    pii: PiiCipher,
    acting_for: uuid.UUID | None = None,
    publish: bool = True,
) -> CreateResult:
    """Store a referral, start its clocks, tell the other side; a replay (same id or identifier, same
    body) answers the stored one, and ten concurrent creates make one referral."""
    if publish:
        _pending(db).clear()  # nothing left over from a request that failed
    body_digest = digest(pii, data)
    existing = await _existing(db, data)
    if existing is not None:
        return await _replay(db, viewer, existing, body_digest)
    now = clock.now()
    if data.consent.given_at > now + CLOCK_SKEW:
        raise field_error("body.consent.given_at", "lies in the future: consent comes before the referral")
    if len({(i.system, i.value) for i in data.identifiers}) != len(data.identifiers):
        raise field_error("body.identifiers", "an identifier is listed twice")
    if data.direction == Direction.UPWARD and data.discharged_at is not None:
        raise field_error("body.discharged_at", "only a downward referral has a discharge")
    resident, grid = await _resident(db, viewer, data, pii)
    from_inst, from_team, to_inst, to_team = await _sides(db, viewer, data, grid, now, acting_for)
    discharged_at = None
    if data.direction == Direction.DOWNWARD:
        discharged_at = data.discharged_at or now
        if discharged_at > now + CLOCK_SKEW:
            raise field_error("body.discharged_at", "lies in the future")
    if data.parent_id is not None:
        parent = await db.scalar(
            select(Referral.id)
            .join(OrgUnit, OrgUnit.id == Referral.grid_id)
            .where(Referral.id == data.parent_id, access.readable_clause(viewer, OrgUnit.path))
        )
        if parent is None:
            raise field_error("body.parent_id", "no such referral")
    village = await db.get(OrgUnit, grid.parent_id)
    assert village is not None  # noqa: S101 - a grid sits in a village
    assert village.parent_id is not None  # noqa: S101 - which sits in a town
    today = now.astimezone(routing.CHINA).date()
    signing_id = await db.scalar(
        select(Signing.id).where(
            Signing.resident_id == resident.id, Signing.starts_on <= today, Signing.ends_on > today
        )
    )
    referral_id = data.id or uuid.uuid4()
    values: dict[str, Any] = {
        "id": referral_id,
        "district_id": grid.district_id,
        "direction": data.direction.value,
        "status": ReferralStatus.REQUESTED.value,
        "parent_id": data.parent_id,
        "resident_id": resident.id,
        "grid_id": grid.id,
        "village_id": village.id,
        "town_id": village.parent_id,
        "signing_id": signing_id,
        "priority": signing_id is not None,
        "from_institution_id": from_inst,
        "from_team_id": from_team,
        "from_doctor": data.from_doctor,
        "to_institution_id": to_inst,
        "to_team_id": to_team,
        "to_department": data.to_department,
        "department_kind": data.department_kind.value if data.department_kind else None,
        "urgency": data.urgency.value,
        "reason_enc": REASON.seal(pii, referral_id, data.reason),
        "summary_enc": SUMMARY.seal(pii, referral_id, data.clinical_summary) if data.clinical_summary else None,
        "consent_by": data.consent.given_by.value,
        "consent_method": data.consent.method.value,
        "consent_at": data.consent.given_at,
        "consent_recorded_by": viewer.user_id,
        "requested_by": viewer.user_id,
        "requested_at": now,
        "discharged_at": discharged_at,
        "body_digest": body_digest,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    async with db.begin_nested() as savepoint:
        inserted = await db.scalar(
            insert(Referral).values(**values).on_conflict_do_nothing(index_elements=["id"]).returning(Referral.id)
        )
        taken = inserted is None
        for ident in data.identifiers if not taken else []:
            row = await db.scalar(
                insert(ReferralIdentifier)
                .values(
                    id=uuid.uuid4(),
                    referral_id=referral_id,
                    district_id=grid.district_id,
                    system=ident.system,
                    value=ident.value,
                    assigned_by=viewer.user_id,
                    assigned_at=now,
                )
                .on_conflict_do_nothing(index_elements=["system", "value"])
                .returning(ReferralIdentifier.id)
            )
            if row is None:  # a concurrent create with this identifier committed first
                taken = True
                break
        if taken:
            await savepoint.rollback()
    if taken:
        raced = await _existing(db, data)
        assert raced is not None  # noqa: S101 - the conflict says it exists
        return await _replay(db, viewer, raced, body_digest)
    referral = await db.get(Referral, referral_id, populate_existing=True)
    assert referral is not None  # noqa: S101 - just inserted
    declared = UPWARD if data.direction == Direction.UPWARD else DOWNWARD
    await lifecycle.move(db, lifecycle.creating(declared, referral, "request"), actor_id=viewer.user_id, at=now)
    if discharged_at is not None:
        await deadlines.open_deadline(
            db,
            subject_type=SUBJECT,
            subject_id=referral.id,
            kind=routing.FOLLOW_UP,
            district_id=referral.district_id,
            started_at=discharged_at,
        )
    await audit.record(
        db,
        actor_id=viewer.user_id,
        action="referral.requested",
        subject_type=SUBJECT,
        subject_id=referral.id,
        org_path=grid.path,
        details={"direction": referral.direction, "to_institution_id": str(to_inst), "priority": referral.priority},
    )
    await _tell_receiver(db, referral, now)
    _pending(db).append((referral, "referral.requested", now))
    if publish:
        await _publish_pending(db)
    return CreateResult(referral, grid.path, 201)


async def _tell_receiver(db: AsyncSession, referral: Referral, now: datetime) -> None:
    if referral.direction == Direction.UPWARD:
        users = await routing.institution_users(db, referral.to_institution_id, Role.REFERRAL_DESK, now)
        due_at = now + timedelta(hours=2)
    else:
        assert referral.to_team_id is not None  # noqa: S101 - a downward referral names its team
        users = await team_users(db, referral.to_team_id, now)
        users += await institution_stewards(db, referral.to_team_id, now)
        due_at = now + timedelta(hours=24)
    params = {
        "direction": referral.direction,
        "urgent": referral.urgency == "urgent",
        "priority": referral.priority,
        "due_at": due_at,
    }
    await _notify(db, referral, users, "requested", params)


async def _notify(
    db: AsyncSession, referral: Referral, users: list[uuid.UUID], what: str, params: dict[str, Any] | None = None
) -> None:
    """Tell ``users`` in their language (``referrals/messages.py``), naming the two institutions."""
    names = dict(
        (
            await db.execute(
                select(Institution.id, Institution.name).where(
                    Institution.id.in_([referral.from_institution_id, referral.to_institution_id])
                )
            )
        ).all()
    )
    message = Message(
        f"referral.{what}",
        {
            **(params or {}),
            "from_name": names.get(referral.from_institution_id),
            "to_name": names.get(referral.to_institution_id),
        },
    )
    await notifications.notify(
        db,
        user_ids=users,
        kind=f"referral.{what}",
        message=message,
        subject_type=SUBJECT,
        subject_id=referral.id,
        dedupe_key=f"referral:{referral.id}:{what}:{referral.version}",
    )


# ---------------------------------------------------------------- reading


async def get_in_scope(db: AsyncSession, viewer: Viewer, referral_id: uuid.UUID) -> tuple[Referral, str]:
    """One referral the caller may see, with its grid's path; 404 otherwise."""
    row = (
        await db.execute(
            select(Referral, OrgUnit.path)
            .join(OrgUnit, OrgUnit.id == Referral.grid_id)
            .where(Referral.id == referral_id, access.readable_clause(viewer, OrgUnit.path))
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None:
        raise NotFound(f"referral {referral_id} not found")
    return row[0], row[1]


async def list_referrals(
    db: AsyncSession,
    viewer: Viewer,
    *,
    direction: Direction | None = None,
    status: ReferralStatus | None = None,
    resident_id: uuid.UUID | None = None,
    identifier: tuple[str, str] | None = None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Referral], str | None]:
    """Referrals the caller may see, filtered; keyset-paged by id."""
    stmt = (
        select(Referral)
        .join(OrgUnit, OrgUnit.id == Referral.grid_id)
        .where(access.readable_clause(viewer, OrgUnit.path))
    )
    if direction is not None:
        stmt = stmt.where(Referral.direction == direction.value)
    if status is not None:
        stmt = stmt.where(Referral.status == status.value)
    if resident_id is not None:
        stmt = stmt.where(Referral.resident_id == resident_id)
    if identifier is not None:
        stmt = stmt.where(
            Referral.id.in_(
                select(ReferralIdentifier.referral_id).where(
                    ReferralIdentifier.system == identifier[0], ReferralIdentifier.value == identifier[1]
                )
            )
        )
    return await paginate(db, stmt, key=Referral.id, cursor=cursor, limit=limit)


async def identifiers_by_referral(db: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[IdentifierRead]]:
    """The identifiers of a page of referrals, in one query."""
    if not ids:
        return {}
    rows = await db.execute(
        select(ReferralIdentifier.referral_id, ReferralIdentifier.system, ReferralIdentifier.value)
        .where(ReferralIdentifier.referral_id.in_(ids))
        .order_by(ReferralIdentifier.system, ReferralIdentifier.value)
    )
    found: dict[uuid.UUID, list[IdentifierRead]] = {}
    for rid, system, value in rows.all():
        found.setdefault(rid, []).append(IdentifierRead(system=system, value=value))
    return found


def to_brief(referral: Referral, identifiers: list[IdentifierRead]) -> ReferralBrief:
    """The list view."""
    return ReferralBrief(
        id=referral.id,
        direction=Direction(referral.direction),
        status=ReferralStatus(referral.status),
        identifiers=identifiers,
        resident_id=referral.resident_id,
        from_institution_id=referral.from_institution_id,
        from_team_id=referral.from_team_id,
        to_institution_id=referral.to_institution_id,
        to_team_id=referral.to_team_id,
        urgency=Urgency(referral.urgency),
        priority=referral.priority,
        requested_at=referral.requested_at,
        version=referral.version,
    )


async def to_view(
    db: AsyncSession, viewer: Viewer, referral: Referral, grid_path: str, *, pii: PiiCipher
) -> ReferralRead:
    """The referral as this caller may read it (clinical text for the two sides only)."""
    clinical = access.clinical_view(viewer, referral, grid_path)
    names = dict(
        (
            await db.execute(
                select(Institution.id, Institution.name).where(
                    Institution.id.in_([referral.from_institution_id, referral.to_institution_id])
                )
            )
        ).all()
    )
    team_ids = [t for t in (referral.from_team_id, referral.to_team_id) if t]
    teams = dict((await db.execute(select(Team.id, Team.name).where(Team.id.in_(team_ids)))).all()) if team_ids else {}
    children = list(
        await db.scalars(select(Referral.id).where(Referral.parent_id == referral.id).order_by(Referral.id))
    )
    clocks = list(
        await db.scalars(
            select(Deadline)
            .where(Deadline.subject_type == SUBJECT, Deadline.subject_id == referral.id)
            .order_by(Deadline.started_at, Deadline.kind)
            .execution_options(populate_existing=True)
        )
    )
    history = await lifecycle.history(db, subject_type=SUBJECT, subject_id=referral.id)

    def opened(field: Any, blob: bytes | None) -> str | None:
        return field.open(pii, referral.id, blob) if clinical and blob is not None else None

    def ref(ident: uuid.UUID | None, table: dict[Any, Any]) -> Ref | None:
        return Ref(id=ident, name=table.get(ident, "")) if ident else None

    appointment = None
    if referral.appointment_at is not None:
        appointment = AppointmentRead(
            at=referral.appointment_at,
            department=referral.appointment_department,
            doctor=referral.appointment_doctor,
            bed=referral.appointment_bed,
        )
    return ReferralRead.model_validate(
        {
            "id": referral.id,
            "direction": referral.direction,
            "status": referral.status,
            "identifiers": await events.identifiers_of(db, referral.id),
            "parent_id": referral.parent_id,
            "children": children,
            "resident_id": referral.resident_id,
            "grid_id": referral.grid_id,
            "town_id": referral.town_id,
            "signed": referral.signing_id is not None,
            "priority": referral.priority,
            "from_institution": ref(referral.from_institution_id, names),
            "from_team": ref(referral.from_team_id, teams),
            "from_doctor": referral.from_doctor,
            "to_institution": ref(referral.to_institution_id, names),
            "to_team": ref(referral.to_team_id, teams),
            "to_department": referral.to_department,
            "department_kind": referral.department_kind,
            "urgency": referral.urgency,
            "clinical": clinical,
            "reason": opened(REASON, referral.reason_enc),
            "clinical_summary": opened(SUMMARY, referral.summary_enc),
            "discharge_summary": opened(OUTCOME_SUMMARY, referral.outcome_summary_enc),
            "consent": ConsentRead(
                given_by=ConsentBy(referral.consent_by),
                method=ConsentMethod(referral.consent_method),
                given_at=referral.consent_at,
                recorded_by=referral.consent_recorded_by,
            ),
            "requested_by": referral.requested_by,
            "requested_at": referral.requested_at,
            "received_at": referral.received_at,
            "decided_at": referral.decided_at,
            "appointment": appointment,
            "decline_reason": referral.decline_reason,
            "decline_note": referral.decline_note,
            "hold_reason": referral.hold_reason,
            "arrived_at": referral.arrived_at,
            "discharged_at": referral.discharged_at,
            "completed_at": referral.completed_at,
            "taken_over_at": referral.taken_over_at,
            "first_follow_up_at": referral.first_follow_up_at,
            "follow_up_channel": referral.follow_up_channel,
            "follow_up_outcome": referral.follow_up_outcome,
            "follow_up_notes": opened(FOLLOW_UP_NOTES, referral.follow_up_notes_enc),
            "cancelled_at": referral.cancelled_at,
            "cancel_reason": referral.cancel_reason,
            "deadlines": [
                DeadlineRead(
                    kind=d.kind, due_at=d.due_at, state=d.state, paused=d.paused_at is not None, met_at=d.met_at
                )
                for d in clocks
            ],
            "history": [
                ReferralTransitionRead(
                    action=t.action,
                    from_status=ReferralStatus(t.from_state) if t.from_state else None,
                    to_status=ReferralStatus(t.to_state),
                    actor_id=t.actor_id,
                    at=t.at,
                    reason=t.reason,
                )
                for t in history
            ],
            "version": referral.version,
        }
    )


# ---------------------------------------------------------------- the life of a referral
# Each change takes the referral its caller loaded in scope (the 404 is the loader's) and the
# If-Match version, possibly missing: the kit answers 428/412, then 403, then 409.


def _check(
    viewer: Viewer, referral: Referral, path: str, action: str, expected_version: int | None
) -> lifecycle.Checked[Referral]:
    return lifecycle.check(of(referral), referral, action, actor=viewer, path=path, expected_version=expected_version)


async def _apply(
    db: AsyncSession,
    viewer: Viewer,
    checked: lifecycle.Checked[Referral],
    event: str,
    *,
    changes: dict[str, Any] | None = None,
    reason: str | None = None,
    deadline_at: datetime | None = None,
) -> datetime:
    _pending(db).clear()  # one change per request: nothing left over from a request that failed
    now = clock.now()
    await lifecycle.move(
        db, checked, actor_id=viewer.user_id, at=now, changes=changes, reason=reason, deadline_at=deadline_at
    )
    _pending(db).append((checked.record, event, now))
    return now


def _pending(db: AsyncSession) -> list[tuple[Referral, str, datetime]]:
    pending: list[tuple[Referral, str, datetime]] = db.info.setdefault("referral_events", [])
    return pending


async def _publish_pending(db: AsyncSession) -> None:
    """Publish what this change did, last: after every inbox notification, so every writer takes the
    inbox counters before the institutions' feed counters (one lock order, no deadlocks)."""
    pending = _pending(db)
    while pending:
        referral, event, at = pending.pop(0)
        await events.publish(db, referral, event, at=at)


async def receive(
    db: AsyncSession, viewer: Viewer, referral: Referral, path: str, data: ReferralNote, *, expected_version: int | None
) -> Referral:
    """The receiving institution has seen the request (meets the 2-hour clock)."""
    checked = _check(viewer, referral, path, "receive", expected_version)
    await _apply(db, viewer, checked, "referral.received", changes={"received_at": clock.now()}, reason=data.note)
    await _publish_pending(db)
    return referral


async def accept(
    db: AsyncSession,
    viewer: Viewer,
    referral: Referral,
    path: str,
    data: ReferralAccept,
    *,
    expected_version: int | None,
) -> Referral:
    """Accepted with an appointment; the referring team is told; the no-show check is set for the day after."""
    checked = _check(viewer, referral, path, "accept", expected_version)
    now = clock.now()
    appointment = data.appointment
    if appointment.at < referral.requested_at:
        raise field_error("body.appointment.at", "before the referral was requested")
    changes = {
        "received_at": referral.received_at or now,
        "decided_at": now,
        "appointment_at": appointment.at,
        "appointment_department": appointment.department,
        "appointment_doctor": appointment.doctor,
        "appointment_bed": appointment.bed,
    }
    await _apply(db, viewer, checked, "referral.accepted", changes=changes)
    await deadlines.open_deadline(
        db,
        subject_type=SUBJECT,
        subject_id=referral.id,
        kind=routing.NO_SHOW,
        district_id=referral.district_id,
        started_at=appointment.at,
    )
    users = await routing.audience(db, referral, "referring_team", now)
    where = " ".join(x for x in (appointment.department, appointment.doctor, appointment.bed) if x)
    await _notify(db, referral, users, "accepted", {"appointment_at": appointment.at, "where": where})
    await _publish_pending(db)
    return referral


async def decline(
    db: AsyncSession,
    viewer: Viewer,
    referral: Referral,
    path: str,
    data: ReferralDecline,
    *,
    expected_version: int | None,
) -> Referral:
    """Declined with a reason code. A downward referral declined as not the team's area goes to the team
    responsible for the resident's grid now (a recorded re-route), when there is another one."""
    checked = _check(viewer, referral, path, "decline", expected_version)
    if data.reason == DeclineReason.OTHER and not data.note:
        raise field_error("body.note", "say why (reason other)")
    upward = referral.direction == Direction.UPWARD
    if upward and data.reason == DeclineReason.NOT_OUR_AREA:
        raise field_error("body.reason", "not_our_area is for a team declining a downward referral")
    now = clock.now()
    if not upward and data.reason == DeclineReason.NOT_OUR_AREA:
        found = await responsibility_at(db, grid_id=referral.grid_id, at=now)
        team = await db.get(Team, found.team_id) if found else None
        if team is not None and team.id != referral.to_team_id:
            rerouted = lifecycle.check(
                DOWNWARD, referral, "reroute", actor=viewer, path=path, expected_version=referral.version
            )
            moved = {"to_team_id": team.id, "to_institution_id": team.institution_id}
            await _apply(db, viewer, rerouted, "referral.rerouted", changes=moved, reason=data.reason.value)
            await _tell_receiver(db, referral, now)
            await _publish_pending(db)
            return referral
    changes: dict[str, Any] = {"decided_at": now, "decline_reason": data.reason.value, "decline_note": data.note}
    if upward:
        changes["received_at"] = referral.received_at or now
    await _apply(db, viewer, checked, "referral.declined", changes=changes, reason=data.reason.value)
    if upward:
        users = await routing.audience(db, referral, "referring_team", now)
    else:
        users = await routing.institution_users(db, referral.from_institution_id, Role.REFERRAL_DESK, now)
    await _notify(db, referral, users, "declined", {"reason": data.reason.value})
    await _publish_pending(db)
    return referral


async def hold(
    db: AsyncSession, viewer: Viewer, referral: Referral, path: str, data: ReferralHold, *, expected_version: int | None
) -> Referral:
    """On hold (e.g. waiting for a bed): the decision clock stands still until resumed."""
    checked = _check(viewer, referral, path, "hold", expected_version)
    await _apply(db, viewer, checked, "referral.on_hold", changes={"hold_reason": data.reason}, reason=data.reason)
    await _publish_pending(db)
    return referral


async def resume(
    db: AsyncSession, viewer: Viewer, referral: Referral, path: str, data: ReferralNote, *, expected_version: int | None
) -> Referral:
    """Back to received; the decision clock ticks again, its remaining steps shifted by the hold."""
    checked = _check(viewer, referral, path, "resume", expected_version)
    await _apply(db, viewer, checked, "referral.resumed", reason=data.note)
    await _publish_pending(db)
    return referral


async def arrive(
    db: AsyncSession, viewer: Viewer, referral: Referral, path: str, data: ReferralNote, *, expected_version: int | None
) -> Referral:
    """The patient arrived at the receiving institution."""
    checked = _check(viewer, referral, path, "arrive", expected_version)
    await _apply(db, viewer, checked, "referral.arrived", changes={"arrived_at": clock.now()}, reason=data.note)
    await _publish_pending(db)
    return referral


async def no_show(
    db: AsyncSession, viewer: Viewer, referral: Referral, path: str, data: ReferralNote, *, expected_version: int | None
) -> Referral:
    """The patient did not come; the referring team is told."""
    checked = _check(viewer, referral, path, "no_show", expected_version)
    now = await _apply(db, viewer, checked, "referral.no_show", reason=data.note)
    users = await routing.audience(db, referral, "referring_team", now)
    await _notify(db, referral, users, "no_show")
    await _publish_pending(db)
    return referral


async def complete(
    db: AsyncSession,
    viewer: Viewer,
    referral: Referral,
    path: str,
    data: ReferralComplete,
    *,
    expected_version: int | None,
    pii: PiiCipher,
) -> tuple[Referral, Referral | None]:
    """Upward: the outcome and discharge summary, and with ``continued_care`` the downward referral
    linked to it. Downward: the team closes its part after the first follow-up."""
    checked = _check(viewer, referral, path, "complete", expected_version)
    upward = referral.direction == Direction.UPWARD
    if not upward and (data.discharge_summary or data.continued_care):
        field = "body.discharge_summary" if data.discharge_summary else "body.continued_care"
        raise field_error(field, "only an upward referral is completed with a discharge")
    now = clock.now()
    changes: dict[str, Any] = {"completed_at": now}
    if data.discharge_summary:
        changes["outcome_summary_enc"] = OUTCOME_SUMMARY.seal(pii, referral.id, data.discharge_summary)
    await _apply(db, viewer, checked, "referral.completed", changes=changes)
    spawned: Referral | None = None
    if upward:
        users = await routing.audience(db, referral, "referring_team", now)
        await _notify(db, referral, users, "completed")
    if upward and data.continued_care is not None:
        care = data.continued_care
        down = ReferralCreate(
            identifiers=care.identifiers,
            direction=Direction.DOWNWARD,
            resident_id=referral.resident_id,
            to_team_id=care.to_team_id,
            urgency=care.urgency,
            reason=care.reason,
            clinical_summary=care.clinical_summary,
            discharged_at=care.discharged_at,
            parent_id=referral.id,
            consent=care.consent,
        )
        try:
            # published with the completion, after it (the feed tells "completed" before the new "requested")
            result = await create(db, viewer, down, pii=pii, acting_for=referral.to_institution_id, publish=False)
        except ValidationFailed as exc:  # name the fields under continued_care
            for error in exc.extra["errors"]:
                error["field"] = error["field"].replace("body.", "body.continued_care.", 1)
            raise
        spawned = result.referral
    await _publish_pending(db)
    return referral, spawned


async def cancel(
    db: AsyncSession,
    viewer: Viewer,
    referral: Referral,
    path: str,
    data: ReferralCancel,
    *,
    expected_version: int | None,
) -> Referral:
    """Either side withdraws an open referral, with a reason; its clocks stop; the other side is told."""
    checked = _check(viewer, referral, path, "cancel", expected_version)
    now = await _apply(
        db,
        viewer,
        checked,
        "referral.cancelled",
        changes={"cancelled_at": clock.now(), "cancel_reason": data.reason},
        reason=data.reason,
    )
    if access.sends(viewer, referral):
        if referral.direction == Direction.UPWARD:
            users = await routing.institution_users(db, referral.to_institution_id, Role.REFERRAL_DESK, now)
        else:
            users = await routing.audience(db, referral, "team", now)
    elif referral.direction == Direction.UPWARD:
        users = await routing.audience(db, referral, "referring_team", now)
    else:
        users = await routing.institution_users(db, referral.from_institution_id, Role.REFERRAL_DESK, now)
    await _notify(db, referral, users, "cancelled", {"reason": data.reason})
    await _publish_pending(db)
    return referral


async def take_over(
    db: AsyncSession, viewer: Viewer, referral: Referral, path: str, data: ReferralNote, *, expected_version: int | None
) -> Referral:
    """服务承接: the responsible team takes the patient over (meets the 24-hour clock)."""
    checked = _check(viewer, referral, path, "take_over", expected_version)
    changes = {"taken_over_at": clock.now(), "taken_over_by": viewer.user_id}
    await _apply(db, viewer, checked, "referral.taken_over", changes=changes, reason=data.note)
    await _publish_pending(db)
    return referral


async def follow_up(
    db: AsyncSession,
    viewer: Viewer,
    referral: Referral,
    path: str,
    data: ReferralFollowUp,
    *,
    expected_version: int | None,
    pii: PiiCipher,
) -> Referral:
    """The first follow-up after discharge (channel, outcome): meets the 48-hour clock when it happened."""
    checked = _check(viewer, referral, path, "follow_up", expected_version)
    now = clock.now()
    contacted_at = data.contacted_at or now
    if contacted_at > now + CLOCK_SKEW:
        raise field_error("body.contacted_at", "lies in the future")
    if contacted_at < (referral.discharged_at or referral.requested_at):
        raise field_error("body.contacted_at", "before the patient was discharged")
    changes: dict[str, Any] = {
        "first_follow_up_at": contacted_at,
        "follow_up_channel": data.channel.value,
        "follow_up_outcome": data.outcome.value,
    }
    if data.notes:
        changes["follow_up_notes_enc"] = FOLLOW_UP_NOTES.seal(pii, referral.id, data.notes)
    await _apply(db, viewer, checked, "referral.followed_up", changes=changes, deadline_at=contacted_at)
    await _publish_pending(db)
    return referral


# ---------------------------------------------------------------- the change feed


# The feed's cursor names the institution and the last change handed out: the shared keyset encoding
# (typed, a forged cursor is a 422), like the inbox's; an empty page still answers where the caller stands.
FEED = Keyset(ReferralChange.institution_id, ReferralChange.seq)


async def changes(
    db: AsyncSession, viewer: Viewer, *, institution_id: uuid.UUID | None, cursor: str | None, limit: int
) -> ReferralChanges:
    """The caller's institution's referral changes after ``cursor``, oldest first, each once."""
    mine = viewer.institutions(Permission.REFERRALS_READ)
    if not mine:
        raise Forbidden("the change feed is an institution's: for its referral desk and HIS")
    key = FEED.decode(cursor)
    if institution_id is None:
        institution_id = key[0] if key else (next(iter(mine)) if len(mine) == 1 else None)
    if institution_id is None:
        raise field_error("query.institution_id", "you act for several institutions: name one")
    if institution_id not in mine:
        raise field_error("query.institution_id", "not an institution you act for")
    after = key[1] if key and key[0] == institution_id else 0
    rows = list(
        await db.scalars(
            select(ReferralChange)
            .where(ReferralChange.institution_id == institution_id, ReferralChange.seq > after)
            .order_by(ReferralChange.seq)
            .limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    idents = await identifiers_by_referral(db, list({r.referral_id for r in rows}))
    items = [
        ReferralChangeRead(
            seq=r.seq,
            type=r.event_type,
            occurred_at=r.occurred_at,
            data=ReferralEventData(
                id=r.referral_id,
                identifiers=idents.get(r.referral_id, []),
                version=r.version,
                status=ReferralStatus(r.status),
            ),
        )
        for r in rows
    ]
    last = rows[-1].seq if rows else after
    return ReferralChanges(items=items, cursor=FEED.encode([institution_id, last]), has_more=more)
