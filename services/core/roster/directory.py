"""The public team directory: which family doctor teams serve a village/community now.

Published to residents (seed 003 §二(一)2 "及时向社会公开家庭医生团队"), so it answers
without a login and carries nothing personal beyond the team leader's name: no member
names, no mobiles, no ids of people.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock, periods
from services.core.assignments.models import Responsibility
from services.core.errors import NotFound
from services.core.org.models import OrgUnit, OrgUnitKind
from services.core.roster.schemas import DirectoryGrid, DirectoryTeam, DirectoryVillage
from services.core.teams import members as member_service
from services.core.teams.models import Institution, Person, Team, TeamStatus


async def village_teams(db: AsyncSession, *, village_id: uuid.UUID) -> DirectoryVillage:
    """The active teams responsible for the village or any of its grids now; 404 for anything but a village."""
    village = await db.get(OrgUnit, village_id)
    if village is None or village.kind != OrgUnitKind.VILLAGE:
        raise NotFound(f"village {village_id} not found")
    now = clock.now()
    grids = list(
        (await db.scalars(select(OrgUnit).where(OrgUnit.parent_id == village.id).order_by(OrgUnit.code))).all()
    )
    rows = (
        await db.scalars(
            select(Responsibility).where(
                Responsibility.org_unit_id.in_([village.id, *(g.id for g in grids)]),
                periods.active_at(Responsibility, now),
            )
        )
    ).all()
    village_team = next((r.team_id for r in rows if r.org_unit_id == village.id), None)
    grid_team = {r.org_unit_id: r.team_id for r in rows if r.org_unit_id != village.id}
    served: dict[uuid.UUID, list[OrgUnit]] = {}
    for grid in grids:
        team_id = grid_team.get(grid.id, village_team)
        if team_id is not None:
            served.setdefault(team_id, []).append(grid)
    team_ids = list({r.team_id for r in rows})
    teams = {
        t.id: t
        for t in (
            await db.scalars(select(Team).where(Team.id.in_(team_ids), Team.status == TeamStatus.ACTIVE.value))
        ).all()
    }
    institutions = {
        i.id: i.name
        for i in (
            await db.scalars(select(Institution).where(Institution.id.in_({t.institution_id for t in teams.values()})))
        ).all()
    }
    leaders = await member_service.current_leaders(db, team_ids=list(teams))
    names = {
        p.id: p.name for p in (await db.scalars(select(Person).where(Person.id.in_(list(leaders.values()))))).all()
    }
    out = [
        DirectoryTeam(
            team_name=team.name,
            institution_name=institutions.get(team.institution_id, ""),
            leader_name=names.get(leaders[team.id]) if team.id in leaders else None,
            service_phone=team.service_phone,
            whole_village=team.id == village_team,
            grids=[DirectoryGrid(code=g.code, name=g.name) for g in served.get(team.id, [])],
        )
        for team in sorted(teams.values(), key=lambda t: t.name)
    ]
    return DirectoryVillage(code=village.code, name=village.name, teams=out)
