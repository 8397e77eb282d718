"""Sentinel reports: submission (idempotent, batched), routing, the life of a report, views.

The life of a report is declared in ``reports/lifecycle.py`` (``REPORT``) and applied by the
lifecycle kit: one check order (404, 428/412, 403, 409), one ``record_transition`` history,
the follow-up clock opened, met and cancelled by the transitions themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from pydantic_core import to_json
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from services.core import clock, lifecycle
from services.core.accounts.models import User
from services.core.audit import service as audit
from services.core.db import Statement, fetch_one, new_id
from services.core.deadlines import service as deadlines
from services.core.deadlines.models import Deadline
from services.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
    field_error,
)
from services.core.notifications import service as notifications
from services.core.notifications.templates import DEFAULT_LOCALE, Message
from services.core.org.models import OrgUnit
from services.core.pagination import paginate
from services.core.replay import replayed
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
from services.core.security.pii import PiiCipher, mask_id_number, mask_name, mask_phone
from services.core.security.principal import Principal
from services.core.security.roles import ROLE_PERMISSIONS, Permission
from services.core.teams.models import Person, Team
from services.core.versioning import check_version

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
    team: TeamRef | None = None  # a new report's team, as the answer names it (no read needed)


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


# What a submission needs to know, in one statement: a report already stored under the id (a replay),
# the grid in the caller's scope with its village and town, the resident in the grid, the reporter's
# person and name, the team responsible now (the grid's own assignment before its village's), whether
# the reporter holds the sentinel role in the grid, and who is told first with each one's language and
# whether they may read residents there (the resident's name is theirs only). Before: some twenty
# round trips through ``responsible_for``, ``messages.report_message`` and ``notify``; the rules are
# theirs (``periods.active_at``: starts_at <= now < ends_at; ``routing.team_users``), written in SQL once.
_SUBMIT_CONTEXT = Statement(
    """
    with g as (
        select g.id, g.path, g.name, g.district_id, v.id as village_id, v.name as village_name,
               v.parent_id as town_id
        from org_unit g join org_unit v on v.id = g.parent_id
        where g.id = :grid_id and g.kind = 'grid'
          and exists (select 1 from unnest(cast(:paths as text[])) as p(path) where starts_with(g.path, p.path))
    ), me as (
        select p.id as person_id, coalesce(p.name, u.display_name) as name
        from app_user u left join person p on p.user_id = u.id
        where u.id = :user_id
        limit 1
    ), team as (
        select t.id, t.name, t.service_phone
        from g join responsibility r on r.org_unit_id in (g.id, g.village_id)
        join team t on t.id = r.team_id
        where r.starts_at <= :now and (r.ends_at is null or r.ends_at > :now)
        order by case when r.unit_kind = 'grid' then 0 else 1 end
        limit 1
    ), sentinel_role as (
        select c.id
        from g, me, community_role c
        where c.role = 'sentinel' and c.org_unit_id = g.id and c.person_id = me.person_id
          and c.starts_at <= :now and (c.ends_at is null or c.ends_at > :now)
    ), member as (
        select m.id, p.user_id
        from team join team_member m on m.team_id = team.id join person p on p.id = m.person_id
        where m.starts_at <= :now and (m.ends_at is null or m.ends_at > :now) and p.user_id is not null
    ), paired as (
        select distinct m.user_id
        from member m join pairing pr on pr.team_member_id = m.id
        where pr.community_role_id in (select id from sentinel_role) and pr.kind = 'member_sentinel'
          and pr.starts_at <= :now and (pr.ends_at is null or pr.ends_at > :now)
    ), recipient as (
        select u.id, u.locale,
               exists (
                   select 1 from role_grant rg join org_unit o on o.id = rg.org_unit_id, g
                   where rg.user_id = u.id and rg.role = any(cast(:reader_roles as text[]))
                     and rg.starts_at <= :now and (rg.ends_at is null or rg.ends_at > :now)
                     and starts_with(g.path, o.path)
               ) as reads_residents
        from app_user u
        where u.id in (select user_id from paired)
           or (not exists (select 1 from paired) and u.id in (select user_id from member))
    )
    select (select s.reporter_id from sentinel_report s where s.id = :report_id) as existing_reporter,
           g.id as grid_id, g.path as grid_path, g.name as grid_name, g.district_id, g.village_id,
           g.village_name, g.town_id,
           exists (select 1 from resident r where r.id = :resident_id and r.grid_id = g.id) as resident_in_grid,
           (select r.name from resident r where r.id = :resident_id and r.grid_id = g.id) as resident_name,
           (select person_id from me) as reporter_person, (select name from me) as reporter_name,
           (select id from team) as team_id, (select name from team) as team_name,
           (select service_phone from team) as team_phone,
           exists (select 1 from sentinel_role) as is_sentinel,
           array(select id from recipient order by id) as recipient_ids,
           array(select coalesce(locale, '') from recipient order by id) as recipient_locales,
           array(select reads_residents from recipient order by id) as recipient_readers
    from (select 1) as one left join g on true
    """
)

# The report, its first history row, its clocks and its audit event in one statement: each later
# insert reads the report's ``returning``, so a concurrent twin (same id, committed first) writes
# nothing at all and the caller answers the replay instead.
_SUBMIT_WRITE = Statement(
    """
    with r as (
        insert into sentinel_report (id, district_id, town_id, village_id, grid_id, category, status, details,
                                     resident_id, resident_draft, draft_id_number_enc, draft_phone_enc,
                                     reporter_id, reporter_person_id, team_id, unrouted, observed_at,
                                     submitted_at, body_digest, version, created_at, updated_at)
        values (:id, :district_id, :town_id, :village_id, :grid_id, :category, :status,
                cast(:details as text)::jsonb, :resident_id, cast(:resident_draft as text)::jsonb,
                cast(:id_enc as bytea), cast(:phone_enc as bytea), :reporter_id, :reporter_person_id, :team_id,
                :unrouted, cast(:observed_at as timestamptz), :now, :body_digest, 1, :now, :now)
        on conflict (id) do nothing
        returning id
    ), t as (
        insert into record_transition (id, subject_type, subject_id, district_id, action, from_state, to_state,
                                       actor_id, at, reason, details)
        select :t_id, :t_subject_type, r.id, :district_id, :t_action, null, :t_to_state, :reporter_id, :now,
               null, cast(:t_details as text)::jsonb
        from r
    ), d as (
        insert into deadline (id, subject_type, subject_id, kind, policy, district_id, started_at, due_at, state,
                              next_step_at, created_at, updated_at)
        select x.id, x.subject_type, r.id, x.kind, x.policy::jsonb, :district_id, x.started_at, x.due_at, x.state,
               x.next_step_at, :now, :now
        from r, unnest(cast(:d_ids as uuid[]), cast(:d_subject_types as text[]), cast(:d_kinds as text[]),
                       cast(:d_policies as text[]), cast(:d_started as timestamptz[]),
                       cast(:d_due as timestamptz[]), cast(:d_states as text[]),
                       cast(:d_next as timestamptz[]))
             as x(id, subject_type, kind, policy, started_at, due_at, state, next_step_at)
        returning id
    ), a as (
        insert into audit_event (occurred_at, actor_id, action, subject_type, subject_id, org_path, request_id,
                                 details)
        select :a_occurred_at, :reporter_id, :a_action, :a_subject_type, r.id, :a_org_path, :a_request_id,
               cast(:a_details as text)::jsonb
        from r
    )
    select (select count(*) from r) as created, (select count(*) from d) as clocks
    """
)

# Roles whose grants let a recipient read residents (the resident's masked name is shown to them only).
_READER_ROLES = sorted(r.value for r, perms in ROLE_PERMISSIONS.items() if Permission.RESIDENTS_READ in perms)


def _only_as_sentinel(principal: Principal, grid_path: str) -> bool:
    """Whether no grant letting the caller report on this grid has ``reports:submit_any_grid`` (a
    sentinel's): then the caller must also hold the sentinel community role in the grid."""
    covering = [g for g in principal.grants if g.covers(grid_path) and g.may(Permission.REPORTS_SUBMIT)]
    return bool(covering) and not any(g.may(Permission.REPORTS_SUBMIT_ANY_GRID) for g in covering)


def _json(value: Any) -> str | None:
    return None if value is None else to_json(value).decode()


async def create(db: AsyncSession, principal: Principal, data: ReportCreate, *, pii: PiiCipher) -> CreateResult:
    """Store a report, route it, start its clock; a replay of the same id and body answers the original.

    Two statements in the usual case: one reads everything the rules and the message need, one writes
    the report with its history row, clocks and audit event (the lifecycle declaration says which); then
    the inbox items, set-based, last (they take each recipient's inbox-counter row until commit).
    """
    body_digest = digest(pii, data)
    same = _same_submission(principal, body_digest)
    now = clock.now()
    paths = principal.paths_with(Permission.REPORTS_SUBMIT)
    ctx = await fetch_one(
        db,
        _SUBMIT_CONTEXT,
        {
            "report_id": data.id,
            "grid_id": data.grid_id,
            "resident_id": data.resident_id,
            "user_id": principal.user_id,
            "now": now,
            "paths": paths,
            "reader_roles": _READER_ROLES,
        },
    )
    if ctx.existing_reporter is not None:  # a retry of a committed create: answered before any rule
        replay = await replayed(db, SentinelReport, data.id, same=same)
        assert replay is not None  # noqa: S101 - it exists (reports are never deleted)
        return await _replayed(db, replay.record)
    _check_rules(data)
    if ctx.grid_id is None:
        raise NotFound(f"grid {data.grid_id} not found")
    if data.resident_id is not None and not ctx.resident_in_grid:
        raise field_error("body.resident_id", "not a resident of this grid")
    draft: dict[str, Any] | None = None
    id_enc = phone_enc = None
    if data.new_resident is not None:
        draft, id_enc, phone_enc = _sealed_draft(data.new_resident, data.id, pii)
    if _only_as_sentinel(principal, ctx.grid_path) and not ctx.is_sentinel:
        raise Forbidden("you are not an active sentinel of this grid (no current sentinel role here)")
    team_id: uuid.UUID | None = ctx.team_id
    # A transient carrier of the values (never added to the session): what the declaration's snapshot,
    # clocks and the answer read.
    report = SentinelReport(
        id=data.id,
        district_id=ctx.district_id,
        town_id=ctx.town_id,
        village_id=ctx.village_id,
        grid_id=ctx.grid_id,
        category=data.details.category,
        status=ReportStatus.SUBMITTED.value,
        details=data.details.model_dump(mode="json"),
        resident_id=data.resident_id,
        resident_draft=draft,
        draft_id_number_enc=id_enc,
        draft_phone_enc=phone_enc,
        reporter_id=principal.user_id,
        reporter_person_id=ctx.reporter_person,
        team_id=team_id,
        unrouted=team_id is None,
        observed_at=data.observed_at,
        submitted_at=now,
        body_digest=body_digest,
        version=1,
        created_at=now,
        updated_at=now,
    )
    rows = lifecycle.creation(REPORT, report, "submit", actor_id=principal.user_id, at=now)
    event = audit.event(
        actor_id=principal.user_id,
        action="report.submitted",
        subject_type=SUBJECT,
        subject_id=report.id,
        org_path=ctx.grid_path,
        details={"grid_id": str(ctx.grid_id), "category": report.category, "unrouted": report.unrouted},
    )
    clocks = [c.values for c in rows.deadlines]
    written = await fetch_one(
        db,
        _SUBMIT_WRITE,
        {
            "id": report.id,
            "district_id": report.district_id,
            "town_id": report.town_id,
            "village_id": report.village_id,
            "grid_id": report.grid_id,
            "category": report.category,
            "status": report.status,
            "details": _json(report.details),
            "resident_id": report.resident_id,
            "resident_draft": _json(draft),
            "id_enc": id_enc,
            "phone_enc": phone_enc,
            "reporter_id": principal.user_id,
            "reporter_person_id": report.reporter_person_id,
            "team_id": team_id,
            "unrouted": report.unrouted,
            "observed_at": report.observed_at,
            "now": now,
            "body_digest": body_digest,
            "t_id": rows.transition["id"],
            "t_subject_type": rows.transition["subject_type"],
            "t_action": rows.transition["action"],
            "t_to_state": rows.transition["to_state"],
            "t_details": _json(rows.transition["details"]),
            "d_ids": [c["id"] for c in clocks],
            "d_subject_types": [c["subject_type"] for c in clocks],
            "d_kinds": [c["kind"] for c in clocks],
            "d_policies": [_json(c["policy"]) for c in clocks],
            "d_started": [c["started_at"] for c in clocks],
            "d_due": [c["due_at"] for c in clocks],
            "d_states": [c["state"] for c in clocks],
            "d_next": [c["next_step_at"] for c in clocks],
            "a_occurred_at": event["occurred_at"],
            "a_action": event["action"],
            "a_subject_type": event["subject_type"],
            "a_org_path": event["org_path"],
            "a_request_id": event["request_id"],
            "a_details": _json(event["details"]),
        },
    )
    if not written.created:  # a concurrent twin committed first: compare and answer it
        twin = await replayed(db, SentinelReport, data.id, same=same)
        if twin is None:
            raise Conflict(f"sentinel report {data.id} was taken and released; retry", existing_id=str(data.id))
        return await _replayed(db, twin.record)
    for planned_clock in rows.deadlines:
        deadlines.plan_first_step(db, planned_clock)
        step_at = planned_clock.values["next_step_at"]
        if step_at is not None and step_at <= now:
            await deadlines.fire_due(db, planned_clock.id, now=now)  # an at-start step (urgent risk): now
    await _route_submitted(db, report, ctx, now)
    team = TeamRef(id=team_id, name=ctx.team_name) if team_id is not None else None
    return CreateResult(report, ctx.grid_path, 201, team=team)


async def _route_submitted(db: AsyncSession, report: SentinelReport, ctx: Any, now: datetime) -> None:
    """Tell the first people (the clock is open): the sentinel's paired members (else the whole team),
    or for an unrouted report the town's primary institutions' stewards and supervisors; in each one's
    language, the resident's masked name only to those who may read residents there."""
    if report.team_id is None:
        users = await routing.town_fallback(db, report.town_id, ctx.grid_path, now)
        message = await messages.report_message(db, "report.unrouted", report, users)
        await notifications.notify(
            db,
            user_ids=users,
            kind="report.submitted",
            message=message,
            subject_type=SUBJECT,
            subject_id=report.id,
            dedupe_key=f"report:{report.id}:submitted",
        )
        return
    resident_name = ctx.resident_name
    if resident_name is None and report.resident_draft:
        resident_name = str(report.resident_draft.get("name") or "") or None
    params: dict[str, Any] = {
        "category": report.category,
        "village": ctx.village_name or "",
        "grid": ctx.grid_name or "",
        "reporter": ctx.reporter_name,
        "responder": None,
        "team": ctx.team_name or "",
        "team_phone": ctx.team_phone,
        "submitted_at": report.submitted_at,
        "reported_in_at": None,
    }
    restricted = {"resident": mask_name(resident_name)} if resident_name else {}
    readers = frozenset(u for u, reads in zip(ctx.recipient_ids, ctx.recipient_readers, strict=True) if reads)
    message = Message("report.submitted", params, restricted, readers)
    rendered: dict[tuple[str, str], list[uuid.UUID]] = {}
    for user_id, locale in zip(ctx.recipient_ids, ctx.recipient_locales, strict=True):
        rendered.setdefault(message.render(locale or DEFAULT_LOCALE, user_id), []).append(user_id)
    await notifications.notify_many(
        db,
        [
            notifications.Message(
                user_ids=users,
                kind="report.submitted",
                title=title,
                body=body,
                subject_type=SUBJECT,
                subject_id=report.id,
                dedupe_key=f"report:{report.id}:submitted",
            )
            for (title, body), users in rendered.items()
        ],
    )


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
    return _care_read(
        report,
        team,
        follow_ups=[FollowUpRead.model_validate(f) for f in follow_ups],
        history=[
            _transition_read(t.from_state, t.to_state, t.actor_id, t.at, t.details.get("team_id")) for t in history
        ],
        deadline=_deadline_brief(deadline),
        report_in_deadline=_deadline_brief(report_in_deadline),
    )


def _transition_read(
    from_state: str | None, to_state: str, actor_id: uuid.UUID, at: datetime, team_id: Any
) -> TransitionRead:
    return TransitionRead(
        from_status=ReportStatus(from_state) if from_state else None,
        to_status=ReportStatus(to_state),
        actor_id=actor_id,
        at=at,
        team_id=team_id,
    )


def _care_read(
    report: SentinelReport,
    team: TeamRef | None,
    *,
    follow_ups: list[FollowUpRead],
    history: list[TransitionRead],
    deadline: DeadlineBrief | None,
    report_in_deadline: DeadlineBrief | None,
) -> ReportRead:
    """The care view of a report, from its row and what was read (or just written) around it."""
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
            "follow_up_deadline": deadline,
            "report_in_deadline": report_in_deadline,
            "follow_ups": follow_ups,
            "history": history,
            "version": report.version,
        }
    )


