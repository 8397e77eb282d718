"""Referral metrics per institution, team or town for a period, in one SQL statement.

Grouping: ``institution`` is the hospital side (the receiving institution of an upward referral, the
sending one of a downward referral); ``team`` the primary side (the referring team up, the receiving
team down); ``town`` the resident's town. Only referrals the caller may see are counted.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.errors import NotFound, field_error
from services.core.org.models import Institution, OrgUnit
from services.core.referrals import access
from services.core.referrals.access import Viewer
from services.core.referrals.models import Referral, ReferralStatus
from services.core.referrals.schemas import RateRow, ReferralMetrics
from services.core.security.principal import scope_or_ancestor_clause
from services.core.security.roles import Permission
from services.core.teams.models import Team

GroupBy = Literal["institution", "team", "town"]
MAX_DAYS = 400


async def referral_metrics(
    db: AsyncSession,
    viewer: Viewer,
    *,
    org_unit_id: uuid.UUID,
    starts_at: datetime,
    ends_at: datetime,
    group_by: GroupBy,
) -> ReferralMetrics:
    """Counts, acceptance rate, median hours to decision, no-shows, downward within 24 h / 48 h."""
    if starts_at.year < 2000 or ends_at.year > 2100:
        raise field_error("query.from", "the period must lie between 2000 and 2100")
    if ends_at <= starts_at:
        raise field_error("query.to", "must be after from")
    if (ends_at - starts_at).days > MAX_DAYS:
        raise field_error("query.to", f"a period of at most {MAX_DAYS} days")
    unit = await db.scalar(
        select(OrgUnit).where(
            OrgUnit.id == org_unit_id,
            scope_or_ancestor_clause(viewer.principal, Permission.REFERRALS_READ, OrgUnit.path),
        )
    )
    if unit is None:
        raise NotFound(f"org unit {org_unit_id} not found")
    r = Referral
    up = r.direction == "upward"
    down = r.direction == "downward"
    key: Any = {
        "institution": case((up, r.to_institution_id), else_=r.from_institution_id),
        "team": case((up, r.from_team_id), else_=r.to_team_id),
        "town": r.town_id,
    }[group_by]
    decided = and_(up, r.decided_at.is_not(None))
    accepted = and_(up, r.appointment_at.is_not(None), r.decided_at.is_not(None))
    stmt = (
        select(
            key.label("key"),
            func.count().filter(up).label("upward"),
            func.count().filter(down).label("downward"),
            func.count().filter(decided).label("decided"),
            func.count().filter(accepted).label("accepted"),
            func.percentile_cont(0.5)
            .within_group(func.extract("epoch", r.decided_at - r.requested_at))
            .filter(decided)
            .label("to_decision"),
            func.count().filter(r.status == ReferralStatus.NO_SHOW.value).label("no_shows"),
            func.count()
            .filter(and_(down, r.taken_over_at.is_not(None), r.taken_over_at <= r.requested_at + timedelta(hours=24)))
            .label("taken_over_24"),
            func.count()
            .filter(
                and_(
                    down,
                    r.first_follow_up_at.is_not(None),
                    r.first_follow_up_at <= func.coalesce(r.discharged_at, r.requested_at) + timedelta(hours=48),
                )
            )
            .label("followed_up_48"),
        )
        .select_from(r)
        .join(OrgUnit, OrgUnit.id == r.grid_id)
        .where(
            access.readable_clause(viewer, OrgUnit.path),
            OrgUnit.path.startswith(unit.path),
            r.requested_at >= starts_at,
            r.requested_at < ends_at,
        )
        .group_by(key)
        .order_by(key)
    )
    rows = (await db.execute(stmt)).mappings().all()
    keys = [row["key"] for row in rows if row["key"] is not None]
    table: Any = {"institution": Institution, "team": Team, "town": OrgUnit}[group_by]
    names: dict[Any, str] = (
        dict((await db.execute(select(table.id, table.name).where(table.id.in_(keys)))).all()) if keys else {}
    )
    return ReferralMetrics(
        group_by=group_by,
        starts_at=starts_at,
        ends_at=ends_at,
        rows=[
            RateRow(
                key=row["key"],
                name=names.get(row["key"]),
                upward=row["upward"],
                downward=row["downward"],
                decided=row["decided"],
                accepted=row["accepted"],
                acceptance_rate=round(row["accepted"] / row["decided"], 4) if row["decided"] else None,
                median_hours_to_decision=round(row["to_decision"] / 3600.0, 2)
                if row["to_decision"] is not None
                else None,
                no_shows=row["no_shows"],
                downward_taken_over_within_24h=row["taken_over_24"],
                downward_followed_up_within_48h=row["followed_up_48"],
            )
            for row in rows
        ],
    )
