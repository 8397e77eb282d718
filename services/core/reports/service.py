"""Sentinel reports: submission (idempotent, batched), routing, the life of a report, views.

The life of a report is declared in ``reports/lifecycle.py`` (``REPORT``) and applied by the
lifecycle kit: one check order (404, 428/412, 403, 409), one ``record_transition`` history,
the follow-up clock opened, met and cancelled by the transitions themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock, lifecycle
from services.core.accounts.models import User
from services.core.assignments.queries import responsible_for
from services.core.audit import service as audit
from services.core.deadlines import service as deadlines
from services.core.deadlines.models import Deadline
from services.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    ValidationFailed,
    field_error,
)
from services.core.notifications import service as notifications
from services.core.org.models import OrgUnit
from services.core.pagination import paginate
from services.core.replay import insert_once, replayed
from services.core.reports import access, messages, routing
from services.core.reports.access import Viewer
from services.core.reports.lifecycle import REPORT
from services.core.reports.models import (
    DRAFT_ID_NUMBER,
    DRAFT_PHONE,
    ReportCategory,
    ReportFollowUp,
    ReportStatus,
    SentinelReport,
)
from services.core.reports.schemas import (
    DeadlineBrief,
    DraftRead,
    FollowUpCreate,
    FollowUpRead,
    InterventionStart,
    MedicineDeliveryDetails,
    NewKeyPopulationDetails,
    NewResidentDraft,
    OtherDetails,
    PlaceRef,
    ReportCancel,
    ReportClose,
    ReportCreate,
    ReportIn,
    ReportRead,
    ReportStatusRead,
    ReportUrgentRead,
    ResponderRef,
    TeamRef,
    TransitionRead,
    UrgentResident,
    UrgentRiskBrief,
)
from services.core.residents.identity import check_identity
from services.core.residents.models import Resident
from services.core.security.pii import PiiCipher, mask_id_number, mask_phone
from services.core.security.principal import Principal, scope_clause
from services.core.security.roles import Permission
from services.core.teams.models import Person, Team

SUBJECT = routing.SUBJECT
KIND = routing.KIND

# A phone may queue a report offline for a long time, but not for more than this.
OBSERVED_WITHIN = timedelta(days=366)

# ---------------------------------------------------------------- create


@dataclass(frozen=True)
class CreateResult:
    report: SentinelReport
    grid_path: str
    status_code: int  # 201 stored, 200 a replay


def digest(pii: PiiCipher, data: ReportCreate) -> str:
    """A keyed digest of the request body (it may hold an ID number: a plain hash could be reversed)."""
    return pii.blind_index("report.request", data.model_dump_json()).hex()


def _check_rules(data: ReportCreate) -> None:
    """What the schema alone cannot say, per category."""
    errors: list[dict[str, Any]] = []
    details = data.details
    has_subject = data.resident_id is not None or data.new_resident is not None
    if data.resident_id is not None and data.new_resident is not None:
        errors.append({"field": "body.new_resident", "message": "send either resident_id or new_resident, not both"})
    elif not has_subject and not isinstance(details, OtherDetails):
        errors.append({"field": "body.resident_id", "message": "a report names a resident or a new-resident draft"})
    if isinstance(details, NewKeyPopulationDetails):
        if details.change == "new_resident" and data.new_resident is None:
            errors.append({"field": "body.new_resident", "message": "required for change new_resident"})
        if details.change != "new_resident" and data.resident_id is None:
            errors.append({"field": "body.resident_id", "message": f"required for change {details.change}"})
        if details.change in ("new_resident", "new_population") and not details.populations:
            errors.append({"field": "body.details.populations", "message": "name at least one key population"})
        if details.change == "changed_info" and not details.changed_fields:
            errors.append({"field": "body.details.changed_fields", "message": "name what changed"})
    if isinstance(details, MedicineDeliveryDetails) and not details.team_has_seen:
        errors.append(
            {
                "field": "body.details.team_has_seen",
                "message": "delivery is for residents the team has seen; report a health need first",
            }
        )
    if data.observed_at is not None and data.observed_at > clock.now():
        errors.append({"field": "body.observed_at", "message": "lies in the future"})
    elif data.observed_at is not None and data.observed_at < clock.now() - OBSERVED_WITHIN:
        errors.append({"field": "body.observed_at", "message": "more than a year ago"})
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)


def _sealed_draft(
    draft: NewResidentDraft, report_id: uuid.UUID, pii: PiiCipher
) -> tuple[dict[str, Any], bytes | None, bytes | None]:
    """Check a draft like a resident's identity fields; the JSON (masked) and the ciphertexts."""
    identity = check_identity(
        prefix="body.new_resident",
        id_type=draft.id_type,
        id_number=draft.id_number,
        sex=draft.sex,
        birth_on=draft.birth_on,
        phone=draft.phone,
        birth_required=False,
    )
    errors = list(identity.errors)
    if not draft.name.strip():
        errors.append({"field": "body.new_resident.name", "message": "must not be blank"})
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    number, phone = identity.id_number, identity.phone
    id_enc = DRAFT_ID_NUMBER.seal(pii, report_id, number) if number is not None else None
    phone_enc = DRAFT_PHONE.seal(pii, report_id, phone) if phone is not None else None
    shown = DraftRead(
        name=draft.name.strip(),
        sex=identity.sex,
        birth_on=identity.birth_on,
        id_type=identity.id_type if number is not None else None,
        id_number_masked=mask_id_number(number) if number is not None else None,
        phone_masked=mask_phone(phone) if phone is not None else None,
        address=draft.address,
        household_code=draft.household_code,
    )
    return shown.model_dump(mode="json"), id_enc, phone_enc


