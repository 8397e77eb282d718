"""Rules for responsibility, community roles and pairings.

Overlaps are checked under a row lock on the org unit concerned (see
``repository.lock_unit``): that lock, not a database constraint, is what keeps two
concurrent assignments for one grid from both succeeding.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import periods
from services.core.assignments import repository
from services.core.assignments.errors import AssignmentOverlap, PairingOutsideArea
from services.core.assignments.models import CommunityRole, CommunityRoleKind, Pairing, PairingKind, Responsibility
from services.core.assignments.schemas import CommunityRoleCreate, PairingCreate, ResponsibilityCreate
from services.core.audit import service as audit
from services.core.errors import NotFound, field_error
from services.core.org import repository as org_repository
from services.core.org.models import OrgUnit, OrgUnitKind
from services.core.pagination import paginate
from services.core.replay import Created, replayed
from services.core.security.principal import Principal
from services.core.security.roles import Permission
from services.core.teams import repository as teams_repository
from services.core.teams.models import (
    InstitutionSteward,
    MemberRole,
    PersonKind,
    Team,
    TeamMember,
    TeamStatus,
)
from services.core.teams.schemas import PeriodUpdate

_UNIT_OF_ROLE = {
    CommunityRoleKind.COMMUNITY_STEWARD: OrgUnitKind.VILLAGE,
    CommunityRoleKind.GRID_LEADER: OrgUnitKind.GRID,
    CommunityRoleKind.SENTINEL: OrgUnitKind.GRID,
}
_COMMUNITY_SIDE = {
    PairingKind.STEWARDS: CommunityRoleKind.COMMUNITY_STEWARD,
    PairingKind.LEADERS: CommunityRoleKind.GRID_LEADER,
    PairingKind.MEMBER_SENTINEL: CommunityRoleKind.SENTINEL,
}


_Dated = TypeVar("_Dated", Responsibility, CommunityRole, Pairing)


async def _change_end(
    db: AsyncSession,
    principal: Principal,
    row: _Dated,
    data: PeriodUpdate,
    expected_version: int,
    *,
    rules: list[periods.Exclusive],
    action: str,
    on_end: Callable[[datetime], Awaitable[Sequence[uuid.UUID]]] | None = None,
) -> _Dated:
    """``periods.change_end`` under the lock of the row's unit, then the audit event ``action`` scoped by that unit."""
    await periods.change_end(
        db,
        row,
        ends_at=data.ends_at,
        expected_version=expected_version,
        rules=rules,
        lock=lambda: repository.lock_unit(db, row.org_unit_id),
        on_end=on_end,
    )
    await audit.record_change(db, principal, action, row, org_path=await org_repository.path_of(db, row.org_unit_id))
    return row


# --- responsibility -----------------------------------------------------------------------


async def assign_team(db: AsyncSession, *, principal: Principal, data: ResponsibilityCreate) -> Created[Responsibility]:
    """Make a team responsible for a village or grid for a period (a repeat with the same id and body is a replay).

    Two assignments of the same unit may not overlap (409 ``assignment_overlap`` naming
    ``conflicting_assignment_id``); a grid assignment may overlap its village's (it overrides it).
    """
    expected = {
        "team_id": data.team_id,
        "org_unit_id": data.org_unit_id,
        "starts_at": data.starts_at,
        "ends_at": data.ends_at,
    }
    replay = await replayed(
        db,
        Responsibility,
        data.id,
        same=expected,
        in_scope=lambda row: repository.get_responsibility(db, principal, row.id, Permission.ASSIGNMENTS_WRITE),
    )
    if replay is not None:
        return replay
    unit = await org_repository.get_in_scope(db, principal, data.org_unit_id, Permission.ASSIGNMENTS_WRITE)
    if unit.kind not in (OrgUnitKind.VILLAGE, OrgUnitKind.GRID):
        raise field_error("body.org_unit_id", "a team is responsible for a village/community or a grid")
    team = await teams_repository.get_team(db, principal, data.team_id, field="body.team_id")
    if team.status == TeamStatus.DISSOLVED:
        raise field_error("body.team_id", "a dissolved team cannot take on an area")
    starts_at, ends_at = periods.resolve(data.starts_at, data.ends_at)
    return await periods.create_exclusive(
        db,
        Responsibility(
            id=data.id or uuid.uuid4(),
            team_id=team.id,
            org_unit_id=unit.id,
            unit_kind=unit.kind,
            starts_at=starts_at,
            ends_at=ends_at,
            district_id=unit.district_id,
        ),
        same=expected,
        rules=_assignment_rules(unit.id),
        lock=lambda: repository.lock_unit(db, unit.id),
        audit=lambda row: audit.record_change(
            db, principal, "responsibility.assigned", row, org_path=unit.path, team_id=team.id, org_unit_id=unit.id
        ),
    )


