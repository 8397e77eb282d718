"""Rules for institutions, people and teams.

Plain async functions: the session first, keyword arguments after, domain errors on
bad input, ``flush()`` only — so the API and the roster importer share them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock, lifecycle, periods
from services.core.accounts import users
from services.core.accounts.models import User
from services.core.assignments import repository as assignments_repository
from services.core.assignments.models import Pairing, Responsibility
from services.core.audit import service as audit
from services.core.errors import AlreadyExists, IllegalTransition, NotFound, field_error
from services.core.org import repository as org_repository
from services.core.org.models import OrgUnit, OrgUnitKind
from services.core.pagination import paginate
from services.core.replay import Created, insert_once, replayed
from services.core.security.pii import PiiCipher, mask_phone
from services.core.security.principal import Principal, institution_scope_clause
from services.core.security.roles import Permission
from services.core.teams import lifecycle as team_lifecycle
from services.core.teams import repository, validation
from services.core.teams.errors import MobileNotPermitted
from services.core.teams.models import (
    LEVEL_OF_KIND,
    MOBILE,
    Institution,
    InstitutionKind,
    InstitutionSteward,
    MemberRole,
    Person,
    PersonKind,
    Team,
    TeamBacking,
    TeamKind,
    TeamLevel,
    TeamMember,
    TeamStatus,
)
from services.core.teams.schemas import (
    BackingCreate,
    InstitutionCreate,
    InstitutionUpdate,
    MemberCreate,
    PeriodUpdate,
    PersonCreate,
    PersonMobileRead,
    PersonUpdate,
    StewardCreate,
    TeamCreate,
    TeamUpdate,
)
from services.core.versioning import check_version

M = TypeVar("M")

_LEVEL_RANK = {TeamLevel.DISTRICT: 0, TeamLevel.TOWN: 1, TeamLevel.VILLAGE: 2}


# --- institutions -------------------------------------------------------------------------


async def create_institution(
    db: AsyncSession, *, principal: Principal, data: InstitutionCreate
) -> Created[Institution]:
    """Register an institution in a district or town (a repeat with the same id and body is a replay)."""
    code = validation.credit_code(data.credit_code)
    expected = {"name": data.name.strip(), "kind": data.kind, "credit_code": code, "org_unit_id": data.org_unit_id}
    replay = await replayed(
        db,
        Institution,
        data.id,
        same=expected,
        in_scope=lambda row: repository.get_institution(db, principal, row.id, Permission.INSTITUTIONS_WRITE),
    )
    if replay is not None:
        return replay
    unit = await org_repository.get_in_scope(db, principal, data.org_unit_id, Permission.INSTITUTIONS_WRITE)
    if unit.kind not in (OrgUnitKind.DISTRICT, OrgUnitKind.TOWN):
        raise field_error("body.org_unit_id", "an institution sits in the district or a town")
    await _credit_code_free(db, code, but=data.id)
    result = await insert_once(
        db,
        Institution(
            id=data.id or uuid.uuid4(),
            name=data.name.strip(),
            kind=data.kind,
            level=LEVEL_OF_KIND[InstitutionKind(data.kind)],
            credit_code=code,
            org_unit_id=unit.id,
            district_id=unit.district_id,
        ),
        same=expected,
    )
    if result.created:
        await audit.record_change(
            db, principal, "institution.created", result.record, org_path=unit.path, kind=data.kind
        )
    return result


async def _credit_code_free(db: AsyncSession, code: str, *, but: uuid.UUID | None = None) -> None:
    clash = await db.scalar(select(Institution.id).where(Institution.credit_code == code))
    if clash is not None and clash != but:
        raise AlreadyExists(f"credit code {code} is already registered", existing_id=str(clash))


async def update_institution(
    db: AsyncSession,
    *,
    principal: Principal,
    institution_id: uuid.UUID,
    data: InstitutionUpdate,
    expected_version: int,
) -> Institution:
    """Rename an institution or correct its credit code."""
    institution = await repository.get_institution(db, principal, institution_id, Permission.INSTITUTIONS_WRITE)
    check_version(institution.version, expected_version)
    if data.name is not None:
        institution.name = data.name.strip()
    if data.credit_code is not None:
        code = validation.credit_code(data.credit_code)
        await _credit_code_free(db, code, but=institution.id)
        institution.credit_code = code
    await db.flush()
    await audit.record_change(
        db,
        principal,
        "institution.updated",
        institution,
        org_path=await org_repository.path_of(db, institution.org_unit_id),
    )
    return institution


async def list_institutions(
    db: AsyncSession,
    *,
    principal: Principal,
    org_unit_id: uuid.UUID | None = None,
    kind: InstitutionKind | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Institution], str | None]:
    """Institutions the principal may read, a page at a time."""
    stmt = repository.readable_institutions(principal)
    if org_unit_id is not None:
        stmt = stmt.where(Institution.org_unit_id == org_unit_id)
    if kind is not None:
        stmt = stmt.where(Institution.kind == kind.value)
    return await paginate(db, stmt, key=Institution.id, cursor=cursor, limit=limit)


async def appoint_steward(
    db: AsyncSession, *, principal: Principal, institution_id: uuid.UUID, data: StewardCreate
) -> Created[InstitutionSteward]:
    """Name the institution's family-doctor steward for a period; one at a time (409 on overlap)."""
    expected = {
        "institution_id": institution_id,
        "person_id": data.person_id,
        "starts_at": data.starts_at,
        "ends_at": data.ends_at,
    }
    replay = await replayed(
        db,
        InstitutionSteward,
        data.id,
        same=expected,
        in_scope=lambda row: repository.get_institution(
            db, principal, row.institution_id, Permission.INSTITUTIONS_WRITE
        ),
    )
    if replay is not None:
        return replay
    institution = await repository.get_institution(db, principal, institution_id, Permission.INSTITUTIONS_WRITE)
    person = await repository.get_person(db, principal, data.person_id, field="body.person_id")
    if person.kind != PersonKind.STAFF:
        raise field_error("body.person_id", "an institution steward is a staff member")
    starts_at, ends_at = periods.resolve(data.starts_at, data.ends_at)
    await _lock(db, Institution, institution.id)
    await periods.check_exclusive(
        db, _steward_rules(institution.id), starts_at=starts_at, ends_at=ends_at, exclude_id=data.id
    )
    result = await insert_once(
        db,
        InstitutionSteward(
            id=data.id or uuid.uuid4(),
            institution_id=institution.id,
            person_id=person.id,
            starts_at=starts_at,
            ends_at=ends_at,
            district_id=institution.district_id,
        ),
        same=expected,
    )
    if result.created:
        await audit.record_change(
            db,
            principal,
            "institution_steward.appointed",
            result.record,
            org_path=await org_repository.path_of(db, institution.org_unit_id),
            institution_id=institution.id,
        )
    return result


