"""People lent across institutions: a district doctor posted down to a primary institution (县聘乡用,
seed 000) or a social-run nursing station's staff joining a primary institution's teams (seed 001).

A posting is a period record (one per person at a time). The host institution's team writers put the
posted person on its teams through the posting — they could not reach a district hospital's staff
otherwise, since people are read within their own unit's subtree — and those memberships lie inside the
posting's period: shortening the posting ends them with it, so "who was on this team at T" stays true.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.core import periods
from services.core.audit import service as audit
from services.core.errors import IllegalTransition, NotFound, PeriodOverlap, field_error
from services.core.org import repository as org_repository
from services.core.org.models import OrgUnit
from services.core.pagination import paginate
from services.core.replay import Created, replayed
from services.core.security.principal import Principal, institution_scope_clause, scope_clause
from services.core.security.roles import Permission
from services.core.teams import common, hooks, members, repository
from services.core.teams.models import (
    Institution,
    InstitutionLevel,
    Person,
    PersonKind,
    Posting,
    PostingKind,
    TeamMember,
    TeamStatus,
)
from services.core.teams.schemas import PeriodUpdate, PostingCreate, PostingMemberCreate

# Which home institution may lend to which host, by level: the two arrangements the plans describe.
_LEVELS = {
    PostingKind.COUNTY_HIRED: InstitutionLevel.DISTRICT,
    PostingKind.SOCIAL_PARTNER: InstitutionLevel.SOCIAL,
}


def readable(principal: Principal, permission: Permission = Permission.TEAMS_READ) -> Select[Posting]:
    """Postings whose host or home institution sits in the caller's subtree (both sides may read them).

    For writes (``postings:write``) only the host side counts, narrowed to one institution for a grant that
    names it.
    """
    host = aliased(Institution)
    host_unit = aliased(OrgUnit)
    stmt = (
        select(Posting)
        .join(host, host.id == Posting.host_institution_id)
        .join(host_unit, host_unit.id == host.org_unit_id)
    )
    if permission is not Permission.TEAMS_READ:
        return stmt.where(institution_scope_clause(principal, permission, host_unit.path, host.id))
    home = aliased(Institution)
    home_unit = aliased(OrgUnit)
    return (
        stmt.join(home, home.id == Posting.home_institution_id)
        .join(home_unit, home_unit.id == home.org_unit_id)
        .where(
            or_(
                scope_clause(principal, permission, host_unit.path),
                scope_clause(principal, permission, home_unit.path),
            )
        )
    )


async def get(
    db: AsyncSession,
    principal: Principal,
    posting_id: uuid.UUID,
    permission: Permission = Permission.TEAMS_READ,
    *,
    for_update: bool = False,
) -> Posting:
    """One posting in scope, or 404."""
    stmt = readable(principal, permission).where(Posting.id == posting_id)
    if for_update:
        stmt = stmt.with_for_update(of=Posting)
    found = await db.scalar(stmt)
    if found is None:
        raise NotFound(f"posting {posting_id} not found")
    return found


def _rules(person_id: uuid.UUID) -> list[periods.Exclusive]:
    """A person works for one other institution at a time."""
    return [
        periods.Exclusive(
            Posting, (Posting.person_id == person_id,), "the person is already posted then", "conflicting_posting_id"
        )
    ]


async def create(db: AsyncSession, *, principal: Principal, data: PostingCreate) -> Created[Posting]:
    """Post a staff member to a primary institution for a period (a retry with the same id is safe)."""
    expected = {
        "person_id": data.person_id,
        "host_institution_id": data.host_institution_id,
        "kind": data.kind.value,
        "full_time": data.full_time,
        "starts_at": data.starts_at,
        "ends_at": data.ends_at,
    }
    replay = await replayed(
        db,
        Posting,
        data.id,
        same=expected,
        in_scope=lambda row: get(db, principal, row.id, Permission.POSTINGS_WRITE),
    )
    if replay is not None:
        return replay
    host = await repository.get_institution(
        db, principal, data.host_institution_id, Permission.POSTINGS_WRITE, field="body.host_institution_id"
    )
    if host.level != InstitutionLevel.PRIMARY:
        raise field_error("body.host_institution_id", "staff are posted to a primary institution")
    person = await _lendable_person(db, principal, data.person_id)
    if person is None:
        raise field_error("body.person_id", f"no staff member {data.person_id} of an institution in your scope")
    home = await db.get(Institution, person.institution_id)
    if person.kind != PersonKind.STAFF or home is None:
        raise field_error("body.person_id", "only staff of an institution are posted")
    if home.level != _LEVELS[data.kind]:
        wanted = "a district-level institution" if data.kind is PostingKind.COUNTY_HIRED else "a social institution"
        raise field_error("body.person_id", f"a {data.kind.value} posting lends staff of {wanted}")
    if data.kind is PostingKind.COUNTY_HIRED and data.ends_at is None:
        raise field_error("body.ends_at", "a county_hired posting has a term (seed 000: a year)")
    starts_at, ends_at = periods.resolve(data.starts_at, data.ends_at)
    path = await org_repository.path_of(db, host.org_unit_id)
    return await periods.create_exclusive(
        db,
        Posting(
            id=data.id or uuid.uuid4(),
            person_id=person.id,
            home_institution_id=home.id,
            host_institution_id=host.id,
            kind=data.kind.value,
            full_time=data.full_time,
            starts_at=starts_at,
            ends_at=ends_at,
            district_id=host.district_id,
        ),
        same=expected,
        rules=_rules(person.id),
        lock=lambda: common.lock(db, Person, person.id),
        audit=lambda row: audit.record_change(
            db, principal, "posting.created", row, org_path=path, person_id=person.id, kind=data.kind.value
        ),
    )


async def _lendable_person(db: AsyncSession, principal: Principal, person_id: uuid.UUID) -> Person | None:
    """A staff member whose home institution the caller may lend from: its unit is in the caller's
    ``postings:write`` subtree (a district administrator reaches district hospitals' staff)."""
    stmt = (
        select(Person)
        .join(Institution, Institution.id == Person.institution_id)
        .join(OrgUnit, OrgUnit.id == Institution.org_unit_id)
        .where(Person.id == person_id, scope_clause(principal, Permission.POSTINGS_WRITE, OrgUnit.path))
    )
    found: Person | None = await db.scalar(stmt)
    return found


async def list_postings(
    db: AsyncSession,
    *,
    principal: Principal,
    institution_id: uuid.UUID | None,
    person_id: uuid.UUID | None,
    at: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Posting], str | None]:
    """Postings in scope, to or from ``institution_id``, of ``person_id``, in force at ``at``."""
    stmt = readable(principal)
    if institution_id is not None:
        stmt = stmt.where(
            or_(Posting.host_institution_id == institution_id, Posting.home_institution_id == institution_id)
        )
    if person_id is not None:
        stmt = stmt.where(Posting.person_id == person_id)
    if at is not None:
        stmt = stmt.where(periods.active_at(Posting, at))
    return await paginate(db, stmt, key=Posting.id, cursor=cursor, limit=limit)