async def submitted_view(
    db: AsyncSession, viewer: Viewer, result: CreateResult
) -> ReportRead | ReportStatusRead | ReportUrgentRead:
    """The answer to a submission: a new report's status view is built from what was just written (no
    read); the care and urgent views, and a replay, are read as ``to_view`` reads them."""
    report, path = result.report, result.grid_path
    if (
        result.status_code == 201
        and not access.care_view(viewer, report, path)
        and not access.urgent_view(viewer, report, path)
    ):
        return to_status(viewer, report, result.team)
    return await to_view(db, viewer, report, path)


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


def _team_taking(viewer: Viewer, report: SentinelReport, data: ReportIn) -> uuid.UUID:
    """The team a report-in gives the report: its own, else (unrouted) the one named or the caller's only one."""
    if report.team_id is not None:
        return report.team_id
    if data.team_id is not None:
        if data.team_id not in viewer.team_ids:
            raise field_error("body.team_id", "not a team you are an active member of")
        return data.team_id
    if len(viewer.team_ids) == 1:
        return next(iter(viewer.team_ids))
    raise field_error("body.team_id", "you are on several teams: name the one taking this report")


def _arrays(source: str, order: str, columns: dict[str, str]) -> str:
    """One ``array(select <expression> from <source> order by <order>) as <name>`` per column: each a typed
    array (asyncpg hands back UTC instants and UUIDs), all in one order, so they line up by index."""
    return ",\n".join(
        f"array(select {expr} from {source} order by {order}) as {name}"  # noqa: S608 - the module's own constants
        for name, expr in columns.items()
    )