def _assignment_rules(unit_id: uuid.UUID) -> list[periods.Exclusive]:
    """One responsible team per unit at a time (409 ``assignment_overlap``, a kind of ``period_overlap``)."""
    return [
        periods.Exclusive(
            Responsibility,
            (Responsibility.org_unit_id == unit_id,),
            "another team is responsible for this unit in that period: assignment",
            "conflicting_assignment_id",
            AssignmentOverlap,
        )
    ]


async def set_assignment_end(
    db: AsyncSession,
    *,
    principal: Principal,
    assignment_id: uuid.UUID,
    data: PeriodUpdate,
    expected_version: int,
) -> Responsibility:
    """End an assignment (or move its end); history is kept, so past questions still answer."""
    row = await repository.get_responsibility(db, principal, assignment_id, Permission.ASSIGNMENTS_WRITE)
    return await _change_end(
        db,
        principal,
        row,
        data,
        expected_version,
        rules=_assignment_rules(row.org_unit_id),
        action="responsibility.period_changed",
    )


async def list_assignments(
    db: AsyncSession,
    *,
    principal: Principal,
    team_id: uuid.UUID | None = None,
    org_unit_id: uuid.UUID | None = None,
    at: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Responsibility], str | None]:
    """Responsibility records in scope, optionally for a team, a unit, or in force at ``at``."""
    stmt = repository.readable_responsibilities(principal)
    if team_id is not None:
        stmt = stmt.where(Responsibility.team_id == team_id)
    if org_unit_id is not None:
        stmt = stmt.where(Responsibility.org_unit_id == org_unit_id)
    if at is not None:
        stmt = stmt.where(periods.active_at(Responsibility, at))
    return await paginate(db, stmt, key=Responsibility.id, cursor=cursor, limit=limit)


# --- community roles ----------------------------------------------------------------------


async def add_community_role(
    db: AsyncSession, *, principal: Principal, data: CommunityRoleCreate
) -> Created[CommunityRole]:
    """A community steward (village), grid leader or sentinel (grid) for a period."""
    expected = {
        "role": data.role,
        "person_id": data.person_id,
        "org_unit_id": data.org_unit_id,
        "starts_at": data.starts_at,
        "ends_at": data.ends_at,
    }
    replay = await replayed(
        db,
        CommunityRole,
        data.id,
        same=expected,
        in_scope=lambda row: repository.get_community_role(db, principal, row.id, Permission.ASSIGNMENTS_WRITE),
    )
    if replay is not None:
        return replay
    unit = await org_repository.get_in_scope(db, principal, data.org_unit_id, Permission.ASSIGNMENTS_WRITE)
    if unit.kind != _UNIT_OF_ROLE[data.role]:
        raise field_error("body.org_unit_id", f"a {data.role.value} serves a {_UNIT_OF_ROLE[data.role].value}")
    person = await teams_repository.get_person(db, principal, data.person_id, field="body.person_id")
    if person.kind != PersonKind.COMMUNITY_WORKER:
        raise field_error("body.person_id", "community roles are held by community workers")
    starts_at, ends_at = periods.resolve(data.starts_at, data.ends_at)
    return await periods.create_exclusive(
        db,
        CommunityRole(
            id=data.id or uuid.uuid4(),
            role=data.role,
            person_id=person.id,
            org_unit_id=unit.id,
            starts_at=starts_at,
            ends_at=ends_at,
            district_id=unit.district_id,
        ),
        same=expected,
        rules=_role_rules(data.role, unit.id, person.id),
        lock=lambda: repository.lock_unit(db, unit.id),
        audit=lambda row: audit.record_change(
            db, principal, "community_role.added", row, org_path=unit.path, role=data.role, org_unit_id=unit.id
        ),
    )


def _role_rules(role: str, unit_id: uuid.UUID, person_id: uuid.UUID) -> list[periods.Exclusive]:
    """One community steward per village and one grid leader per grid at a time (sentinels are many);
    nobody holds the same role in the same unit twice at once."""
    same_unit = (CommunityRole.org_unit_id == unit_id, CommunityRole.role == role)
    rules = []
    if role != CommunityRoleKind.SENTINEL:
        rules.append(
            periods.Exclusive(
                CommunityRole, same_unit, f"the unit already has a {role} in that period", "conflicting_role_id"
            )
        )
    rules.append(
        periods.Exclusive(
            CommunityRole,
            (*same_unit, CommunityRole.person_id == person_id),
            "the person already holds this role here in that period",
            "conflicting_role_id",
        )
    )
    return rules


