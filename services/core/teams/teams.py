"""The team record: form a team, rename it, change its status (the lifecycle in ``lifecycle.py``), list teams.

Plain async functions: the session first, keyword arguments after, domain errors on
bad input, ``flush()`` only — so the API and the roster importer share them (as every
module of this package).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock, lifecycle
from services.core.audit import service as audit
from services.core.errors import AlreadyExists, field_error
from services.core.org import repository as org_repository
from services.core.org.models import OrgUnit
from services.core.pagination import paginate
from services.core.replay import Created, insert_once, replayed
from services.core.security.principal import Principal
from services.core.security.roles import Permission
from services.core.teams import hooks, repository
from services.core.teams import lifecycle as team_lifecycle
from services.core.teams.models import Team, TeamKind, TeamLevel, TeamStatus
from services.core.teams.schemas import TeamCreate, TeamUpdate


async def create_team(db: AsyncSession, *, principal: Principal, data: TeamCreate) -> Created[Team]:
    """Form a team of an institution (a repeat with the same id and body is a replay)."""
    level = data.level or (TeamLevel.VILLAGE if data.kind is TeamKind.PRIMARY else TeamLevel.DISTRICT)
    if data.kind is not TeamKind.PRIMARY and level is not TeamLevel.DISTRICT:
        raise field_error("body.level", "the four departments are district-level teams")
    expected = {
        "institution_id": data.institution_id,
        "name": data.name.strip(),
        "kind": data.kind,
        "level": level,
        "service_phone": data.service_phone,
        "org_unit_id": data.org_unit_id,
    }
    replay = await replayed(
        db,
        Team,
        data.id,
        same=expected,
        in_scope=lambda row: repository.get_team(db, principal, row.id, Permission.TEAMS_WRITE),
    )
    if replay is not None:
        return replay
    institution = await repository.get_institution(db, principal, data.institution_id, field="body.institution_id")
    home = await db.get(OrgUnit, institution.org_unit_id)
    unit_id = data.org_unit_id or institution.org_unit_id
    unit = await org_repository.get_in_scope(db, principal, unit_id, Permission.TEAMS_WRITE)
    if not principal.can_at_institution(Permission.TEAMS_WRITE, unit.path, institution.id):
        raise field_error("body.institution_id", "you manage the teams of another institution")
    if home is None or not unit.path.startswith(home.path):
        raise field_error("body.org_unit_id", "a team is based within its institution's area")
    name = data.name.strip()
    clash = await db.scalar(
        select(Team.id).where(Team.institution_id == institution.id, Team.name == name, Team.id != data.id)
    )
    if clash is not None:
        raise AlreadyExists(f"the institution already has a team named {name}", existing_id=str(clash))
    team = Team(
        id=data.id or uuid.uuid4(),
        institution_id=institution.id,
        name=name,
        kind=data.kind,
        level=level,
        status=TeamStatus.ACTIVE,
        service_phone=data.service_phone,
        org_unit_id=unit.id,
        district_id=unit.district_id,
    )
    result = await insert_once(db, team, same=expected)
    if result.created:
        await audit.record_change(
            db, principal, "team.created", result.record, org_path=unit.path, institution_id=institution.id
        )
    return result


async def update_team(
    db: AsyncSession,
    *,
    principal: Principal,
    team_id: uuid.UUID,
    data: TeamUpdate,
    expected_version: int | None,
) -> Team:
    """Rename, change the service phone, or suspend/reactivate/dissolve a team (dissolved is final).

    404 out of write scope, then 428/412, then 409 for a status the declaration does not allow."""
    team = await repository.get_team(db, principal, team_id, Permission.TEAMS_WRITE)
    lifecycle.require_version(team, expected_version)
    checked = None
    if data.status is not None and data.status != team.status:
        action = team_lifecycle.ACTION_TO[data.status]
        checked = lifecycle.check(
            team_lifecycle.TEAM, team, action, actor=principal, path="", expected_version=expected_version
        )
        if data.status == TeamStatus.DISSOLVED:
            await hooks.check_dissolve(db, team)  # assignments: not while responsible for an area
    if data.name is not None:
        team.name = data.name.strip()
    if data.service_phone is not None:
        team.service_phone = data.service_phone
    if checked is not None:
        await lifecycle.move(db, checked, actor_id=principal.user_id, at=clock.now())
    await db.flush()
    await audit.record_change(
        db, principal, "team.updated", team, org_path=await org_repository.path_of(db, team.org_unit_id)
    )
    return team


async def list_teams(
    db: AsyncSession,
    *,
    principal: Principal,
    institution_id: uuid.UUID | None = None,
    status: TeamStatus | None = None,
    kind: TeamKind | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Team], str | None]:
    """Teams the principal may read, a page at a time."""
    stmt = repository.readable_teams(principal)
    if institution_id is not None:
        stmt = stmt.where(Team.institution_id == institution_id)
    if status is not None:
        stmt = stmt.where(Team.status == status.value)
    if kind is not None:
        stmt = stmt.where(Team.kind == kind.value)
    return await paginate(db, stmt, key=Team.id, cursor=cursor, limit=limit)