_TEAMS = _arrays(
    "team t where t.id = any(cast(:team_ids as uuid[]))",
    "t.id",
    {"team_ids": "t.id", "team_names": "t.name", "team_phones": "t.service_phone"},
)
_CLOCKS = _arrays(
    "deadline d where d.subject_type = :subject_type and d.subject_id = :report_id",
    "d.kind",
    {
        "clock_ids": "d.id",
        "clock_kinds": "d.kind",
        "clock_states": "d.state",
        "clock_met": "d.met_at",
        "clock_paused": "d.paused_at",
        "clock_started": "d.started_at",
        "clock_due": "d.due_at",
    },
)
_HISTORY = _arrays(
    "record_transition t where t.subject_type = :subject_type and t.subject_id = :report_id",
    "t.at, t.seq",
    {
        "history_from": "t.from_state",
        "history_to": "t.to_state",
        "history_actor": "t.actor_id",
        "history_at": "t.at",
        "history_team": "t.details ->> 'team_id'",
    },
)
_FOLLOW_UPS = _arrays(
    "report_follow_up f where f.report_id = :report_id",
    "f.contacted_at, f.id",
    {
        "follow_up_ids": "f.id",
        "follow_up_channels": "f.channel",
        "follow_up_outcomes": "f.outcome",
        "follow_up_notes": "f.notes",
        "follow_up_contacted": "f.contacted_at",
        "follow_up_recorders": "f.recorded_by",
        "follow_up_recorded": "f.recorded_at",
    },
)
# What a change of a report needs beyond the report itself, in one statement (by the report's own ids:
# it was loaded in the caller's scope already): the names the reporter's message says (places, the
# reporter and the caller, the resident, the teams it may go to), the reporter's language and whether
# they may read the grid's residents (``messages``' rule: a grant in force with ``residents:read`` whose
# unit holds the grid), and what the answer shows (clocks, history, follow-ups). The lists as
# ``_arrays``.
_CHANGE_CONTEXT = Statement(
    f"""
    select (select v.name from org_unit v where v.id = :village_id) as village_name,
           (select g.name from org_unit g where g.id = :grid_id) as grid_name,
           (select coalesce(p.name, u.display_name) from app_user u left join person p on p.user_id = u.id
             where u.id = :reporter_id limit 1) as reporter_name,
           (select u.locale from app_user u where u.id = :reporter_id) as reporter_locale,
           exists (select 1 from role_grant rg join org_unit o on o.id = rg.org_unit_id
                    where rg.user_id = :reporter_id and rg.role = any(cast(:reader_roles as text[]))
                      and rg.starts_at <= :now and (rg.ends_at is null or rg.ends_at > :now)
                      and starts_with(cast(:grid_path as text), o.path)) as reporter_reads,
           (select coalesce(p.name, u.display_name) from app_user u left join person p on p.user_id = u.id
             where u.id = :actor_id limit 1) as actor_name,
           (select r.name from resident r where r.id = :resident_id) as resident_name,
           {_TEAMS},
           {_CLOCKS},
           {_HISTORY},
           {_FOLLOW_UPS}
    """  # noqa: S608 - assembled from the module's own constants, no input
)