async def _grid_for_submit(db: AsyncSession, principal: Principal, grid_id: uuid.UUID) -> OrgUnit:
    grid = await db.scalar(
        select(OrgUnit).where(
            OrgUnit.id == grid_id,
            OrgUnit.kind == "grid",
            scope_clause(principal, Permission.REPORTS_SUBMIT, OrgUnit.path),
        )
    )
    if grid is None:
        raise NotFound(f"grid {grid_id} not found")
    return grid


def _only_as_sentinel(principal: Principal, grid_path: str) -> bool:
    """Whether no grant letting the caller report on this grid has ``reports:submit_any_grid`` (a
    sentinel's): then the caller must also hold the sentinel community role in the grid."""
    covering = [g for g in principal.grants if g.covers(grid_path) and g.may(Permission.REPORTS_SUBMIT)]
    return bool(covering) and not any(g.may(Permission.REPORTS_SUBMIT_ANY_GRID) for g in covering)


async def create(db: AsyncSession, principal: Principal, data: ReportCreate, *, pii: PiiCipher) -> CreateResult:
    """Store a report, route it, start its clock; a replay of the same id and body answers the original."""
    body_digest = digest(pii, data)
    same = _same_submission(principal, body_digest)
    replay = await replayed(db, SentinelReport, data.id, same=same)
    if replay is not None:
        return await _replayed(db, replay.record)
    _check_rules(data)
    grid = await _grid_for_submit(db, principal, data.grid_id)
    if data.resident_id is not None:
        in_grid = await db.scalar(
            select(Resident.id).where(Resident.id == data.resident_id, Resident.grid_id == grid.id)
        )
        if in_grid is None:
            raise field_error("body.resident_id", "not a resident of this grid")
    draft: dict[str, Any] | None = None
    id_enc = phone_enc = None
    if data.new_resident is not None:
        draft, id_enc, phone_enc = _sealed_draft(data.new_resident, data.id, pii)
    village = await db.get(OrgUnit, grid.parent_id)
    assert village is not None  # noqa: S101 - a grid sits in a village
    assert village.parent_id is not None  # noqa: S101 - which sits in a town
    now = clock.now()
    responsible = await responsible_for(db, grid_id=grid.id, at=now)
    reporter_person = await db.scalar(select(Person.id).where(Person.user_id == principal.user_id))
    if _only_as_sentinel(principal, grid.path) and reporter_person not in {s.person_id for s in responsible.sentinels}:
        raise Forbidden("you are not an active sentinel of this grid (no current sentinel role here)")
    team_id = responsible.team.id if responsible.team else None
    result = await insert_once(
        db,
        SentinelReport(
            id=data.id,
            district_id=grid.district_id,
            town_id=village.parent_id,
            village_id=village.id,
            grid_id=grid.id,
            category=data.details.category,
            status=ReportStatus.SUBMITTED.value,
            details=data.details.model_dump(mode="json"),
            resident_id=data.resident_id,
            resident_draft=draft,
            draft_id_number_enc=id_enc,
            draft_phone_enc=phone_enc,
            reporter_id=principal.user_id,
            reporter_person_id=reporter_person,
            team_id=team_id,
            unrouted=team_id is None,
            observed_at=data.observed_at,
            submitted_at=now,
            body_digest=body_digest,
            version=1,
            created_at=now,
            updated_at=now,
        ),
        same=same,
    )
    if not result.created:  # a concurrent replay committed first
        return await _replayed(db, result.record)
    report = result.record
    opened = await lifecycle.move(db, lifecycle.creating(REPORT, report, "submit"), actor_id=principal.user_id, at=now)
    await audit.record(
        db,
        actor_id=principal.user_id,
        action="report.submitted",
        subject_type=SUBJECT,
        subject_id=report.id,
        org_path=grid.path,
        details={"grid_id": str(grid.id), "category": report.category, "unrouted": report.unrouted},
    )
    # Last: notifying takes each recipient's inbox-counter row lock until commit.
    await _route(db, report, opened[0], responsible.sentinels, responsible.members, reporter_person, grid.path, now)
    return CreateResult(report, grid.path, 201)


