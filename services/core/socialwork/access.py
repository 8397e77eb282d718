"""Who sees which case, how much of it, and who may act on it: the one place.

Cases (``socialwork:read``):

* a grant naming an institution (its social workers, its supervisor, its steward): the cases of that
  institution's department;
* a grant naming none (town supervisor, commission, auditor, district administrator): the cases of the
  departments sitting in the grant's unit.

How much: the *whole* case (the client's name and identity, assessments, plan, activities, transfers)
needs ``socialwork:read_case`` through a grant naming the case's institution: the department's own
social workers and supervisor. Everyone else reads the *area view* (state, service areas, source, risk,
dates, department). Confidential notes need more still (``may_read_confidential``): being one of the
case's social workers or the department's supervisor, and ``socialwork:read_confidential``, which no
supervisor outside the department, no auditor and no administrator holds.

Transfers are also readable by their receiving side: the team they were handed to, the village's
community steward, the receiving station's social workers (``socialwork:receive_transfers``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.core import clock
from services.core.assignments.models import CommunityRole, CommunityRoleKind
from services.core.periods import active_at
from services.core.security.principal import Principal
from services.core.security.roles import Permission
from services.core.socialwork.models import SocialWorkCase, Transfer
from services.core.teams.models import Person, TeamMember

PathColumn = InstrumentedAttribute[str] | ColumnElement[str]
PathColumnUuid = InstrumentedAttribute[uuid.UUID] | ColumnElement[uuid.UUID | None]


@dataclass(frozen=True)
class Viewer:
    """The caller, with the teams it is an active member of and the villages it is community steward of."""

    principal: Principal
    team_ids: frozenset[uuid.UUID] = frozenset()
    steward_villages: frozenset[uuid.UUID] = frozenset()

    @property
    def user_id(self) -> uuid.UUID:
        return self.principal.user_id

    def institutions(self, permission: Permission) -> frozenset[uuid.UUID]:
        """Institutions named by grants giving ``permission``."""
        return frozenset(
            g.institution_id for g in self.principal.grants if g.institution_id is not None and g.may(permission)
        )


async def viewer_for(db: AsyncSession, principal: Principal) -> Viewer:
    """The caller's active teams and steward villages (queried only for those who receive transfers)."""
    if not principal.can(Permission.SOCIALWORK_RECEIVE_TRANSFERS):
        return Viewer(principal)
    now = clock.now()
    teams = await db.scalars(
        select(TeamMember.team_id)
        .join(Person, Person.id == TeamMember.person_id)
        .where(Person.user_id == principal.user_id, active_at(TeamMember, now))
    )
    villages = await db.scalars(
        select(CommunityRole.org_unit_id)
        .join(Person, Person.id == CommunityRole.person_id)
        .where(
            Person.user_id == principal.user_id,
            CommunityRole.role == CommunityRoleKind.COMMUNITY_STEWARD.value,
            active_at(CommunityRole, now),
        )
    )
    return Viewer(principal, frozenset(teams), frozenset(villages))


def readable_clause(principal: Principal, path_column: PathColumn) -> ColumnElement[bool]:
    """SQL keeping the cases the caller may see (``path_column``: the path of the department's unit)."""
    terms: list[ColumnElement[bool]] = []
    for grant in principal.grants:
        if not grant.may(Permission.SOCIALWORK_READ):
            continue
        if grant.institution_id is not None:
            terms.append(SocialWorkCase.institution_id == grant.institution_id)
        else:
            terms.append(path_column.startswith(grant.org_path))
    return or_(*terms) if terms else false()


def whole_view(principal: Principal, case: SocialWorkCase) -> bool:
    """Whether the caller reads the whole case: the department's own social workers and supervisor."""
    return any(
        g.institution_id == case.institution_id and g.may(Permission.SOCIALWORK_READ_CASE) for g in principal.grants
    )


def supervises(principal: Principal, institution_id: uuid.UUID) -> bool:
    """Whether the caller is the supervisor of the department of ``institution_id`` (a grant naming it)."""
    return any(g.institution_id == institution_id and g.may(Permission.SOCIALWORK_SUPERVISE) for g in principal.grants)


def works_on(principal: Principal, case: SocialWorkCase, worker_ids: frozenset[uuid.UUID]) -> bool:
    """One of the case's social workers (in the department), or the department's supervisor."""
    in_department = any(
        g.institution_id == case.institution_id and g.may(Permission.SOCIALWORK_WRITE) for g in principal.grants
    )
    return (in_department and principal.user_id in worker_ids) or supervises(principal, case.institution_id)


def may_read_confidential(principal: Principal, case: SocialWorkCase, worker_ids: frozenset[uuid.UUID]) -> bool:
    """The case's social workers and the department's supervisor, holding ``socialwork:read_confidential``
    through a grant naming the case's institution; nobody else, whatever else they may read."""
    holds = any(
        g.institution_id == case.institution_id and g.may(Permission.SOCIALWORK_READ_CONFIDENTIAL)
        for g in principal.grants
    )
    return holds and works_on(principal, case, worker_ids)


def receives(viewer: Viewer, transfer: Transfer, station_institution_id: uuid.UUID | None) -> bool:
    """Whether the caller is on the receiving side of a transfer."""
    if not viewer.principal.can(Permission.SOCIALWORK_RECEIVE_TRANSFERS):
        return False
    if transfer.to_team_id is not None and transfer.to_team_id in viewer.team_ids:
        return True
    if transfer.to_team_id is not None and transfer.village_id in viewer.steward_villages:
        return True
    return station_institution_id is not None and station_institution_id in viewer.institutions(
        Permission.SOCIALWORK_RECEIVE_TRANSFERS
    )


def receiving_clause(viewer: Viewer, station_institution: PathColumnUuid) -> ColumnElement[bool]:
    """SQL keeping the transfers handed to the caller's side (``station_institution``: the receiving
    station's institution, NULL when the transfer went to a team)."""
    if not viewer.principal.can(Permission.SOCIALWORK_RECEIVE_TRANSFERS):
        return false()
    terms: list[ColumnElement[bool]] = []
    if viewer.team_ids:
        terms.append(Transfer.to_team_id.in_(viewer.team_ids))
    if viewer.steward_villages:
        terms.append(Transfer.to_team_id.is_not(None) & Transfer.village_id.in_(viewer.steward_villages))
    stations = viewer.institutions(Permission.SOCIALWORK_RECEIVE_TRANSFERS)
    if stations:
        terms.append(station_institution.in_(stations))
    return or_(*terms) if terms else false()
