"""Loop metrics (网格吹哨、家医报到) per grid, team or town for a period: one SQL statement.

Reports counted are those submitted in ``[from, to)`` under the org unit. "Due" are the
not-cancelled reports whose follow-up clock is due by now or was met; "within SLA" those
met by their due time. "Overdue" are open reports whose clock is past due and unmet.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.core import clock
from services.core.deadlines.models import Deadline
from services.core.errors import NotFound, field_error
from services.core.org.models import OrgUnit
from services.core.reports.models import ReportCategory, ReportStatus, SentinelReport
from services.core.reports.routing import KIND, SUBJECT
from services.core.reports.schemas import MetricsGroup, ReportMetrics
from services.core.security.principal import Principal, scope_clause
from services.core.security.roles import Permission
from services.core.teams.models import Team

GroupBy = Literal["grid", "team", "town"]
MAX_DAYS = 400
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100


async def loop_metrics(
    db: AsyncSession,
    principal: Principal,
    *,
    org_unit_id: uuid.UUID,
    starts_at: datetime,
    ends_at: datetime,
    group_by: GroupBy,
) -> ReportMetrics:
    """The metrics of every group under the org unit (which must be in the caller's read scope)."""
    if starts_at.year < EARLIEST_YEAR or ends_at.year > LATEST_YEAR:
        raise field_error("query.from", f"the period must lie between {EARLIEST_YEAR} and {LATEST_YEAR}")
    if ends_at <= starts_at:
        raise field_error("query.to", "must be after from")
    if (ends_at - starts_at).days > MAX_DAYS:
        raise field_error("query.to", f"a period of at most {MAX_DAYS} days")
    unit = await db.scalar(
        select(OrgUnit).where(OrgUnit.id == org_unit_id, scope_clause(principal, Permission.REPORTS_READ, OrgUnit.path))
    )
    if unit is None:
        raise NotFound(f"org unit {org_unit_id} not found")
    now = clock.now()
    grid = aliased(OrgUnit)
    r, d = SentinelReport, Deadline
    key = {"grid": r.grid_id, "team": r.team_id, "town": r.town_id}[group_by]
    hours = 3600.0
    open_ = r.status.not_in([ReportStatus.CLOSED.value, ReportStatus.CANCELLED.value])
    not_cancelled = r.status != ReportStatus.CANCELLED.value
    due = and_(not_cancelled, or_(d.due_at <= now, d.met_at.is_not(None)))
    columns: list[ColumnElement[Any]] = [
        key.label("key"),
        func.count().label("reports"),
        *[func.count().filter(r.category == c.value).label(f"c_{c.value}") for c in ReportCategory],
        func.percentile_cont(0.5)
        .within_group(func.extract("epoch", r.reported_in_at - r.submitted_at))
        .filter(r.reported_in_at.is_not(None))
        .label("to_report_in"),
        func.percentile_cont(0.5)
        .within_group(func.extract("epoch", r.first_follow_up_at - r.submitted_at))
        .filter(r.first_follow_up_at.is_not(None))
        .label("to_follow_up"),
        func.count().filter(due).label("due"),
        func.count().filter(and_(not_cancelled, d.met_at.is_not(None), d.met_at <= d.due_at)).label("within"),
        func.count().filter(open_).label("open"),
        func.count().filter(and_(open_, d.met_at.is_(None), d.due_at < now)).label("overdue"),
    ]
    stmt = (
        select(*columns)
        .select_from(r)
        .join(grid, grid.id == r.grid_id)
        .outerjoin(d, and_(d.subject_type == SUBJECT, d.subject_id == r.id, d.kind == KIND))
        .where(
            grid.path.startswith(unit.path),
            r.submitted_at >= starts_at,
            r.submitted_at < ends_at,
        )
        .group_by(key)
        .order_by(key)
    )
    rows = (await db.execute(stmt)).mappings().all()
    names = await _names(db, group_by, {row["key"] for row in rows if row["key"] is not None})
    groups = []
    for row in rows:
        due_count, within = int(row["due"]), int(row["within"])
        groups.append(
            MetricsGroup(
                key=row["key"],
                name=names.get(row["key"]) if row["key"] else None,
                reports=int(row["reports"]),
                by_category={c: int(row[f"c_{c.value}"]) for c in ReportCategory},
                median_hours_to_report_in=_hours(row["to_report_in"], hours),
                median_hours_to_first_follow_up=_hours(row["to_follow_up"], hours),
                due=due_count,
                followed_up_within_sla=within,
                share_followed_up_within_sla=round(within / due_count, 4) if due_count else None,
                open=int(row["open"]),
                overdue=int(row["overdue"]),
            )
        )
    return ReportMetrics.model_validate(
        {"org_unit_id": unit.id, "from": starts_at, "to": ends_at, "group_by": group_by, "groups": groups}
    )


def _hours(seconds: object, per: float) -> float | None:
    if seconds is None:
        return None
    return round(float(seconds) / per, 2)  # type: ignore[arg-type]


async def _names(db: AsyncSession, group_by: GroupBy, keys: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not keys:
        return {}
    if group_by == "team":
        rows = await db.execute(select(Team.id, Team.name).where(Team.id.in_(keys)))
    else:
        rows = await db.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(keys)))
    return {row[0]: row[1] for row in rows.all()}