def _same_submission(principal: Principal, body_digest: str) -> Callable[[SentinelReport], bool]:
    """How ``core.replay`` recognises a retry: the same reporter and the same body (by its keyed digest).

    It answers its own 409s, so they say more than replay's generic one: another reporter's id is
    simply taken (nothing about that report is revealed); the reporter's own id with another body
    names the report already submitted (``existing``)."""

    def same(existing: SentinelReport) -> bool:
        if existing.reporter_id != principal.user_id:
            raise Conflict("this report id is taken", existing_id=str(existing.id))
        if existing.body_digest != body_digest:
            raise Conflict(
                f"report {existing.id} was already submitted with a different body",
                existing_id=str(existing.id),
                existing=f"/reports/{existing.id}",
            )
        return True

    return same


async def _replayed(db: AsyncSession, existing: SentinelReport) -> CreateResult:
    """The answer to a retry (200): the report first stored, with its grid's path."""
    path = await db.scalar(select(OrgUnit.path).where(OrgUnit.id == existing.grid_id))
    return CreateResult(existing, path or "", 200)


async def _route(
    db: AsyncSession,
    report: SentinelReport,
    deadline: Deadline,
    sentinels: list[Any],
    members: list[Any],
    reporter_person: uuid.UUID | None,
    grid_path: str,
    now: datetime,
) -> None:
    """Tell the first people (the clock is open): the sentinel's paired members (else the whole
    team), or for an unrouted report the town's primary institutions' stewards and supervisors."""
    if deadline.next_step_at is not None and deadline.next_step_at <= now:
        await deadlines.fire_due(db, deadline.id, now=now)  # an at-start step (urgent risk): now, not later
    if report.team_id is None:
        users = await routing.town_fallback(db, report.town_id, grid_path, now)
        template = "report.unrouted"
    else:
        paired_records = {m for s in sentinels if s.person_id == reporter_person for m in s.paired_member_ids}
        persons = [m.person_id for m in members if m.record_id in paired_records]
        if persons:
            users = [u for u in await db.scalars(select(Person.user_id).where(Person.id.in_(persons))) if u]
        else:
            users = []
        if not users:
            users = await routing.team_users(db, report.team_id, now)
        template = "report.submitted"
    await notifications.notify(
        db,
        user_ids=users,
        kind="report.submitted",
        message=await messages.report_message(db, template, report, users),
        subject_type=SUBJECT,
        subject_id=report.id,
        dedupe_key=f"report:{report.id}:submitted",
    )


# ---------------------------------------------------------------- batch


@dataclass(frozen=True)
class BatchItem:
    index: int
    id: uuid.UUID | None
    status: int
    problem: dict[str, Any] | None = None
    result: CreateResult | None = None


def _item_id(raw: dict[str, Any]) -> uuid.UUID | None:
    """The id an item carries, when it is a UUID (the phone keys its queue by it)."""
    try:
        return uuid.UUID(str(raw.get("id")))
    except ValueError:
        return None


