"""Volunteer hours verified per volunteer, department, institution or district over a period, in SQL.

The supervision bulletins call ``verified_hours`` (``principal=None``: the worker's whole view); the API
calls it with the caller, so only groups in their scope are answered. Every group in scope is listed,
those with no entries too: ``verified_hours`` is NULL when nothing was logged in the period (not logged),
0 when entries were logged and none verified yet (or all were rejected) — the two mean different things
to a supervisor.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.org.models import OrgUnit
from services.core.security.principal import Principal, institution_scope_clause
from services.core.security.roles import Permission
from services.core.socialwork.models import SocialWorkDepartment
from services.core.teams.models import Institution
from services.core.volunteers.models import HoursStatus, Volunteer, VolunteerHours
from services.core.volunteers.schemas import HoursTotal

READ = Permission.VOLUNTEERS_READ


class Level(StrEnum):
    VOLUNTEER = "volunteer"
    DEPARTMENT = "department"
    INSTITUTION = "institution"
    DISTRICT = "district"


def _scope(principal: Principal | None, path: Any, institution: Any) -> ColumnElement[bool]:
    """Groups in the caller's subtree; a grant naming an institution covers that institution's groups only
    (a district's totals, with no institution, are then out of its reach)."""
    if principal is None:
        return true()
    if institution is None:
        paths = [g.org_path for g in principal.grants if g.may(READ) and g.institution_id is None]
        return or_(*(path.startswith(p) for p in paths)) if paths else false()
    return institution_scope_clause(principal, READ, path, institution)


async def verified_hours(
    db: AsyncSession,
    *,
    level: Level,
    starts_on: date,
    ends_on: date,
    principal: Principal | None = None,
    district_id: Any | None = None,
) -> list[HoursTotal]:
    """One row per group in scope for the days ``starts_on``..``ends_on`` (inclusive, China's calendar)."""
    h = VolunteerHours
    in_period = and_(h.served_on >= starts_on, h.served_on <= ends_on)
    verified = func.sum(h.hours).filter(h.status == HoursStatus.VERIFIED.value)
    pending = func.coalesce(func.sum(h.hours).filter(h.status == HoursStatus.SUBMITTED.value), 0)
    entries = func.count(h.id)
    total = case((entries == 0, None), else_=func.coalesce(verified, 0))
    if level is Level.VOLUNTEER:
        key, name, on, path, institution, district = (
            Volunteer.id,
            Volunteer.name,
            h.volunteer_id == Volunteer.id,
            OrgUnit.path,
            Volunteer.institution_id,
            Volunteer.district_id,
        )
        base = select(key, name).select_from(Volunteer).join(OrgUnit, OrgUnit.id == Volunteer.org_unit_id)
    elif level in (Level.DEPARTMENT, Level.INSTITUTION):
        d = SocialWorkDepartment
        key = d.id if level is Level.DEPARTMENT else d.institution_id
        name = d.name if level is Level.DEPARTMENT else Institution.name
        on, path, institution, district = h.department_id == d.id, OrgUnit.path, d.institution_id, d.district_id
        base = (
            select(key, name)
            .select_from(d)
            .join(Institution, Institution.id == d.institution_id)
            .join(OrgUnit, OrgUnit.id == d.org_unit_id)
        )
    else:
        key, name, on, path, institution, district = (
            OrgUnit.id,
            OrgUnit.name,
            h.district_id == OrgUnit.district_id,
            OrgUnit.path,
            None,
            OrgUnit.district_id,
        )
        base = select(key, name).select_from(OrgUnit).where(OrgUnit.kind == literal("district"))
    stmt = (
        base.add_columns(entries.label("entries"), total.label("verified"), pending.label("pending"))
        .outerjoin(h, and_(on, in_period))
        .where(_scope(principal, path, institution))
        .group_by(key, name)
        .order_by(name, key)
    )
    if district_id is not None:
        stmt = stmt.where(district == district_id)
    rows = await db.execute(stmt)
    return [
        HoursTotal(id=r[0], name=r[1], entries=r.entries, verified_hours=r.verified, pending_hours=r.pending)
        for r in rows
    ]