@dataclass(frozen=True)
class Clock:
    """One clock of a report as read before a change: what ``deadlines.meeting`` reads, and its id."""

    id: uuid.UUID
    kind: str
    values: dict[str, Any]  # deadlines.STOP_INPUTS


@dataclass
class Changed:
    """A report just changed by a set-based path, with what was read around it: enough to tell its
    reporter and to answer the caller without reading it again."""

    report: SentinelReport
    path: str
    context: Any
    teams: dict[uuid.UUID, tuple[str, str | None]]
    clocks: dict[str, Clock]
    history: list[TransitionRead]
    follow_ups: list[FollowUpRead]


async def _change_context(db: AsyncSession, viewer: Viewer, report: SentinelReport, path: str) -> Changed:
    ctx = await fetch_one(
        db,
        _CHANGE_CONTEXT,
        {
            "report_id": report.id,
            "subject_type": SUBJECT,
            "village_id": report.village_id,
            "grid_id": report.grid_id,
            "grid_path": path,
            "reporter_id": report.reporter_id,
            "actor_id": viewer.user_id,
            "resident_id": report.resident_id,
            "team_ids": sorted({*viewer.team_ids, *([report.team_id] if report.team_id else [])}),
            "reader_roles": _READER_ROLES,
            "now": clock.now(),
        },
    )
    clocks = {
        kind: Clock(i, kind, {"state": st, "met_at": met, "paused_at": paused, "started_at": start, "due_at": due})
        for i, kind, st, met, paused, start, due in zip(
            ctx.clock_ids,
            ctx.clock_kinds,
            ctx.clock_states,
            ctx.clock_met,
            ctx.clock_paused,
            ctx.clock_started,
            ctx.clock_due,
            strict=True,
        )
    }
    history = [
        _transition_read(f, t, a, at, team)
        for f, t, a, at, team in zip(
            ctx.history_from, ctx.history_to, ctx.history_actor, ctx.history_at, ctx.history_team, strict=True
        )
    ]
    follow_ups = [
        FollowUpRead(id=i, channel=ch, outcome=out, notes=notes, contacted_at=at, recorded_by=by, recorded_at=rec)
        for i, ch, out, notes, at, by, rec in zip(
            ctx.follow_up_ids,
            ctx.follow_up_channels,
            ctx.follow_up_outcomes,
            ctx.follow_up_notes,
            ctx.follow_up_contacted,
            ctx.follow_up_recorders,
            ctx.follow_up_recorded,
            strict=True,
        )
    ]
    teams = {i: (n, p) for i, n, p in zip(ctx.team_ids, ctx.team_names, ctx.team_phones, strict=True)}
    return Changed(report, path, ctx, teams, clocks, history, follow_ups)


