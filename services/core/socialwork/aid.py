"""Resource linking: medical-aid (医疗救助) and charity/public-welfare applications for a patient in
financial difficulty. ``drafted -> submitted -> approved (amount) | rejected (reason) -> delivered``,
withdrawable before a decision. The decision is the fund's; the case's social worker records it.
Documents are listed by name and kind (the files stay with the applicant and the fund)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Numeric, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock, lifecycle
from services.core.audit import service as audit
from services.core.errors import Forbidden, NotFound, field_error
from services.core.org.models import OrgUnit
from services.core.replay import Created, insert_once, replayed
from services.core.security.principal import Principal
from services.core.security.roles import Permission
from services.core.socialwork import access
from services.core.socialwork.errors import CaseClosed
from services.core.socialwork.lifecycle import AID, WORKERS_ONLY, CaseActor
from services.core.socialwork.models import AidApplication, AidKind, AidStatus, CaseStatus, SocialWorkCase
from services.core.socialwork.schemas import AidApprove, AidCreate, AidReject, AidStep, AidTotal


async def create(db: AsyncSession, actor: CaseActor, path: str, data: AidCreate) -> Created[AidApplication]:
    """Draft an application for the case's client (a repeat with the same id and body is a replay)."""
    case = actor.case
    documents = [{"name": d.name.strip(), "kind": d.kind.value} for d in data.documents]
    expected = {
        "case_id": case.id,
        "kind": data.kind.value,
        "programme": data.programme.strip(),
        "amount_requested": data.amount_requested,
    }
    replay = await replayed(db, AidApplication, data.id, same=expected)
    if replay is not None:
        return replay
    row = AidApplication(
        id=data.id or uuid.uuid4(),
        case_id=case.id,
        department_id=case.department_id,
        district_id=case.district_id,
        kind=data.kind.value,
        programme=data.programme.strip(),
        amount_requested=data.amount_requested,
        documents=documents,
        status=AidStatus.DRAFTED.value,
        created_by=actor.user_id,
    )
    if not actor.principal.can_at_institution(
        Permission.SOCIALWORK_WRITE, path, case.institution_id
    ) or not access.works_on(actor.principal, case, actor.worker_ids):
        raise Forbidden(WORKERS_ONLY)
    if case.status == CaseStatus.CLOSED.value:
        raise CaseClosed("the case is closed: reopen it first", status=case.status)
    result = await insert_once(db, row, same=expected)
    if result.created:
        await lifecycle.move(
            db, lifecycle.creating(AID, result.record, "draft"), actor_id=actor.user_id, at=clock.now()
        )
        await audit.record_change(
            db, actor.principal, "social_work_aid_application.drafted", result.record, org_path=path, kind=row.kind
        )
    return result


async def get_in_scope(
    db: AsyncSession, principal: Principal, application_id: uuid.UUID
) -> tuple[AidApplication, SocialWorkCase, str]:
    """An application whose case is in the caller's scope, with the case and its unit's path; 404 otherwise."""
    row = (
        await db.execute(
            select(AidApplication, SocialWorkCase, OrgUnit.path)
            .join(SocialWorkCase, SocialWorkCase.id == AidApplication.case_id)
            .join(OrgUnit, OrgUnit.id == SocialWorkCase.org_unit_id)
            .where(AidApplication.id == application_id, access.readable_clause(principal, OrgUnit.path))
        )
    ).first()
    if row is None:
        raise NotFound(f"aid application {application_id} not found")
    return row[0], row[1], row[2]


def _not_future(at: datetime | None, field: str) -> datetime:
    now = clock.now()
    if at is not None and at > now:
        raise field_error(field, "lies in the future")
    return at or now


async def submit(
    db: AsyncSession, actor: CaseActor, path: str, row: AidApplication, data: AidStep, *, expected_version: int | None
) -> AidApplication:
    """Submitted to the fund: it needs at least one document listed."""
    checked = lifecycle.check(AID, row, "submit", actor=actor, path=path, expected_version=expected_version)
    if not row.documents:
        raise field_error("body", "list the documents submitted with the application first")
    at = _not_future(data.at, "body.at")
    await lifecycle.move(db, checked, actor_id=actor.user_id, at=clock.now(), changes={"submitted_at": at})
    return row