async def set_community_role_end(
    db: AsyncSession,
    *,
    principal: Principal,
    role_id: uuid.UUID,
    data: PeriodUpdate,
    expected_version: int,
) -> CommunityRole:
    """End a community role (or move its end)."""
    row = await repository.get_community_role(db, principal, role_id, Permission.ASSIGNMENTS_WRITE)
    return await _change_end(
        db,
        principal,
        row,
        data,
        expected_version,
        rules=_role_rules(row.role, row.org_unit_id, row.person_id),
        action="community_role.period_changed",
        on_end=lambda at: repository.close_pairings(db, Pairing.community_role_id == row.id, at=at),
    )


async def list_community_roles(
    db: AsyncSession,
    *,
    principal: Principal,
    org_unit_id: uuid.UUID | None = None,
    person_id: uuid.UUID | None = None,
    role: CommunityRoleKind | None = None,
    at: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[CommunityRole], str | None]:
    """Community roles in scope, with optional filters."""
    stmt = repository.readable_community_roles(principal)
    if org_unit_id is not None:
        stmt = stmt.where(CommunityRole.org_unit_id == org_unit_id)
    if person_id is not None:
        stmt = stmt.where(CommunityRole.person_id == person_id)
    if role is not None:
        stmt = stmt.where(CommunityRole.role == role.value)
    if at is not None:
        stmt = stmt.where(periods.active_at(CommunityRole, at))
    return await paginate(db, stmt, key=CommunityRole.id, cursor=cursor, limit=limit)


# --- pairings -----------------------------------------------------------------------------


async def create_pairing(db: AsyncSession, *, principal: Principal, data: PairingCreate) -> Created[Pairing]:
    """Pair a medical-side role with a community-side role for a period.

    Both must be in force at the start, and share an area then (422
    ``pairing_outside_area``): the member's (leader's) team responsible for the
    sentinel's (grid leader's) grid; the steward's institution responsible in, or
    sitting in the town of, the community steward's village. A community role has
    one pairing at a time (409 ``period_overlap`` naming ``conflicting_pairing_id``).
    """
    medical_column = "institution_steward_id" if data.kind is PairingKind.STEWARDS else "team_member_id"
    expected = {
        "kind": data.kind,
        medical_column: data.medical_side_id,
        "community_role_id": data.community_role_id,
        "starts_at": data.starts_at,
        "ends_at": data.ends_at,
    }
    replay = await replayed(
        db,
        Pairing,
        data.id,
        same=expected,
        in_scope=lambda row: repository.get_pairing(db, principal, row.id, Permission.ASSIGNMENTS_WRITE),
    )
    if replay is not None:
        return replay
    role = await _community_side(db, principal, data)
    starts_at, ends_at = periods.resolve(data.starts_at, data.ends_at)
    if not periods.contains(role.starts_at, role.ends_at, starts_at):
        raise field_error("body.community_role_id", "the community role is not in force at the pairing's start")
    await repository.lock_unit(db, role.org_unit_id)
    steward_id: uuid.UUID | None = None
    member_id: uuid.UUID | None = None
    if data.kind is PairingKind.STEWARDS:
        steward_id = await _check_stewards(db, principal, data.medical_side_id, role, starts_at)
    else:
        member_id = await _check_member(db, principal, data, role, starts_at)
    path = await org_repository.path_of(db, role.org_unit_id)
    return await periods.create_exclusive(  # the unit is locked above: the checks of both sides read under it
        db,
        Pairing(
            id=data.id or uuid.uuid4(),
            kind=data.kind,
            institution_steward_id=steward_id,
            team_member_id=member_id,
            community_role_id=role.id,
            org_unit_id=role.org_unit_id,
            starts_at=starts_at,
            ends_at=ends_at,
            district_id=role.district_id,
        ),
        same=expected,
        rules=_pairing_rules(role.id),
        audit=lambda row: audit.record_change(db, principal, "pairing.created", row, org_path=path, kind=data.kind),
    )


async def _community_side(db: AsyncSession, principal: Principal, data: PairingCreate) -> CommunityRole:
    role = await db.scalar(
        repository.readable_community_roles(principal, Permission.ASSIGNMENTS_WRITE).where(
            CommunityRole.id == data.community_role_id
        )
    )
    if role is None:
        raise field_error("body.community_role_id", "no such community role in your scope")
    if role.role != _COMMUNITY_SIDE[data.kind]:
        raise field_error("body.community_role_id", f"a {data.kind.value} pairing needs a {_COMMUNITY_SIDE[data.kind]}")
    return role