# A change of a report written as ``lifecycle.moving`` plans it, in one statement: the report under its
# version (a concurrent change that committed first leaves nothing to update: 412) with the columns the
# change sets (NULL: left as they are; these changes never clear one), its history row when it moves,
# a follow-up contact when it records one, and the clocks it stops (each guarded on the values it was
# judged on; one moved meanwhile by the sweeper is left to ``deadlines.meet`` under its lock) - all of
# them only if the report was updated.
_CHANGE_COLUMNS = ("status", "team_id", "reported_in_at", "reported_in_by", "first_follow_up_at", "updated_at")
_CHANGE_WRITE = Statement(
    """
    with u as (
        update sentinel_report
           set status = coalesce(cast(:status as text), status), team_id = coalesce(cast(:team_id as uuid), team_id),
               reported_in_at = coalesce(cast(:reported_in_at as timestamptz), reported_in_at),
               reported_in_by = coalesce(cast(:reported_in_by as uuid), reported_in_by),
               first_follow_up_at = coalesce(cast(:first_follow_up_at as timestamptz), first_follow_up_at),
               version = version + 1, updated_at = :now
         where id = :id and version = :version
        returning id, version
    ), t as (
        insert into record_transition (id, subject_type, subject_id, district_id, action, from_state, to_state,
                                       actor_id, at, reason, details)
        select :t_id, :t_subject_type, u.id, :t_district_id, :t_action, :t_from_state, :t_to_state, :t_actor_id,
               :t_at, :t_reason, cast(:t_details as text)::jsonb
        from u where cast(:t_id as uuid) is not null
    ), f as (
        insert into report_follow_up (id, report_id, district_id, channel, outcome, notes, contacted_at, recorded_by,
                                      recorded_at)
        select :f_id, u.id, :f_district_id, :f_channel, :f_outcome, :f_notes, :f_contacted_at, :f_recorded_by, :now
        from u where cast(:f_id as uuid) is not null
    ), d as (
        update deadline as d
           set started_at = x.started_at, due_at = x.due_at, met_at = x.met_at, state = x.state,
               breached_at = coalesce(x.breached_at, d.breached_at),
               cancelled_at = coalesce(x.cancelled_at, d.cancelled_at),
               paused_at = x.paused_at, next_step_at = null, updated_at = :now
          from u, unnest(cast(:d_ids as uuid[]), cast(:d_started as timestamptz[]), cast(:d_due as timestamptz[]),
                         cast(:d_met as timestamptz[]), cast(:d_states as text[]), cast(:d_breached as timestamptz[]),
                         cast(:d_cancelled as timestamptz[]), cast(:d_paused as timestamptz[]),
                         cast(:w_states as text[]), cast(:w_met as timestamptz[]), cast(:w_paused as timestamptz[]),
                         cast(:w_started as timestamptz[]), cast(:w_due as timestamptz[]))
               as x(id, started_at, due_at, met_at, state, breached_at, cancelled_at, paused_at,
                    was_state, was_met, was_paused, was_started, was_due)
         where d.id = x.id and d.state = x.was_state and d.met_at is not distinct from x.was_met
           and d.paused_at is not distinct from x.was_paused and d.started_at = x.was_started
           and d.due_at = x.was_due
        returning d.id
    )
    select (select version from u) as version, (select count(*) from d) as clocks
    """
)