async def add_member(
    db: AsyncSession, *, principal: Principal, posting_id: uuid.UUID, data: PostingMemberCreate
) -> Created[TeamMember]:
    """Put the posted person on one of the host's teams, for (a part of) the posting's period."""
    expected = {
        "team_id": data.team_id,
        "posting_id": posting_id,
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
    posting = await get(db, principal, posting_id)
    team = await repository.get_team(
        db, principal, data.team_id, Permission.TEAMS_WRITE, field="body.team_id", for_update=True
    )
    if team.institution_id != posting.host_institution_id:
        raise field_error("body.team_id", "the team is not one of the posting's host institution")
    if team.status == TeamStatus.DISSOLVED:
        raise IllegalTransition("a dissolved team takes no members", current_status=team.status)
    starts_at = data.starts_at or posting.starts_at
    ends_at = data.ends_at or posting.ends_at
    if starts_at < posting.starts_at or (posting.ends_at is not None and starts_at >= posting.ends_at):
        raise field_error("body.starts_at", "must lie inside the posting's period")
    if posting.ends_at is not None and (ends_at is None or ends_at > posting.ends_at):
        raise field_error("body.ends_at", "must not run past the posting's end")
    starts_at, ends_at = periods.resolve(starts_at, ends_at)
    person = await db.get(Person, posting.person_id)
    assert person is not None  # noqa: S101 - a foreign key
    path = await org_repository.path_of(db, team.org_unit_id)
    return await periods.create_exclusive(  # no lock: the team row is held FOR UPDATE above
        db,
        TeamMember(
            id=data.id or uuid.uuid4(),
            team_id=team.id,
            person_id=posting.person_id,
            role=data.role,
            discipline=data.discipline or person.discipline,
            starts_at=starts_at,
            ends_at=ends_at,
            district_id=team.district_id,
            posting_id=posting.id,
        ),
        same=expected,
        rules=members.member_rules(team.id, posting.person_id, data.role),
        audit=lambda row: audit.record_change(
            db, principal, "team_member.added", row, org_path=path, team_id=team.id, role=data.role, posted=True
        ),
    )


async def set_end(
    db: AsyncSession, *, principal: Principal, posting_id: uuid.UUID, data: PeriodUpdate, expected_version: int
) -> Posting:
    """End (or move the end of) a posting; its team memberships running past the new end end with it.

    A membership that would only start at or after the new end refuses the change (409 ``period_overlap``
    naming it): remove or move it first.
    """
    posting = await get(db, principal, posting_id, Permission.POSTINGS_WRITE, for_update=True)
    if data.ends_at is None and posting.kind == PostingKind.COUNTY_HIRED:
        raise field_error("body.ends_at", "a county_hired posting has a term")
    host = await db.get(Institution, posting.host_institution_id)
    assert host is not None  # noqa: S101 - a foreign key

    async def end_memberships(at: datetime) -> list[uuid.UUID]:
        rows = list(
            (
                await db.scalars(
                    select(TeamMember)
                    .where(
                        TeamMember.posting_id == posting.id, or_(TeamMember.ends_at.is_(None), TeamMember.ends_at > at)
                    )
                    .order_by(TeamMember.starts_at)
                    .with_for_update()
                )
            ).all()
        )
        later = [m.id for m in rows if m.starts_at >= at]
        if later:
            raise PeriodOverlap(
                "a team membership of this posting starts after the new end; end or move it first",
                conflicting_member_id=str(later[0]),
            )
        for m in rows:
            await periods.change_end(
                db,
                m,
                ends_at=at,
                expected_version=m.version,
                rules=members.member_rules(m.team_id, m.person_id, m.role),
                on_end=lambda end, m=m: hooks.member_ended(db, m, end),  # type: ignore[misc]
            )
        return []

    return await common.change_end(
        db,
        principal,
        posting,
        data,
        expected_version,
        rules=_rules(posting.person_id),
        unit_id=host.org_unit_id,
        action="posting.period_changed",
        lock=lambda: common.lock(db, Person, posting.person_id),
        on_end=end_memberships,
    )
