"""Team backings: a district or town team backs a team one or two levels below it, for a period."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import periods
from services.core.audit import service as audit
from services.core.errors import field_error
from services.core.org import repository as org_repository
from services.core.replay import Created, replayed
from services.core.security.principal import Principal
from services.core.security.roles import Permission
from services.core.teams import common, repository
from services.core.teams.models import TeamBacking, TeamLevel
from services.core.teams.schemas import BackingCreate, PeriodUpdate

_LEVEL_RANK = {TeamLevel.DISTRICT: 0, TeamLevel.TOWN: 1, TeamLevel.VILLAGE: 2}


async def add_backing(db: AsyncSession, *, principal: Principal, data: BackingCreate) -> Created[TeamBacking]:
    """A district or town team backs a team one or two levels below it, for a period."""
    expected = {
        "backing_team_id": data.backing_team_id,
        "backed_team_id": data.backed_team_id,
        "starts_at": data.starts_at,
        "ends_at": data.ends_at,
    }
    replay = await replayed(
        db,
        TeamBacking,
        data.id,
        same=expected,
        in_scope=lambda row: repository.get_team(db, principal, row.backed_team_id, Permission.TEAMS_WRITE),
    )
    if replay is not None:
        return replay
    backed = await repository.get_team(db, principal, data.backed_team_id, Permission.TEAMS_WRITE, for_update=True)
    backing = await repository.get_team(db, principal, data.backing_team_id, field="body.backing_team_id")
    if _LEVEL_RANK[TeamLevel(backing.level)] >= _LEVEL_RANK[TeamLevel(backed.level)]:
        raise field_error("body.backing_team_id", "the backing team must be at a higher level than the backed team")
    starts_at, ends_at = periods.resolve(data.starts_at, data.ends_at)
    path = await org_repository.path_of(db, backed.org_unit_id)
    return await periods.create_exclusive(  # no lock: the backed team's row is held FOR UPDATE above
        db,
        TeamBacking(
            id=data.id or uuid.uuid4(),
            backing_team_id=backing.id,
            backed_team_id=backed.id,
            starts_at=starts_at,
            ends_at=ends_at,
            district_id=backed.district_id,
        ),
        same=expected,
        rules=_backing_rules(backed.id, backing.id),
        audit=lambda row: audit.record_change(
            db, principal, "team_backing.created", row, org_path=path, backing_team_id=backing.id
        ),
    )


async def list_backings(db: AsyncSession, *, principal: Principal, team_id: uuid.UUID) -> list[TeamBacking]:
    """Backings where the team backs or is backed, all periods."""
    await repository.get_team(db, principal, team_id)
    rows = await db.scalars(
        select(TeamBacking)
        .where((TeamBacking.backed_team_id == team_id) | (TeamBacking.backing_team_id == team_id))
        .order_by(TeamBacking.starts_at, TeamBacking.id)
    )
    return list(rows.all())


async def set_backing_end(
    db: AsyncSession,
    *,
    principal: Principal,
    backing_id: uuid.UUID,
    data: PeriodUpdate,
    expected_version: int,
) -> TeamBacking:
    """End (or move the end of) a backing."""
    row = await common.get_or_404(db, TeamBacking, backing_id, "team backing")
    backed = await repository.get_team(db, principal, row.backed_team_id, Permission.TEAMS_WRITE, for_update=True)
    return await common.change_end(
        db,
        principal,
        row,
        data,
        expected_version,
        rules=_backing_rules(row.backed_team_id, row.backing_team_id),
        unit_id=backed.org_unit_id,
        action="team_backing.period_changed",
    )


def _backing_rules(backed_team_id: uuid.UUID, backing_team_id: uuid.UUID) -> list[periods.Exclusive]:
    """A team backs another once at a time (checked under the backed team's row lock)."""
    return [
        periods.Exclusive(
            TeamBacking,
            (TeamBacking.backed_team_id == backed_team_id, TeamBacking.backing_team_id == backing_team_id),
            "this backing already exists then",
            "conflicting_backing_id",
        )
    ]