async def _write_change(
    db: AsyncSession,
    changed: Changed,
    plan: lifecycle.Moving,
    *,
    now: datetime,
    follow_up: FollowUpRead | None = None,
) -> None:
    """Write ``plan`` (and a follow-up contact) for the loaded report, then bring what was read up to date."""
    report = changed.report
    unknown = set(plan.changes) - set(_CHANGE_COLUMNS)
    if unknown:
        raise ValueError(f"the set-based change does not write {sorted(unknown)}")
    stops = _stops(changed, plan)
    t = plan.transition
    f = follow_up
    written = await fetch_one(
        db,
        _CHANGE_WRITE,
        {
            "id": report.id,
            "version": report.version,
            "now": now,
            **{name: plan.changes.get(name) for name in _CHANGE_COLUMNS if name != "updated_at"},
            "t_id": t["id"] if t else None,
            "t_subject_type": t["subject_type"] if t else None,
            "t_district_id": t["district_id"] if t else None,
            "t_action": t["action"] if t else None,
            "t_from_state": t["from_state"] if t else None,
            "t_to_state": t["to_state"] if t else None,
            "t_actor_id": t["actor_id"] if t else None,
            "t_at": t["at"] if t else None,
            "t_reason": t["reason"] if t else None,
            "t_details": _json(t["details"]) if t else None,
            "f_id": f.id if f else None,
            "f_district_id": report.district_id,
            "f_channel": f.channel.value if f else None,
            "f_outcome": f.outcome.value if f else None,
            "f_notes": f.notes if f else None,
            "f_contacted_at": f.contacted_at if f else None,
            "f_recorded_by": f.recorded_by if f else None,
            **_clock_params(stops),
        },
    )
    await _after_write(db, changed, plan, stops, written, report.version, now=now)
    if f is not None:
        changed.follow_ups.append(f)
        changed.follow_ups.sort(key=lambda x: (x.contacted_at, x.id))