async def list_stewards(
    db: AsyncSession, *, principal: Principal, institution_id: uuid.UUID
) -> list[InstitutionSteward]:
    """Every steward the institution has had, oldest first."""
    await repository.get_institution(db, principal, institution_id)
    rows = await db.scalars(
        select(InstitutionSteward)
        .where(InstitutionSteward.institution_id == institution_id)
        .order_by(InstitutionSteward.starts_at)
    )
    return list(rows.all())


async def set_steward_end(
    db: AsyncSession,
    *,
    principal: Principal,
    steward_id: uuid.UUID,
    data: PeriodUpdate,
    expected_version: int,
) -> InstitutionSteward:
    """End (or move the end of) a stewardship; the new period must not overlap another."""
    steward = await _get_or_404(db, InstitutionSteward, steward_id, "institution steward")
    institution = await repository.get_institution(db, principal, steward.institution_id, Permission.INSTITUTIONS_WRITE)
    await periods.change_end(
        db,
        steward,
        ends_at=data.ends_at,
        expected_version=expected_version,
        rules=_steward_rules(institution.id),
        lock=lambda: _lock(db, Institution, institution.id),
        on_end=lambda at: assignments_repository.close_pairings(
            db, Pairing.institution_steward_id == steward.id, at=at
        ),
    )
    await audit.record_change(
        db,
        principal,
        "institution_steward.period_changed",
        steward,
        org_path=await org_repository.path_of(db, institution.org_unit_id),
    )
    return steward


def _steward_rules(institution_id: uuid.UUID) -> list[periods.Exclusive]:
    """One steward per institution at a time."""
    return [
        periods.Exclusive(
            InstitutionSteward,
            (InstitutionSteward.institution_id == institution_id,),
            "the institution already has a steward then",
            "conflicting_steward_id",
        )
    ]


# --- people -------------------------------------------------------------------------------


def mobile_index(pii: PiiCipher, phone: str) -> bytes:
    """The blind index of a normalised (11-digit) mobile: lookups and duplicate checks."""
    return MOBILE.index(pii, phone)


def seal_mobile(person: Person, pii: PiiCipher, phone: str) -> None:
    """Store a normalised mobile on ``person`` (its id must be set): ciphertext, blind index, mask."""
    person.mobile_enc = MOBILE.seal(pii, person.id, phone)
    person.mobile_bidx = mobile_index(pii, phone)
    person.mobile_masked = mask_phone(phone)


