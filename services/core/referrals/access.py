"""Who sees which referral, how much of it, and which side of it a caller is on: the one place.

Per grant holding ``referrals:read``:

* team leader, team member: referrals of residents in the grant's unit whose referring or receiving
  team is one of the caller's active teams; clinical view;
* a grant naming an institution (a referral desk, a HIS client bound to its institution, an
  institution steward): referrals from or to that institution, wherever the resident lives;
  clinical view;
* a HIS client whose grant names no institution: none;
* town supervisor, district commission, auditor, district admin, a steward without an institution:
  every referral of residents in the unit, without the clinical text (reason, summaries, notes).

Sides (for writes, ``referrals:write``): the *sending* side of an upward referral is its team's
members and the referring institution's desk and HIS; the *receiving* side is the receiving
institution's desk and HIS. Downward, the sender is the hospital's desk and HIS; the receiver is
the responsible team's members and its institution's desk and HIS.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.core import clock
from services.core.periods import active_at
from services.core.referrals.models import Direction, Referral
from services.core.security.principal import Grant, Principal
from services.core.security.roles import Permission
from services.core.teams.models import Person, TeamMember

PathColumn = InstrumentedAttribute[str] | ColumnElement[str]


@dataclass(frozen=True)
class Viewer:
    """The caller with its active teams and the institutions its grants name."""

    principal: Principal
    team_ids: frozenset[uuid.UUID]

    @property
    def user_id(self) -> uuid.UUID:
        return self.principal.user_id

    def institutions(self, permission: Permission) -> frozenset[uuid.UUID]:
        """Institutions named by grants giving ``permission``."""
        return frozenset(
            g.institution_id for g in self.principal.grants if g.institution_id is not None and g.may(permission)
        )

    @property
    def writing_institutions(self) -> frozenset[uuid.UUID]:
        """Institutions the caller acts for (a desk's, a HIS client's)."""
        return self.institutions(Permission.REFERRALS_WRITE)


async def viewer_for(db: AsyncSession, principal: Principal) -> Viewer:
    """The caller's active teams (one query, only for team roles)."""
    team_ids: frozenset[uuid.UUID] = frozenset()
    if any(g.may(Permission.REFERRALS_READ_TEAM) for g in principal.grants):
        rows = await db.scalars(
            select(TeamMember.team_id)
            .join(Person, Person.id == TeamMember.person_id)
            .where(Person.user_id == principal.user_id, active_at(TeamMember, clock.now()))
        )
        team_ids = frozenset(rows)
    return Viewer(principal, team_ids)


def _grants(viewer: Viewer, permission: Permission) -> list[Grant]:
    return [g for g in viewer.principal.grants if g.may(permission)]


def _ours(viewer: Viewer) -> ColumnElement[bool]:
    if not viewer.team_ids:
        return false()
    return or_(Referral.from_team_id.in_(viewer.team_ids), Referral.to_team_id.in_(viewer.team_ids))


def readable_clause(viewer: Viewer, path_column: PathColumn) -> ColumnElement[bool]:
    """SQL keeping the referrals the caller may see (``path_column``: the path of the resident's grid)."""
    terms: list[ColumnElement[bool]] = []
    for grant in _grants(viewer, Permission.REFERRALS_READ):
        if grant.institution_id is not None:
            inst = grant.institution_id
            terms.append(or_(Referral.from_institution_id == inst, Referral.to_institution_id == inst))
        elif grant.may(Permission.REFERRALS_READ_AREA):
            terms.append(path_column.startswith(grant.org_path))
        elif grant.may(Permission.REFERRALS_READ_TEAM):
            terms.append(and_(path_column.startswith(grant.org_path), _ours(viewer)))
        # else: a desk or HIS client bound to no institution sees nothing
    return or_(*terms) if terms else false()


def clinical_view(viewer: Viewer, referral: Referral, grid_path: str) -> bool:
    """Whether the caller reads the clinical text: the care side of the two ends, not supervisors."""
    for grant in _grants(viewer, Permission.REFERRALS_READ):
        if grant.institution_id is not None:
            if grant.institution_id in (referral.from_institution_id, referral.to_institution_id):
                return True
        elif grant.may(Permission.REFERRALS_READ_TEAM) and grant.covers(grid_path):
            if {referral.from_team_id, referral.to_team_id} & viewer.team_ids:
                return True
    return False


def sends(viewer: Viewer, referral: Referral) -> bool:
    """Whether the caller is on the referring side."""
    if referral.direction == Direction.UPWARD:
        if referral.from_team_id in viewer.team_ids:
            return True
    return referral.from_institution_id in viewer.writing_institutions


def receives(viewer: Viewer, referral: Referral) -> bool:
    """Whether the caller is on the receiving side."""
    if referral.direction == Direction.DOWNWARD and referral.to_team_id in viewer.team_ids:
        return True
    return referral.to_institution_id in viewer.writing_institutions