def _stops(changed: Changed, plan: lifecycle.Moving) -> list[tuple[Clock, dict[str, Any]]]:
    """The clocks the plan stops, each with its new values (``deadlines.meeting`` / ``cancelling``)."""
    stops: list[tuple[Clock, dict[str, Any]]] = []
    for kinds, stop in ((plan.meet, deadlines.meeting), (plan.cancel, deadlines.cancelling)):
        for kind in kinds:
            found = changed.clocks.get(kind)
            new = stop(found.values, plan.stopped_at) if found is not None else None
            if found is not None and new is not None:
                stops.append((found, new))
    return stops


def _clock_params(stops: list[tuple[Clock, dict[str, Any]]]) -> dict[str, list[Any]]:
    merged = [{**c.values, "breached_at": None, "cancelled_at": None, **new} for c, new in stops]
    return {
        "d_ids": [c.id for c, _ in stops],
        "d_started": [m["started_at"] for m in merged],
        "d_due": [m["due_at"] for m in merged],
        "d_met": [m["met_at"] for m in merged],
        "d_states": [m["state"] for m in merged],
        "d_breached": [m["breached_at"] for m in merged],
        "d_cancelled": [m["cancelled_at"] for m in merged],
        "d_paused": [m["paused_at"] for m in merged],
        "w_states": [c.values["state"] for c, _ in stops],
        "w_met": [c.values["met_at"] for c, _ in stops],
        "w_paused": [c.values["paused_at"] for c, _ in stops],
        "w_started": [c.values["started_at"] for c, _ in stops],
        "w_due": [c.values["due_at"] for c, _ in stops],
    }


async def _after_write(
    db: AsyncSession,
    changed: Changed,
    plan: lifecycle.Moving,
    stops: list[tuple[Clock, dict[str, Any]]],
    written: Any,
    expected: int,
    *,
    now: datetime,
) -> None:
    """After a set-based change: 412 when another change won; a clock the sweeper moved meanwhile is met
    (or cancelled) under its lock; the loaded report takes its new values (committed: nothing to flush)."""
    report = changed.report
    if written.version is None:
        current = await db.scalar(select(SentinelReport.version).where(SentinelReport.id == report.id))
        check_version(current if current is not None else expected + 1, expected)
        raise PreconditionFailed("the record changed meanwhile; re-read it and retry")
    if written.clocks < len(stops):
        for c, _ in stops:
            stop = deadlines.meet if c.kind in plan.meet else deadlines.cancel
            await stop(db, subject_type=SUBJECT, subject_id=report.id, kind=c.kind, at=plan.stopped_at)
            deadline = await deadlines.get(db, subject_type=SUBJECT, subject_id=report.id, kind=c.kind)
            if deadline is not None:
                changed.clocks[c.kind] = Clock(c.id, c.kind, {**c.values, **_brief_values(deadline)})
    else:
        for c, new in stops:
            changed.clocks[c.kind] = Clock(c.id, c.kind, {**c.values, **new})
    for name, value in {**plan.changes, "updated_at": now, "version": written.version}.items():
        set_committed_value(report, name, value)
    if plan.transition is not None:
        t = plan.transition
        changed.history.append(
            _transition_read(t["from_state"], t["to_state"], t["actor_id"], t["at"], t["details"].get("team_id"))
        )
        changed.history.sort(key=lambda h: h.at)  # stable: a transition of the same instant stays after


def _brief_values(deadline: Deadline) -> dict[str, Any]:
    return {"state": deadline.state, "met_at": deadline.met_at, "due_at": deadline.due_at}


async def report_in(
    db: AsyncSession, viewer: Viewer, report: SentinelReport, path: str, data: ReportIn, *, expected_version: int | None
) -> SentinelReport:
    """家医报到: a member of the responsible team acknowledges (an unrouted report becomes their team's)."""
    return (await reporting_in(db, viewer, report, path, data, expected_version=expected_version)).report