def _validated(index: int, entry: ReportCreate | dict[str, Any]) -> ReportCreate | BatchItem:
    """The item as a ``ReportCreate``, or its refusal: a 422 naming ``body.reports.<index>.<field>``."""
    if isinstance(entry, ReportCreate):
        return entry
    try:
        return ReportCreate.model_validate(entry)
    except PydanticValidationError as exc:
        errors = [
            {"field": ".".join(["body", "reports", str(index), *(str(p) for p in e["loc"])]), "message": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        problem = {
            "type": "urn:gridcare:problem:validation_error",
            "code": "validation_error",
            "title": "Invalid input",
            "status": 422,
            "detail": "; ".join(f"{e['field']}: {e['message']}" for e in errors),
            "errors": errors,
        }
        return BatchItem(index, _item_id(entry), 422, problem)


async def create_batch(
    db: AsyncSession, principal: Principal, items: list[ReportCreate | dict[str, Any]], *, pii: PiiCipher
) -> list[BatchItem]:
    """Each item validated and stored in its own savepoint: stored, replayed or refused on its own."""
    results: list[BatchItem] = []
    for index, entry in enumerate(items):
        item = _validated(index, entry)
        if isinstance(item, BatchItem):
            results.append(item)
            continue
        try:
            async with db.begin_nested():
                result = await create(db, principal, item, pii=pii)
        except DomainError as exc:
            problem = {
                "type": f"urn:gridcare:problem:{exc.code}",
                "code": exc.code,
                "title": exc.title,
                "status": exc.status,
                "detail": exc.detail,
                **exc.extra,
            }
            if "errors" in problem:
                problem["errors"] = [
                    {**e, "field": e["field"].replace("body.", f"body.reports.{index}.", 1)} for e in problem["errors"]
                ]
            results.append(BatchItem(index, item.id, exc.status, problem))
        except IntegrityError:  # a row it names vanished meanwhile: this item only
            problem = {
                "type": "urn:gridcare:problem:conflict",
                "code": "conflict",
                "title": "Conflict",
                "status": 409,
                "detail": "conflicts with existing data",
            }
            results.append(BatchItem(index, item.id, 409, problem))
        else:
            results.append(BatchItem(index, item.id, result.status_code, None, result))
    return results


# ---------------------------------------------------------------- reading


async def get_in_scope(db: AsyncSession, viewer: Viewer, report_id: uuid.UUID) -> tuple[SentinelReport, str]:
    """One report the caller may see, with its grid's path; 404 otherwise."""
    row = (
        await db.execute(
            select(SentinelReport, OrgUnit.path)
            .join(OrgUnit, OrgUnit.id == SentinelReport.grid_id)
            .where(SentinelReport.id == report_id, access.readable_clause(viewer, OrgUnit.path))
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None:
        raise NotFound(f"report {report_id} not found")
    return row[0], row[1]


async def list_reports(
    db: AsyncSession,
    viewer: Viewer,
    *,
    org_unit_id: uuid.UUID | None,
    status: ReportStatus | None,
    category: ReportCategory | None,
    unrouted: bool | None,
    mine: bool,
    cursor: str | None,
    limit: int,
) -> tuple[list[SentinelReport], str | None]:
    """Reports the caller may see, filtered; keyset-paged by id."""
    stmt = (
        select(SentinelReport)
        .join(OrgUnit, OrgUnit.id == SentinelReport.grid_id)
        .where(access.readable_clause(viewer, OrgUnit.path))
    )
    if org_unit_id is not None:
        unit_path = await db.scalar(select(OrgUnit.path).where(OrgUnit.id == org_unit_id))
        if unit_path is None:
            return [], None
        stmt = stmt.where(OrgUnit.path.startswith(unit_path))
    if status is not None:
        stmt = stmt.where(SentinelReport.status == status.value)
    if category is not None:
        stmt = stmt.where(SentinelReport.category == category.value)
    if unrouted is not None:
        stmt = stmt.where(SentinelReport.unrouted.is_(unrouted))
    if mine:
        stmt = stmt.where(SentinelReport.reporter_id == viewer.user_id)
    return await paginate(db, stmt, key=SentinelReport.id, cursor=cursor, limit=limit)


async def teams_by_id(db: AsyncSession, team_ids: set[uuid.UUID]) -> dict[uuid.UUID, TeamRef]:
    """Team names for a page of reports, in one query."""
    if not team_ids:
        return {}
    rows = await db.execute(select(Team.id, Team.name).where(Team.id.in_(team_ids)))
    return {i: TeamRef(id=i, name=n) for i, n in rows.all()}


async def responders(db: AsyncSession, reports: Sequence[SentinelReport]) -> dict[uuid.UUID, ResponderRef]:
    """Who reported in on each report (name, the team's service phone), for a page in two queries."""
    answered = [r for r in reports if r.reported_in_by is not None]
    if not answered:
        return {}
    user_ids = {r.reported_in_by for r in answered}
    named = await db.execute(
        select(User.id, func.coalesce(Person.name, User.display_name))
        .outerjoin(Person, Person.user_id == User.id)
        .where(User.id.in_(user_ids))
    )
    names: dict[uuid.UUID, str] = {u: n for u, n in named.all()}  # noqa: C416 - typed rows
    team_ids = {r.team_id for r in answered if r.team_id is not None}
    phones: dict[uuid.UUID, str | None] = {}
    if team_ids:
        rows = await db.execute(select(Team.id, Team.service_phone).where(Team.id.in_(team_ids)))
        phones = {t: p for t, p in rows.all()}  # noqa: C416 - typed rows
    return {
        r.id: ResponderRef(
            name=names.get(r.reported_in_by, "") if r.reported_in_by else "",
            team_service_phone=phones.get(r.team_id) if r.team_id else None,
        )
        for r in answered
    }


async def status_views(db: AsyncSession, viewer: Viewer, reports: Sequence[SentinelReport]) -> list[ReportStatusRead]:
    """The status view of a page of reports (team names and responders in one query each)."""
    teams = await teams_by_id(db, {r.team_id for r in reports if r.team_id})
    who = await responders(db, reports)
    return [to_status(viewer, r, teams.get(r.team_id) if r.team_id else None, who.get(r.id)) for r in reports]


def _status_fields(
    viewer: Viewer, report: SentinelReport, team: TeamRef | None, responder: ResponderRef | None
) -> dict[str, Any]:
    own = report.reporter_id == viewer.user_id
    return {
        "id": report.id,
        "category": ReportCategory(report.category),
        "grid_id": report.grid_id,
        "resident_id": report.resident_id,
        "status": ReportStatus(report.status),
        "unrouted": report.unrouted,
        "team": team,
        "submitted_at": report.submitted_at,
        "reported_in": report.reported_in_at is not None,
        "reported_in_at": report.reported_in_at,
        "reported_in_by": responder,
        "followed_up": report.first_follow_up_at is not None,
        "first_follow_up_at": report.first_follow_up_at,
        "closed_at": report.closed_at,
        "cancelled_at": report.cancelled_at,
        # What the sentinel typed comes back to them (identity masked as stored); to nobody else here.
        "new_resident": DraftRead.model_validate(report.resident_draft) if own and report.resident_draft else None,
        "version": report.version,
    }


def to_status(
    viewer: Viewer, report: SentinelReport, team: TeamRef | None, responder: ResponderRef | None = None
) -> ReportStatusRead:
    """The status view."""
    return ReportStatusRead.model_validate(_status_fields(viewer, report, team, responder))


async def _to_urgent(
    db: AsyncSession,
    viewer: Viewer,
    report: SentinelReport,
    grid_path: str,
    team: TeamRef | None,
    responder: ResponderRef | None,
) -> ReportUrgentRead:
    """The urgent view, and its audit event (who read which report's urgent details)."""
    places = {
        i: PlaceRef(id=i, name=n)
        for i, n in await db.execute(
            select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_([report.village_id, report.grid_id]))
        )
    }
    person: UrgentResident | None = None
    if report.resident_id is not None:
        resident = await db.get(Resident, report.resident_id)
        if resident is not None:
            person = UrgentResident(id=resident.id, name=resident.name, address=resident.address)
    elif report.resident_draft:
        draft = report.resident_draft
        person = UrgentResident(id=None, name=str(draft.get("name", "")), address=draft.get("address"))
    details = report.details
    await audit.record(
        db,
        actor_id=viewer.user_id,
        action="report.urgent_read",
        subject_type=SUBJECT,
        subject_id=report.id,
        org_path=grid_path,
        details={"village_id": str(report.village_id)},
    )
    return ReportUrgentRead.model_validate(
        {
            **_status_fields(viewer, report, team, responder),
            "urgent": UrgentRiskBrief(
                signs=details.get("signs", []),
                happening_now=bool(details.get("happening_now")),
                police_called=bool(details.get("police_called")),
                description=str(details.get("description", "")),
                observed_at=report.observed_at,
                village=places[report.village_id],
                grid=places[report.grid_id],
                resident=person,
            ),
        }
    )


async def to_view(
    db: AsyncSession, viewer: Viewer, report: SentinelReport, grid_path: str
) -> ReportRead | ReportStatusRead | ReportUrgentRead:
    """The view this caller gets of one report: care, else urgent (audited), else status."""
    teams = await teams_by_id(db, {report.team_id} if report.team_id else set())
    team = teams.get(report.team_id) if report.team_id else None
    if not access.care_view(viewer, report, grid_path):
        responder = (await responders(db, [report])).get(report.id)
        if access.urgent_view(viewer, report, grid_path):
            return await _to_urgent(db, viewer, report, grid_path, team, responder)
        return to_status(viewer, report, team, responder)
    follow_ups = await db.scalars(
        select(ReportFollowUp)
        .where(ReportFollowUp.report_id == report.id)
        .order_by(ReportFollowUp.contacted_at, ReportFollowUp.id)
    )
    history = await lifecycle.history(db, subject_type=SUBJECT, subject_id=report.id)
    deadline = await deadlines.get(db, subject_type=SUBJECT, subject_id=report.id, kind=KIND)
    report_in_deadline = await deadlines.get(
        db, subject_type=SUBJECT, subject_id=report.id, kind=routing.REPORT_IN_KIND
    )
    return ReportRead.model_validate(
        {
            "id": report.id,
            "district_id": report.district_id,
            "category": report.category,
            "grid_id": report.grid_id,
            "village_id": report.village_id,
            "town_id": report.town_id,
            "resident_id": report.resident_id,
            "new_resident": report.resident_draft,
            "details": report.details,
            "status": report.status,
            "unrouted": report.unrouted,
            "team": team,
            "reporter_id": report.reporter_id,
            "observed_at": report.observed_at,
            "submitted_at": report.submitted_at,
            "reported_in_at": report.reported_in_at,
            "reported_in_by": report.reported_in_by,
            "first_follow_up_at": report.first_follow_up_at,
            "intervention_started_at": report.intervention_started_at,
            "intervention_plan": report.intervention_plan,
            "closed_at": report.closed_at,
            "outcome": report.outcome,
            "outcome_notes": report.outcome_notes,
            "cancelled_at": report.cancelled_at,
            "cancel_reason": report.cancel_reason,
            "follow_up_deadline": _deadline_brief(deadline),
            "report_in_deadline": _deadline_brief(report_in_deadline),
            "follow_ups": [FollowUpRead.model_validate(f) for f in follow_ups],
            "history": [
                TransitionRead(
                    from_status=ReportStatus(t.from_state) if t.from_state else None,
                    to_status=ReportStatus(t.to_state),
                    actor_id=t.actor_id,
                    at=t.at,
                    team_id=t.details.get("team_id"),
                )
                for t in history
            ],
            "version": report.version,
        }
    )


def _deadline_brief(deadline: Deadline | None) -> DeadlineBrief | None:
    if deadline is None:
        return None
    return DeadlineBrief(due_at=deadline.due_at, state=deadline.state, met_at=deadline.met_at)


# ---------------------------------------------------------------- the life of a report
# Each change takes the report its caller loaded in scope (the 404 is the loader's) and the
# If-Match version, possibly missing: the kit answers 428/412, then 403, then 409.


def _check(
    viewer: Viewer, report: SentinelReport, path: str, action: str, expected_version: int | None
) -> lifecycle.Checked[SentinelReport]:
    return lifecycle.check(REPORT, report, action, actor=viewer, path=path, expected_version=expected_version)


async def report_in(
    db: AsyncSession, viewer: Viewer, report: SentinelReport, path: str, data: ReportIn, *, expected_version: int | None
) -> SentinelReport:
    """家医报到: a member of the responsible team acknowledges (an unrouted report becomes their team's)."""
    checked = _check(viewer, report, path, "report_in", expected_version)
    now = clock.now()
    team_id = report.team_id
    if team_id is None:
        if data.team_id is not None:
            if data.team_id not in viewer.team_ids:
                raise field_error("body.team_id", "not a team you are an active member of")
            team_id = data.team_id
        elif len(viewer.team_ids) == 1:
            team_id = next(iter(viewer.team_ids))
        else:
            raise field_error("body.team_id", "you are on several teams: name the one taking this report")
    changes = {"team_id": team_id, "reported_in_at": now, "reported_in_by": viewer.user_id}
    await lifecycle.move(db, checked, actor_id=viewer.user_id, at=now, changes=changes)
    await notifications.notify(
        db,
        user_ids=[report.reporter_id],
        kind="report.reported_in",
        message=await messages.report_message(db, "report.reported_in", report, [report.reporter_id]),
        subject_type=SUBJECT,
        subject_id=report.id,
        dedupe_key=f"report:{report.id}:reported_in",
    )
    return report


async def add_follow_up(
    db: AsyncSession,
    viewer: Viewer,
    report: SentinelReport,
    path: str,
    data: FollowUpCreate,
    *,
    expected_version: int | None,
) -> SentinelReport:
    """Record a contact; the first one meets the follow-up clock and moves the report to followed_up."""
    checked = _check(viewer, report, path, "follow_up", expected_version)
    now = clock.now()
    contacted_at = data.contacted_at or now
    if contacted_at > now:
        raise field_error("body.contacted_at", "lies in the future")
    if contacted_at < report.submitted_at:
        raise field_error("body.contacted_at", "before the report was submitted")
    db.add(
        ReportFollowUp(
            report_id=report.id,
            district_id=report.district_id,
            channel=data.channel.value,
            outcome=data.outcome.value,
            notes=data.notes,
            contacted_at=contacted_at,
            recorded_by=viewer.user_id,
            recorded_at=now,
        )
    )
    changes = {"first_follow_up_at": contacted_at} if report.first_follow_up_at is None else {}
    await lifecycle.move(db, checked, actor_id=viewer.user_id, at=now, changes=changes, deadline_at=contacted_at)
    return report


async def start_intervention(
    db: AsyncSession,
    viewer: Viewer,
    report: SentinelReport,
    path: str,
    data: InterventionStart,
    *,
    expected_version: int | None,
) -> SentinelReport:
    """The team starts intervening (综合干预)."""
    checked = _check(viewer, report, path, "start_intervention", expected_version)
    now = clock.now()
    changes = {"intervention_started_at": now, "intervention_plan": data.plan}
    await lifecycle.move(db, checked, actor_id=viewer.user_id, at=now, changes=changes)
    return report


async def close(
    db: AsyncSession,
    viewer: Viewer,
    report: SentinelReport,
    path: str,
    data: ReportClose,
    *,
    expected_version: int | None,
) -> SentinelReport:
    """Close with the intervention's outcome; the sentinel is told it is closed (not how)."""
    checked = _check(viewer, report, path, "close", expected_version)
    now = clock.now()
    changes = {
        "closed_at": now,
        "closed_by": viewer.user_id,
        "outcome": data.outcome.value,
        "outcome_notes": data.notes,
    }
    await lifecycle.move(db, checked, actor_id=viewer.user_id, at=now, changes=changes, reason=data.outcome.value)
    await notifications.notify(
        db,
        user_ids=[report.reporter_id],
        kind="report.closed",
        message=await messages.report_message(db, "report.closed", report, [report.reporter_id]),
        subject_type=SUBJECT,
        subject_id=report.id,
        dedupe_key=f"report:{report.id}:closed",
    )
    return report


async def cancel(
    db: AsyncSession,
    viewer: Viewer,
    report: SentinelReport,
    path: str,
    data: ReportCancel,
    *,
    expected_version: int | None,
) -> SentinelReport:
    """The sentinel withdraws a report nobody has reported in on yet; its clock stops."""
    checked = _check(viewer, report, path, "cancel", expected_version)
    now = clock.now()
    changes = {"cancelled_at": now, "cancel_reason": data.reason}
    await lifecycle.move(db, checked, actor_id=viewer.user_id, at=now, changes=changes, reason=data.reason)
    return report
