"""Who reads which report, and how much of it: the one place the report policy lives.

Per grant holding ``reports:read`` (a grant covers its unit's subtree; the report's unit
is its grid), by the permissions its role has in ``security/roles.py`` — never by the role:

* ``reports:read`` alone (sentinels): the reports they submitted, status view;
* ``reports:read_area`` (grid leaders, community stewards): every report in the unit, status view;
* ``reports:read_care_team`` (team leaders and members): the reports of the teams they are an
  active member of (and unrouted reports in the unit, which they may take), care view;
* ``reports:read_care`` (supervisors, commission, auditors, administrators, institution stewards):
  care view in the unit — only its institution's teams' reports (and unrouted ones) when the
  grant names an institution.

* ``reports:read_urgent`` (community stewards, beside ``reports:read_area``): an urgent-risk report
  in the unit in the urgent view — what the village committee needs to act, never the team's notes.

A report is shown in the care view when any grant gives it; else in the urgent view when one
gives that; else in the status view.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, DateTime, and_, bindparam, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.core import clock
from services.core.periods import active_at
from services.core.reports.models import SentinelReport
from services.core.security.principal import Grant, Principal
from services.core.security.roles import Permission
from services.core.teams.models import Person, Team, TeamMember

PathColumn = InstrumentedAttribute[str] | ColumnElement[str]


@dataclass(frozen=True)
class Viewer:
    """The caller with the teams it is an active member of now."""

    principal: Principal
    team_ids: frozenset[uuid.UUID]
    institution_team_ids: dict[uuid.UUID, frozenset[uuid.UUID]]

    @property
    def user_id(self) -> uuid.UUID:
        return self.principal.user_id


# The caller's teams now, built once (every report route reads it; building it cost more than running it).
_MY_TEAMS = (
    select(TeamMember.team_id)
    .join(Person, Person.id == TeamMember.person_id)
    .where(
        Person.user_id == bindparam("user_id"),
        active_at(TeamMember, bindparam("now", type_=DateTime(timezone=True))),
    )
)


async def viewer_for(db: AsyncSession, principal: Principal) -> Viewer:
    """Load what the policy needs beyond the grants: the caller's teams (one query, two when a
    steward's grant names an institution)."""
    team_ids: frozenset[uuid.UUID] = frozenset()
    if any(g.may(Permission.REPORTS_READ_CARE_TEAM) for g in principal.grants):
        rows = await db.scalars(_MY_TEAMS, {"user_id": principal.user_id, "now": clock.now()})
        team_ids = frozenset(rows)
    institutions = {g.institution_id for g in principal.grants if g.institution_id is not None}
    by_institution: dict[uuid.UUID, frozenset[uuid.UUID]] = {}
    if institutions:
        rows2 = await db.execute(select(Team.institution_id, Team.id).where(Team.institution_id.in_(institutions)))
        pairs = [(j, t) for j, t in rows2.all()]
        by_institution = {i: frozenset(t for j, t in pairs if j == i) for i in institutions}
    return Viewer(principal, team_ids, by_institution)


def _grants(viewer: Viewer, permission: Permission) -> list[Grant]:
    return [g for g in viewer.principal.grants if g.may(permission)]


def _care_term(viewer: Viewer, grant: Grant, path_column: PathColumn) -> ColumnElement[bool] | None:
    """Rows this grant shows in the care view; None when it gives no care view."""
    in_unit = path_column.startswith(grant.org_path)
    if grant.may(Permission.REPORTS_READ_CARE):
        if grant.institution_id is None:
            return in_unit
        teams = viewer.institution_team_ids.get(grant.institution_id, frozenset())
        ours = SentinelReport.team_id.in_(teams) if teams else false()
        return and_(in_unit, or_(ours, SentinelReport.team_id.is_(None)))
    if grant.may(Permission.REPORTS_READ_CARE_TEAM):
        mine = SentinelReport.team_id.in_(viewer.team_ids) if viewer.team_ids else false()
        return and_(in_unit, or_(mine, SentinelReport.team_id.is_(None)))
    return None


def readable_clause(viewer: Viewer, path_column: PathColumn) -> ColumnElement[bool]:
    """SQL keeping the reports the caller may see in either view (``path_column``: the grid's path)."""
    terms: list[ColumnElement[bool]] = []
    for grant in _grants(viewer, Permission.REPORTS_READ):
        care = _care_term(viewer, grant, path_column)
        if grant.may(Permission.REPORTS_READ_AREA):
            terms.append(path_column.startswith(grant.org_path))
        elif care is not None:
            terms.append(care)
        else:  # reports:read alone: what the caller submitted
            terms.append(and_(path_column.startswith(grant.org_path), SentinelReport.reporter_id == viewer.user_id))
    return or_(*terms) if terms else false()


def care_view(viewer: Viewer, report: SentinelReport, grid_path: str) -> bool:
    """Whether the caller sees ``report`` whole (the same rules as ``_care_term``, in Python)."""
    for grant in _grants(viewer, Permission.REPORTS_READ):
        if not grid_path.startswith(grant.org_path):
            continue
        if grant.may(Permission.REPORTS_READ_CARE):
            if grant.institution_id is None:
                return True
            teams = viewer.institution_team_ids.get(grant.institution_id, frozenset())
            if report.team_id is None or report.team_id in teams:
                return True
        elif grant.may(Permission.REPORTS_READ_CARE_TEAM):
            if report.team_id is None or report.team_id in viewer.team_ids:
                return True
    return False


def may_handle(viewer: Viewer, report: SentinelReport, grid_path: str) -> bool:
    """Whether the caller may report in, follow up, intervene and close: an active member of the
    responsible team (any team member in the area for an unrouted report) with ``reports:handle``."""
    covering = [g for g in _grants(viewer, Permission.REPORTS_HANDLE) if grid_path.startswith(g.org_path)]
    if not covering:
        return False
    if report.team_id is None:
        return bool(viewer.team_ids)
    return report.team_id in viewer.team_ids


def urgent_view(viewer: Viewer, report: SentinelReport, grid_path: str) -> bool:
    """Whether the caller sees an urgent-risk report's urgent view: a ``reports:read_urgent`` grant
    covering the report's grid (the same scope rule as every other read)."""
    if report.category != "urgent_risk":
        return False
    return any(grid_path.startswith(g.org_path) for g in _grants(viewer, Permission.REPORTS_READ_URGENT))