async def reporting_in(
    db: AsyncSession, viewer: Viewer, report: SentinelReport, path: str, data: ReportIn, *, expected_version: int | None
) -> Changed:
    """``report_in``, with what the answer needs. After the kit's check (428/412, 403, 409) and the team's
    rule: one statement reads what the message and the answer need, one writes what ``lifecycle.moving``
    plans from the declaration (report, history row, the report-in clock met), then the reporter's inbox
    item (``notify_many``); the answer is built from those (``changed_view``). Seven round trips for the whole
    request (BEGIN, the caller's teams, the report in scope, these three, COMMIT) where ``move``, ``notify`` and
    ``to_view`` made it twenty."""
    checked = _check(viewer, report, path, "report_in", expected_version)
    now = clock.now()
    team_id = _team_taking(viewer, report, data)
    changes = {"team_id": team_id, "reported_in_at": now, "reported_in_by": viewer.user_id}
    plan = lifecycle.moving(checked, actor_id=viewer.user_id, at=now, changes=changes)
    changed = await _change_context(db, viewer, report, path)
    await _write_change(db, changed, plan, now=now)
    ctx = changed.context
    reporter = report.reporter_id
    said = messages.message_for(
        "report.reported_in",
        report,
        village=ctx.village_name or "",
        grid=ctx.grid_name or "",
        reporter=ctx.reporter_name,
        responder=ctx.actor_name,
        team=changed.teams.get(team_id),
        resident=ctx.resident_name,
        readers=frozenset({reporter}) if ctx.reporter_reads else frozenset(),
    )
    title, body = said.render(ctx.reporter_locale or DEFAULT_LOCALE, reporter)
    await notifications.notify_many(
        db,
        [
            notifications.Message(
                user_ids=[reporter],
                kind="report.reported_in",
                title=title,
                body=body,
                subject_type=SUBJECT,
                subject_id=report.id,
                dedupe_key=f"report:{report.id}:reported_in",
            )
        ],
    )
    return changed


async def changed_view(
    db: AsyncSession, viewer: Viewer, changed: Changed
) -> ReportRead | ReportStatusRead | ReportUrgentRead:
    """The answer to a set-based change, from what was read and written (``to_view``'s views; the urgent
    one, which is audited and reads more, through ``to_view`` itself)."""
    report, path = changed.report, changed.path
    team_row = changed.teams.get(report.team_id) if report.team_id else None
    team = TeamRef(id=report.team_id, name=team_row[0]) if report.team_id and team_row else None
    if access.care_view(viewer, report, path):
        follow_up, report_in_clock = changed.clocks.get(KIND), changed.clocks.get(routing.REPORT_IN_KIND)
        return _care_read(
            report,
            team,
            follow_ups=changed.follow_ups,
            history=changed.history,
            deadline=_brief(follow_up.values) if follow_up else None,
            report_in_deadline=_brief(report_in_clock.values) if report_in_clock else None,
        )
    if access.urgent_view(viewer, report, path):
        return await to_view(db, viewer, report, path)
    responder = None
    if report.reported_in_by is not None:
        name = changed.context.actor_name if report.reported_in_by == viewer.user_id else None
        if name is None:
            return await to_view(db, viewer, report, path)
        responder = ResponderRef(name=name, team_service_phone=team_row[1] if team_row else None)
    return to_status(viewer, report, team, responder)


def _brief(values: dict[str, Any]) -> DeadlineBrief:
    return DeadlineBrief(due_at=values["due_at"], state=values["state"], met_at=values["met_at"])


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
    return (await following_up(db, viewer, report, path, data, expected_version=expected_version)).report


async def following_up(
    db: AsyncSession,
    viewer: Viewer,
    report: SentinelReport,
    path: str,
    data: FollowUpCreate,
    *,
    expected_version: int | None,
) -> Changed:
    """``add_follow_up``, with what the answer needs: after the kit's check and the contact's own rules, one
    read (``_CHANGE_CONTEXT``) and one write (the contact with what ``lifecycle.moving`` plans: the first
    one moves the report and meets the follow-up clock at the contact's time; a later one is a new version)."""
    checked = _check(viewer, report, path, "follow_up", expected_version)
    now = clock.now()
    # In UTC, as PostgreSQL gives it back: the answer built here is what a read returns.
    contacted_at = (data.contacted_at or now).astimezone(UTC)
    if contacted_at > now:
        raise field_error("body.contacted_at", "lies in the future")
    if contacted_at < report.submitted_at:
        raise field_error("body.contacted_at", "before the report was submitted")
    contact = FollowUpRead(
        id=new_id(),
        channel=data.channel,
        outcome=data.outcome,
        notes=data.notes,
        contacted_at=contacted_at,
        recorded_by=viewer.user_id,
        recorded_at=now,
    )
    changes = {"first_follow_up_at": contacted_at} if report.first_follow_up_at is None else {}
    plan = lifecycle.moving(checked, actor_id=viewer.user_id, at=now, changes=changes, deadline_at=contacted_at)
    changed = await _change_context(db, viewer, report, path)
    await _write_change(db, changed, plan, now=now, follow_up=contact)
    return changed


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