async def approve(
    db: AsyncSession,
    actor: CaseActor,
    path: str,
    row: AidApplication,
    data: AidApprove,
    *,
    expected_version: int | None,
) -> AidApplication:
    """The fund approved an amount (never more than was asked for)."""
    checked = lifecycle.check(AID, row, "approve", actor=actor, path=path, expected_version=expected_version)
    if data.amount_approved > row.amount_requested:
        raise field_error("body.amount_approved", "more than the amount requested")
    at = _not_future(data.decided_at, "body.decided_at")
    changes = {"amount_approved": data.amount_approved, "decided_at": at}
    await lifecycle.move(db, checked, actor_id=actor.user_id, at=clock.now(), changes=changes)
    return row


async def reject(
    db: AsyncSession, actor: CaseActor, path: str, row: AidApplication, data: AidReject, *, expected_version: int | None
) -> AidApplication:
    """The fund rejected it, with its reason."""
    checked = lifecycle.check(AID, row, "reject", actor=actor, path=path, expected_version=expected_version)
    at = _not_future(data.decided_at, "body.decided_at")
    changes = {"rejection_reason": data.reason.strip(), "decided_at": at}
    await lifecycle.move(db, checked, actor_id=actor.user_id, at=clock.now(), changes=changes, reason=data.reason)
    return row


async def deliver(
    db: AsyncSession, actor: CaseActor, path: str, row: AidApplication, data: AidStep, *, expected_version: int | None
) -> AidApplication:
    """The approved aid reached the patient."""
    checked = lifecycle.check(AID, row, "deliver", actor=actor, path=path, expected_version=expected_version)
    at = _not_future(data.at, "body.at")
    await lifecycle.move(db, checked, actor_id=actor.user_id, at=clock.now(), changes={"delivered_at": at})
    return row


async def withdraw(
    db: AsyncSession, actor: CaseActor, path: str, row: AidApplication, data: AidStep, *, expected_version: int | None
) -> AidApplication:
    """Withdrawn before a decision."""
    checked = lifecycle.check(AID, row, "withdraw", actor=actor, path=path, expected_version=expected_version)
    at = _not_future(data.at, "body.at")
    await lifecycle.move(db, checked, actor_id=actor.user_id, at=clock.now(), changes={"withdrawn_at": at})
    return row


async def totals(
    db: AsyncSession, principal: Principal, *, start: datetime, end: datetime, department_id: uuid.UUID | None
) -> list[AidTotal]:
    """Per kind, the applications created in ``[start, end)`` in scope: counts by outcome and amounts."""
    status = AidApplication.status
    zero = literal(0, Numeric(14, 2))
    stmt = (
        select(
            AidApplication.kind,
            func.count(),
            func.count().filter(status != AidStatus.DRAFTED.value, status != AidStatus.WITHDRAWN.value),
            func.count().filter(status.in_([AidStatus.APPROVED.value, AidStatus.DELIVERED.value])),
            func.count().filter(status == AidStatus.REJECTED.value),
            func.count().filter(status == AidStatus.DELIVERED.value),
            func.coalesce(func.sum(AidApplication.amount_requested), zero),
            func.coalesce(
                func.sum(
                    case(
                        (
                            status.in_([AidStatus.APPROVED.value, AidStatus.DELIVERED.value]),
                            AidApplication.amount_approved,
                        ),
                        else_=None,
                    )
                ),
                zero,
            ),
        )
        .join(SocialWorkCase, SocialWorkCase.id == AidApplication.case_id)
        .join(OrgUnit, OrgUnit.id == SocialWorkCase.org_unit_id)
        .where(
            access.readable_clause(principal, OrgUnit.path),
            AidApplication.created_at >= start,
            AidApplication.created_at < end,
        )
        .group_by(AidApplication.kind)
    )
    if department_id is not None:
        stmt = stmt.where(AidApplication.department_id == department_id)
    found = {r[0]: r for r in (await db.execute(stmt)).all()}
    out = []
    for kind in AidKind:
        r = found.get(kind.value)
        out.append(
            AidTotal(
                kind=kind.value,
                applications=r[1] if r else 0,
                submitted=r[2] if r else 0,
                approved=r[3] if r else 0,
                rejected=r[4] if r else 0,
                delivered=r[5] if r else 0,
                amount_requested=Decimal(r[6]) if r else Decimal("0.00"),
                amount_approved=Decimal(r[7]) if r else Decimal("0.00"),
            )
        )
    return out