async def _check_member(
    db: AsyncSession, principal: Principal, data: PairingCreate, role: CommunityRole, at: datetime
) -> uuid.UUID:
    member = await db.get(TeamMember, data.medical_side_id)
    if member is None:
        raise field_error("body.medical_side_id", "no such team member")
    await teams_repository.get_team(db, principal, member.team_id, field="body.medical_side_id")
    if data.kind is PairingKind.LEADERS and member.role != MemberRole.LEADER:
        raise field_error("body.medical_side_id", "a leaders pairing needs the team leader's membership")
    if not periods.contains(member.starts_at, member.ends_at, at):
        raise field_error("body.medical_side_id", "the membership is not in force at the pairing's start")
    responsible = await repository.responsibility_at(db, grid_id=role.org_unit_id, at=at)
    if responsible is None or responsible.team_id != member.team_id:
        raise PairingOutsideArea(
            "the member's team is not responsible for this grid at the pairing's start",
            errors=[{"field": "body.medical_side_id", "message": "team not responsible for the grid then"}],
        )
    return member.id


async def _check_stewards(
    db: AsyncSession, principal: Principal, steward_id: uuid.UUID, role: CommunityRole, at: datetime
) -> uuid.UUID:
    steward = await db.get(InstitutionSteward, steward_id)
    if steward is None:
        raise field_error("body.medical_side_id", "no such institution steward")
    institution = await teams_repository.get_institution(
        db, principal, steward.institution_id, field="body.medical_side_id"
    )
    if not periods.contains(steward.starts_at, steward.ends_at, at):
        raise field_error("body.medical_side_id", "the stewardship is not in force at the pairing's start")
    village = await db.get(OrgUnit, role.org_unit_id)
    home = await db.get(OrgUnit, institution.org_unit_id)
    if village is None or home is None:  # foreign keys make this unreachable; keep mypy and readers honest
        raise NotFound("org unit not found")
    sits_in_town = home.kind == OrgUnitKind.TOWN and village.path.startswith(home.path)
    if not sits_in_town:
        grids = select(OrgUnit.id).where(OrgUnit.parent_id == village.id)
        serves = await db.scalar(
            select(
                exists().where(
                    Responsibility.team_id == Team.id,
                    Team.institution_id == institution.id,
                    or_(Responsibility.org_unit_id == village.id, Responsibility.org_unit_id.in_(grids)),
                    periods.active_at(Responsibility, at),
                )
            )
        )
        if not serves:
            raise PairingOutsideArea(
                "the steward's institution neither sits in this town nor serves this village at the pairing's start",
                errors=[{"field": "body.medical_side_id", "message": "institution does not serve the village then"}],
            )
    return steward.id


def _pairing_rules(community_role_id: uuid.UUID) -> list[periods.Exclusive]:
    """A community role has one pairing at a time."""
    return [
        periods.Exclusive(
            Pairing,
            (Pairing.community_role_id == community_role_id,),
            "the community role is already paired in that period",
            "conflicting_pairing_id",
        )
    ]


async def set_pairing_end(
    db: AsyncSession,
    *,
    principal: Principal,
    pairing_id: uuid.UUID,
    data: PeriodUpdate,
    expected_version: int,
) -> Pairing:
    """End a pairing (or move its end)."""
    row = await repository.get_pairing(db, principal, pairing_id, Permission.ASSIGNMENTS_WRITE)
    return await _change_end(
        db,
        principal,
        row,
        data,
        expected_version,
        rules=_pairing_rules(row.community_role_id),
        action="pairing.period_changed",
    )


async def list_pairings(
    db: AsyncSession,
    *,
    principal: Principal,
    kind: PairingKind | None = None,
    org_unit_id: uuid.UUID | None = None,
    team_member_id: uuid.UUID | None = None,
    at: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Pairing], str | None]:
    """Pairings in scope, with optional filters."""
    stmt = repository.readable_pairings(principal)
    if kind is not None:
        stmt = stmt.where(Pairing.kind == kind.value)
    if org_unit_id is not None:
        stmt = stmt.where(Pairing.org_unit_id == org_unit_id)
    if team_member_id is not None:
        stmt = stmt.where(Pairing.team_member_id == team_member_id)
    if at is not None:
        stmt = stmt.where(periods.active_at(Pairing, at))
    return await paginate(db, stmt, key=Pairing.id, cursor=cursor, limit=limit)
