"""Team members: who is on a team for which period, one leader at a time."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock, periods
from services.core.audit import service as audit
from services.core.errors import IllegalTransition, field_error
from services.core.org import repository as org_repository
from services.core.replay import Created, replayed
from services.core.security.principal import Principal
from services.core.security.roles import Permission
from services.core.teams import common, hooks, repository
from services.core.teams.models import MemberRole, PersonKind, Posting, TeamMember, TeamStatus
from services.core.teams.schemas import MemberCreate, PeriodUpdate


async def current_leaders(db: AsyncSession, *, team_ids: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """Team id -> the person leading it now, for many teams in one query."""
    if not team_ids:
        return {}
    rows = await db.execute(
        select(TeamMember.team_id, TeamMember.person_id).where(
            TeamMember.team_id.in_(team_ids),
            TeamMember.role == MemberRole.LEADER.value,
            periods.active_at(TeamMember, clock.now()),
        )
    )
    return {row.team_id: row.person_id for row in rows}


async def add_member(
    db: AsyncSession, *, principal: Principal, team_id: uuid.UUID, data: MemberCreate
) -> Created[TeamMember]:
    """Put a staff member on a team for a period; one leader at a time, no person twice at once."""
    expected = {
        "team_id": team_id,
        "person_id": data.person_id,
        "role": data.role,
        "discipline": data.discipline,
        "starts_at": data.starts_at,
        "ends_at": data.ends_at,
    }
    replay = await replayed(
        db,
        TeamMember,
        data.id,
        same=expected,
        in_scope=lambda row: repository.get_team(db, principal, row.team_id, Permission.TEAMS_WRITE),
    )
    if replay is not None:
        return replay
    team = await repository.get_team(db, principal, team_id, Permission.TEAMS_WRITE, for_update=True)
    if team.status == TeamStatus.DISSOLVED:
        raise IllegalTransition("a dissolved team takes no members", current_status=team.status)
    person = await repository.get_person(db, principal, data.person_id, field="body.person_id")
    if person.kind != PersonKind.STAFF or person.discipline is None:
        raise field_error("body.person_id", "team members are staff")
    starts_at, ends_at = periods.resolve(data.starts_at, data.ends_at)
    path = await org_repository.path_of(db, team.org_unit_id)
    return await periods.create_exclusive(  # no lock: the team row is held FOR UPDATE above
        db,
        TeamMember(
            id=data.id or uuid.uuid4(),
            team_id=team.id,
            person_id=person.id,
            role=data.role,
            discipline=data.discipline or person.discipline,
            starts_at=starts_at,
            ends_at=ends_at,
            district_id=team.district_id,
        ),
        same=expected,
        rules=member_rules(team.id, person.id, data.role),
        audit=lambda row: audit.record_change(
            db, principal, "team_member.added", row, org_path=path, team_id=team.id, role=data.role
        ),
    )


def member_rules(team_id: uuid.UUID, person_id: uuid.UUID, role: str) -> list[periods.Exclusive]:
    """No person twice on a team at once, and one leader at a time (checked under the team row lock)."""
    rules = [
        periods.Exclusive(
            TeamMember,
            (TeamMember.team_id == team_id, TeamMember.person_id == person_id),
            "the person is already on this team then",
            "conflicting_member_id",
        )
    ]
    if role == MemberRole.LEADER:
        rules.append(
            periods.Exclusive(
                TeamMember,
                (TeamMember.team_id == team_id, TeamMember.role == MemberRole.LEADER.value),
                "the team already has a leader then",
                "conflicting_member_id",
            )
        )
    return rules


async def list_members(
    db: AsyncSession, *, principal: Principal, team_id: uuid.UUID, at: datetime | None = None
) -> list[TeamMember]:
    """A team's members (all periods, or those active at ``at``), leader first."""
    await repository.get_team(db, principal, team_id)
    stmt = select(TeamMember).where(TeamMember.team_id == team_id)
    if at is not None:
        stmt = stmt.where(periods.active_at(TeamMember, at))
    rows = await db.scalars(stmt.order_by(TeamMember.role, TeamMember.starts_at, TeamMember.id))
    return list(rows.all())


async def set_member_end(
    db: AsyncSession,
    *,
    principal: Principal,
    member_id: uuid.UUID,
    data: PeriodUpdate,
    expected_version: int,
) -> TeamMember:
    """End (or move the end of) a membership."""
    member = await common.get_or_404(db, TeamMember, member_id, "team member")
    team = await repository.get_team(db, principal, member.team_id, Permission.TEAMS_WRITE, for_update=True)
    posting = await db.get(Posting, member.posting_id) if member.posting_id else None
    if posting is not None and posting.ends_at is not None and (data.ends_at is None or data.ends_at > posting.ends_at):
        raise field_error("body.ends_at", "a posted member's membership ends by the posting's end")
    return await common.change_end(
        db,
        principal,
        member,
        data,
        expected_version,
        rules=member_rules(team.id, member.person_id, member.role),
        unit_id=team.org_unit_id,
        action="team_member.period_changed",
        on_end=lambda at: hooks.member_ended(db, member, at),
    )
