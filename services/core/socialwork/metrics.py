"""Social-work metrics for a period, per department, institution or org unit (a district, a town), in SQL.

``social_work_metrics`` is the one function (the supervision bulletins call it too): it counts what it
is given, unscoped; the route checks the caller may read the department, institution or unit first.

* cases opened (``opened_at`` in the period), closed (``closed_at`` in it) and active at its end (opened
  before the end, not closed by then), in total, by service area (a case counts under each of its
  areas) and by source;
* median days intake -> plan (first plan approval in the period) and plan -> closure (closures in it);
* transfers offered in the period, accepted, followed up in time (the clock met by its due time) and
  missed (the clock breached);
* aid applications created in the period, approved (or delivered), and the amount approved.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Numeric, and_, func, literal, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.deadlines.models import Deadline
from services.core.errors import field_error
from services.core.org.models import OrgUnit
from services.core.socialwork.lifecycle import TRANSFER_FOLLOW_UP, TRANSFER_SUBJECT
from services.core.socialwork.models import AidApplication, AidStatus, SocialWorkCase, Transfer
from services.core.socialwork.schemas import CountBy, SocialWorkMetrics

MAX_DAYS = 400
_DAY_SECONDS = 86400.0


def check_period(start: datetime, end: datetime) -> None:
    """422 on a period that is empty, reversed, longer than ``MAX_DAYS`` or outside 2000-2100."""
    if start.year < 2000 or end.year > 2100:
        raise field_error("query.from", "the period must lie between 2000 and 2100")
    if end <= start:
        raise field_error("query.to", "must be after from")
    if (end - start).days > MAX_DAYS:
        raise field_error("query.to", f"a period of at most {MAX_DAYS} days")


def _cases_of(
    department_id: uuid.UUID | None,
    institution_id: uuid.UUID | None,
    org_path: str | None,
    resident_path: str | None = None,
    non_residents_of: str | None = None,
) -> ColumnElement[bool]:
    """The cases counted: a department's, an institution's, those of departments sitting in a unit
    (``org_path``), or those of clients living in a unit (``resident_path``: the resident's grid at intake),
    with the no-grid (non-resident) cases of departments sitting in ``non_residents_of`` added."""
    if department_id is not None:
        return SocialWorkCase.department_id == department_id
    if institution_id is not None:
        return SocialWorkCase.institution_id == institution_id
    if org_path is not None:
        units = select(OrgUnit.id).where(OrgUnit.path.startswith(org_path))
        return SocialWorkCase.org_unit_id.in_(units)
    if resident_path is not None:
        living = SocialWorkCase.grid_id.in_(select(OrgUnit.id).where(OrgUnit.path.startswith(resident_path)))
        if non_residents_of is None:
            return living
        return or_(living, non_resident_cases(non_residents_of))
    raise ValueError("name a department, an institution or an org unit")


def non_resident_cases(org_path: str) -> ColumnElement[bool]:
    """Cases with no resident grid (a client who lives elsewhere) of departments sitting in ``org_path``."""
    units = select(OrgUnit.id).where(OrgUnit.path.startswith(org_path))
    return and_(SocialWorkCase.grid_id.is_(None), SocialWorkCase.org_unit_id.in_(units))


async def social_work_metrics(
    db: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    department_id: uuid.UUID | None = None,
    institution_id: uuid.UUID | None = None,
    org_path: str | None = None,
    resident_path: str | None = None,
    non_residents_of: str | None = None,
) -> SocialWorkMetrics:
    """The period's figures for one department, institution, org-unit subtree or residents' area (see
    ``_cases_of``; the supervision bulletins count cases where their clients live)."""
    check_period(start, end)
    c = SocialWorkCase
    mine = _cases_of(department_id, institution_id, org_path, resident_path, non_residents_of)
    opened = and_(c.opened_at >= start, c.opened_at < end)
    closed = and_(c.closed_at >= start, c.closed_at < end)
    active = and_(c.opened_at < end, or_(c.closed_at.is_(None), c.closed_at >= end))
    touched = or_(opened, closed, active)

    def counts() -> list[Any]:
        return [
            func.count().filter(opened),
            func.count().filter(active),
            func.count().filter(closed),
        ]

    def median(later: Any, earlier: Any, when: ColumnElement[bool]) -> Any:
        days = func.extract("epoch", later - earlier) / _DAY_SECONDS
        return func.percentile_cont(0.5).within_group(days).filter(when)

    # One pass for the totals, the medians and the counts by source (GROUPING SETS: per source, and all).
    planned = and_(c.plan_approved_at >= start, c.plan_approved_at < end)
    rows = (
        await db.execute(
            select(
                c.source,
                func.grouping(c.source),
                *counts(),
                median(c.plan_approved_at, c.opened_at, planned),
                median(c.closed_at, c.plan_approved_at, and_(closed, c.plan_approved_at.is_not(None))),
            )
            .where(mine, touched)
            .group_by(func.grouping_sets(c.source, text("()")))
            .order_by(c.source)
        )
    ).all()
    everything = next((r for r in rows if r[1] == 1), None)
    total = everything[2:5] if everything is not None else (0, 0, 0)
    to_plan = everything[5] if everything is not None else None
    to_close = everything[6] if everything is not None else None
    by_source = [(r[0], r[2], r[3], r[4]) for r in rows if r[1] == 0]
    area = func.unnest(c.service_areas).table_valued("value").render_derived(name="area")
    by_area = (
        await db.execute(
            select(area.c.value, *counts())
            .select_from(c)
            .join(area, area.c.value.is_not(None))
            .where(mine, touched)
            .group_by(area.c.value)
            .order_by(area.c.value)
        )
    ).all()
    t = Transfer
    clock_ = Deadline
    transfers = (
        await db.execute(
            select(
                func.count(),
                func.count().filter(t.receipt_no.is_not(None)),
                func.count().filter(clock_.met_at.is_not(None), clock_.met_at <= clock_.due_at),
                func.count().filter(clock_.breached_at.is_not(None)),
            )
            .select_from(t)
            .join(c, c.id == t.case_id)
            .outerjoin(
                clock_,
                and_(
                    clock_.subject_type == TRANSFER_SUBJECT,
                    clock_.subject_id == t.id,
                    clock_.kind == TRANSFER_FOLLOW_UP,
                ),
            )
            .where(mine, t.offered_at >= start, t.offered_at < end)
        )
    ).one()
    a = AidApplication
    granted = a.status.in_([AidStatus.APPROVED.value, AidStatus.DELIVERED.value])
    aid = (
        await db.execute(
            select(
                func.count(),
                func.count().filter(granted),
                func.coalesce(func.sum(a.amount_approved).filter(granted), literal(0, Numeric(14, 2))),
            )
            .select_from(a)
            .join(c, c.id == a.case_id)
            .where(mine, a.created_at >= start, a.created_at < end)
        )
    ).one()
    return SocialWorkMetrics(
        from_=start,
        to=end,
        opened=total[0],
        active=total[1],
        closed=total[2],
        by_service_area=[CountBy(key=r[0], opened=r[1], active=r[2], closed=r[3]) for r in by_area],
        by_source=[CountBy(key=r[0], opened=r[1], active=r[2], closed=r[3]) for r in by_source],
        median_days_intake_to_plan=round(float(to_plan), 2) if to_plan is not None else None,
        median_days_plan_to_closure=round(float(to_close), 2) if to_close is not None else None,
        transfers_offered=transfers[0],
        transfers_accepted=transfers[1],
        transfers_followed_up_in_time=transfers[2],
        transfers_follow_up_missed=transfers[3],
        aid_applications=aid[0],
        aid_approved=aid[1],
        aid_amount_approved=Decimal(aid[2] or 0),
    )