def open_mobile(person: Person, pii: PiiCipher) -> str:
    """The full mobile of ``person``; callers audit the reveal."""
    return MOBILE.open(pii, person.id, person.mobile_enc)


def mobile_visible(principal: Principal) -> ColumnElement[bool]:
    """SQL: the caller holds ``people:read_mobile`` over the person's unit (joined as ``OrgUnit``); a grant
    naming an institution covers that institution's staff and the community workers of its area."""
    return institution_scope_clause(
        principal, Permission.PEOPLE_READ_MOBILE, OrgUnit.path, Person.institution_id, with_unaffiliated=True
    )


async def read_mobile(
    db: AsyncSession, *, principal: Principal, person_id: uuid.UUID, pii: PiiCipher
) -> PersonMobileRead:
    """The full mobile for the roles allowed to see it (403 otherwise); audited in this transaction."""
    row = (
        await db.execute(
            repository.readable_people(principal)
            .add_columns(OrgUnit.path, mobile_visible(principal))
            .where(Person.id == person_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"person {person_id} not found")
    person, path, visible = row
    if not visible:
        raise MobileNotPermitted("this role sees mobile numbers masked")
    phone = open_mobile(person, pii)
    await audit.record(
        db,
        actor_id=principal.user_id,
        action="person.mobile_read",
        subject_type="person",
        subject_id=person.id,
        org_path=path,
        details={"fields": ["mobile"]},
    )
    return PersonMobileRead(person_id=person.id, mobile=phone)


async def create_person(
    db: AsyncSession, *, principal: Principal, data: PersonCreate, pii: PiiCipher
) -> Created[Person]:
    """Register a staff member or a community worker (a repeat with the same id and body is a replay)."""
    phone = validation.mobile(data.mobile)
    if data.kind is PersonKind.STAFF and data.discipline is None:
        raise field_error("body.discipline", "required for staff")
    if data.kind is PersonKind.COMMUNITY_WORKER and data.discipline is not None:
        raise field_error("body.discipline", "only staff have a discipline")
    if data.kind is PersonKind.COMMUNITY_WORKER and data.institution_id is not None:
        raise field_error("body.institution_id", "community workers do not belong to an institution")
    expected = {
        "name": data.name.strip(),
        "kind": data.kind,
        "discipline": data.discipline,
        "mobile_bidx": mobile_index(pii, phone),
        "institution_id": data.institution_id,
        "org_unit_id": data.org_unit_id,
        "user_id": data.user_id,
    }
    replay = await replayed(
        db,
        Person,
        data.id,
        same=expected,
        in_scope=lambda row: repository.get_person(db, principal, row.id, Permission.PEOPLE_WRITE),
    )
    if replay is not None:
        return replay
    unit_id = data.org_unit_id
    if data.institution_id is not None:
        institution = await repository.get_institution(db, principal, data.institution_id, field="body.institution_id")
        unit_id = unit_id or institution.org_unit_id
    if unit_id is None:
        raise field_error("body.org_unit_id", "required for community workers (their village or grid)")
    unit = await org_repository.get_in_scope(db, principal, unit_id, Permission.PEOPLE_WRITE)
    if not principal.can_at_institution(Permission.PEOPLE_WRITE, unit.path, data.institution_id):
        raise field_error("body.institution_id", "you manage the staff of one institution only")
    if data.user_id is not None:
        await _user_linkable(db, principal, data.user_id, but=data.id)
    person = Person(
        id=data.id or uuid.uuid4(),
        name=data.name.strip(),
        kind=data.kind,
        discipline=data.discipline,
        institution_id=data.institution_id,
        org_unit_id=unit.id,
        user_id=data.user_id,
        district_id=unit.district_id,
    )
    seal_mobile(person, pii, phone)
    result = await insert_once(db, person, same=expected)
    if result.created:
        await audit.record_change(db, principal, "person.created", result.record, org_path=unit.path, kind=data.kind)
    return result


async def _user_linkable(
    db: AsyncSession, principal: Principal, user_id: uuid.UUID, *, but: uuid.UUID | None = None
) -> None:
    """Only an account the caller itself manages may be linked, and only to one person."""
    manageable = await db.scalar(
        select(users.readable(principal, Permission.USERS_WRITE).where(User.id == user_id).exists())
    )
    if not manageable:
        raise field_error("body.user_id", "no such user account in your area")
    linked = await db.scalar(select(Person.id).where(Person.user_id == user_id))
    if linked is not None and linked != but:
        raise AlreadyExists("that account is already linked to another person")


async def update_person(
    db: AsyncSession,
    *,
    principal: Principal,
    person_id: uuid.UUID,
    data: PersonUpdate,
    expected_version: int,
    pii: PiiCipher,
) -> Person:
    """Correct a name, phone or discipline, or link a login account."""
    person = await repository.get_person(db, principal, person_id, Permission.PEOPLE_WRITE)
    check_version(person.version, expected_version)
    if data.name is not None:
        person.name = data.name.strip()
    if data.mobile is not None:
        phone = validation.mobile(data.mobile)
        if person.mobile_bidx != mobile_index(pii, phone):
            seal_mobile(person, pii, phone)
    if data.discipline is not None:
        if person.kind != PersonKind.STAFF:
            raise field_error("body.discipline", "only staff have a discipline")
        person.discipline = data.discipline
    if data.user_id is not None:
        await _user_linkable(db, principal, data.user_id, but=person.id)
        person.user_id = data.user_id
    await db.flush()
    await audit.record_change(
        db, principal, "person.updated", person, org_path=await org_repository.path_of(db, person.org_unit_id)
    )
    return person


async def list_people(
    db: AsyncSession,
    *,
    principal: Principal,
    org_unit_id: uuid.UUID | None = None,
    institution_id: uuid.UUID | None = None,
    kind: PersonKind | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Person], str | None]:
    """People the principal may read, a page at a time."""
    stmt = repository.readable_people(principal)
    if org_unit_id is not None:
        stmt = stmt.where(Person.org_unit_id == org_unit_id)
    if institution_id is not None:
        stmt = stmt.where(Person.institution_id == institution_id)
    if kind is not None:
        stmt = stmt.where(Person.kind == kind.value)
    return await paginate(db, stmt, key=Person.id, cursor=cursor, limit=limit)


# --- teams --------------------------------------------------------------------------------


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
            now = clock.now()
            current = await db.scalar(
                select(Responsibility.id)
                .where(
                    Responsibility.team_id == team.id,
                    or_(Responsibility.ends_at.is_(None), Responsibility.ends_at > now),
                )
                .limit(1)
            )
            if current is not None:
                raise IllegalTransition(
                    "the team is still responsible for an area; end its assignments first",
                    conflicting_assignment_id=str(current),
                )
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
    await periods.check_exclusive(
        db, _member_rules(team.id, person.id, data.role), starts_at=starts_at, ends_at=ends_at, exclude_id=data.id
    )
    result = await insert_once(
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
    )
    if result.created:
        await audit.record_change(
            db,
            principal,
            "team_member.added",
            result.record,
            org_path=await org_repository.path_of(db, team.org_unit_id),
            team_id=team.id,
            role=data.role,
        )
    return result


def _member_rules(team_id: uuid.UUID, person_id: uuid.UUID, role: str) -> list[periods.Exclusive]:
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
    member = await _get_or_404(db, TeamMember, member_id, "team member")
    team = await repository.get_team(db, principal, member.team_id, Permission.TEAMS_WRITE, for_update=True)
    await periods.change_end(
        db,
        member,
        ends_at=data.ends_at,
        expected_version=expected_version,
        rules=_member_rules(team.id, member.person_id, member.role),
        on_end=lambda at: assignments_repository.close_pairings(db, Pairing.team_member_id == member.id, at=at),
    )
    await audit.record_change(
        db, principal, "team_member.period_changed", member, org_path=await org_repository.path_of(db, team.org_unit_id)
    )
    return member


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
    await periods.check_exclusive(
        db, _backing_rules(backed.id, backing.id), starts_at=starts_at, ends_at=ends_at, exclude_id=data.id
    )
    result = await insert_once(
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
    )
    if result.created:
        await audit.record_change(
            db,
            principal,
            "team_backing.created",
            result.record,
            org_path=await org_repository.path_of(db, backed.org_unit_id),
            backing_team_id=backing.id,
        )
    return result


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
    row = await _get_or_404(db, TeamBacking, backing_id, "team backing")
    backed = await repository.get_team(db, principal, row.backed_team_id, Permission.TEAMS_WRITE, for_update=True)
    await periods.change_end(
        db,
        row,
        ends_at=data.ends_at,
        expected_version=expected_version,
        rules=_backing_rules(row.backed_team_id, row.backing_team_id),
    )
    await audit.record_change(
        db, principal, "team_backing.period_changed", row, org_path=await org_repository.path_of(db, backed.org_unit_id)
    )
    return row


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


# --- helpers ------------------------------------------------------------------------------


async def _lock(db: AsyncSession, model: Any, ident: uuid.UUID) -> None:
    """Row lock on a parent record: serialises concurrent period checks for it."""
    await db.execute(select(model.id).where(model.id == ident).with_for_update())


async def _get_or_404(db: AsyncSession, model: type[M], ident: uuid.UUID, what: str) -> M:
    row = await db.get(model, ident)
    if row is None:
        raise NotFound(f"{what} {ident} not found")
    return row
