"""Rules for family-doctor signings and contacts.

* A signing covers ``[starts_on, ends_on)`` in China time, at least one year, at most five.
* One signing per resident covers any day: a create overlapping another answers 409 naming it.
  The check runs under a lock on the resident row, so two concurrent creates cannot both pass.
* The team must be responsible for the resident's grid when the signing starts
  (``responsible_for`` at the first day's start, or now when the signing starts today).
* A renewal starts where the old contract ends; a signing is renewed at most once.
* A termination names a reason from a fixed list and the first day no longer covered.
* A contact is recorded by a current member of the team the resident was signed with on that
  day; its notes are encrypted and never shown to sentinels.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services.core import clock, lifecycle
from services.core.assignments.queries import responsible_for
from services.core.audit import service as audit
from services.core.errors import AlreadyExists, Forbidden, IllegalTransition, NotFound, field_error
from services.core.org.models import OrgUnit, OrgUnitKind
from services.core.pagination import paginate, paginate_rows
from services.core.periods import active_at
from services.core.replay import Created, Same, insert_once, replayed
from services.core.residents import policy
from services.core.residents import repository as residents
from services.core.residents.models import KeyPopulation, Resident
from services.core.residents.schemas import ResidentView
from services.core.security.pii import PiiCipher
from services.core.security.principal import Principal, scope_clause, scope_or_ancestor_clause
from services.core.security.roles import Permission
from services.core.signing import queries
from services.core.signing.errors import NotTeamMember
from services.core.signing.lifecycle import SIGNING, WRITE, SigningStage, stage_of
from services.core.signing.models import CONTACT_NOTES, Contact, ServicePackage, Signing
from services.core.signing.schemas import (
    ContactCreate,
    ContactRead,
    DueContactPage,
    SigningCreate,
    SigningRead,
    SigningRenew,
    SigningStatus,
    SigningTerminate,
    TeamCoverage,
    TeamResidentRelation,
    VillageCoverageList,
)
from services.core.teams import repository as teams
from services.core.teams.models import Person, TeamMember, TeamStatus

CHINA = ZoneInfo("Asia/Shanghai")
SUBJECT = "resident"
EARLIEST = date(2000, 1, 1)
MAX_YEARS = 5


# ---------------------------------------------------------------- China-time calendar


def today() -> date:
    """Today in China."""
    return clock.now().astimezone(CHINA).date()


def day_start(day: date) -> datetime:
    """The instant a China-time day begins (UTC)."""
    return datetime.combine(day, time(), tzinfo=CHINA).astimezone(UTC)


def quarter_of(at: datetime) -> tuple[datetime, datetime]:
    """The calendar quarter (China time) holding ``at``, as ``[start, end)`` instants."""
    local = at.astimezone(CHINA)
    first_month = (local.month - 1) // 3 * 3 + 1
    start = date(local.year, first_month, 1)
    end = date(local.year + 1, 1, 1) if first_month == 10 else date(local.year, first_month + 3, 1)
    return day_start(start), day_start(end)


def add_years(day: date, years: int) -> date:
    """The same day ``years`` later; 29 February becomes 1 March."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def status_of(signing: Signing, on: date) -> SigningStatus:
    """Where ``signing`` stands on ``on``."""
    if signing.termination_reason is not None and (signing.ends_on <= on or signing.ends_on == signing.starts_on):
        return SigningStatus.TERMINATED  # ended early, or cancelled before it began
    if on < signing.starts_on:
        return SigningStatus.UPCOMING
    if on < signing.ends_on:
        return SigningStatus.ACTIVE
    return SigningStatus.ENDED


def to_read(signing: Signing) -> SigningRead:
    return SigningRead.model_validate(
        {
            **{c: getattr(signing, c) for c in SigningRead.model_fields if c != "status"},
            "status": status_of(signing, today()),
        }
    )


# ---------------------------------------------------------------- reads


async def get_in_scope(
    db: AsyncSession,
    principal: Principal,
    signing_id: uuid.UUID,
    permission: Permission = Permission.RESIDENTS_READ,
    *,
    for_update: bool = False,
) -> tuple[Signing, str]:
    """A signing whose resident's grid is in scope, with that grid's path; 404 otherwise."""
    stmt = (
        select(Signing, OrgUnit.path)
        .join(Resident, Resident.id == Signing.resident_id)
        .join(OrgUnit, OrgUnit.id == Resident.grid_id)
        .where(Signing.id == signing_id, scope_clause(principal, permission, OrgUnit.path))
    )
    if for_update:
        stmt = stmt.with_for_update(of=Signing)
    row = (await db.execute(stmt)).first()
    if row is None:
        raise NotFound(f"signing {signing_id} not found")
    return row[0], row[1]


async def list_for_resident(db: AsyncSession, principal: Principal, resident_id: uuid.UUID) -> list[Signing]:
    """Every signing of a resident in scope, oldest first (a handful per resident)."""
    await residents.get_in_scope(db, principal, resident_id, with_tags=False)
    rows = await db.scalars(
        select(Signing).where(Signing.resident_id == resident_id).order_by(Signing.starts_on, Signing.created_at)
    )
    return list(rows.all())


# ---------------------------------------------------------------- create and renew


async def _locked_resident(db: AsyncSession, principal: Principal, resident_id: uuid.UUID) -> tuple[Resident, str]:
    """The resident in write scope, its row locked: signings of one resident are decided one at a time."""
    row = (
        await db.execute(
            residents.readable(principal, Permission.RESIDENTS_WRITE)
            .where(Resident.id == resident_id)
            .with_for_update(of=Resident)
        )
    ).first()
    if row is None:
        raise NotFound(f"resident {resident_id} not found")
    return row[0], row[1]


def _check_period(starts_on: date, ends_on: date | None, *, start_field: str | None) -> date:
    """The end of a new period (default: one year on); 422 when outside the rules."""
    if start_field is not None:
        if starts_on < EARLIEST:
            raise field_error(start_field, f"not before {EARLIEST.isoformat()}")
        if starts_on > add_years(today(), 1):
            raise field_error(start_field, "at most one year ahead")
    minimum = add_years(starts_on, 1)
    if ends_on is None:
        return minimum
    if ends_on < minimum:
        raise field_error("body.ends_on", f"a signing lasts at least one year: not before {minimum.isoformat()}")
    if ends_on > add_years(starts_on, MAX_YEARS):
        raise field_error("body.ends_on", f"a signing lasts at most {MAX_YEARS} years")
    return ends_on


async def _check_team(
    db: AsyncSession, principal: Principal, team_id: uuid.UUID, resident: Resident, starts_on: date
) -> None:
    """The team is readable, active, and responsible for the resident's grid when the signing starts."""
    team = await teams.get_team(db, principal, team_id, field="body.team_id")
    if team.status != TeamStatus.ACTIVE.value:
        raise field_error("body.team_id", f"team {team_id} is {team.status}")
    at = max(day_start(starts_on), clock.now()) if starts_on == today() else day_start(starts_on)
    responsible = await responsible_for(db, grid_id=resident.grid_id, at=at)
    if responsible.team is None or responsible.team.id != team_id:
        raise field_error(
            "body.team_id",
            f"team {team_id} is not responsible for the resident's grid on {starts_on.isoformat()}",
        )


async def _refuse_overlap(
    db: AsyncSession, resident_id: uuid.UUID, starts_on: date, ends_on: date, *, but: uuid.UUID | None
) -> None:
    """409 naming the resident's signing that overlaps; ``but`` (the client's id) is this signing, not another."""
    found = await db.scalar(
        select(Signing)
        .where(
            Signing.resident_id == resident_id,
            Signing.starts_on < ends_on,
            Signing.ends_on > starts_on,
            Signing.id != but,
        )
        .order_by(Signing.starts_on)
        .limit(1)
    )
    if found is not None:
        raise AlreadyExists(
            f"the resident already has signing {found.id} from {found.starts_on} until {found.ends_on}; "
            "renew or terminate it first",
            existing_id=str(found.id),
            existing=f"/signings/{found.id}",
        )


async def create(
    db: AsyncSession, principal: Principal, resident_id: uuid.UUID, data: SigningCreate
) -> Created[Signing]:
    """Sign a resident with a team; a repeat with the same id and body is answered, not redone."""
    resident, path = await _locked_resident(db, principal, resident_id)
    # The lifecycle's "sign" permission (signings:write, as the route requires) held over this resident's
    # grid: another grant's residents:write (a community steward's) does not lend itself to signing.
    if not principal.can_at(WRITE, path):
        raise Forbidden("this account may not sign residents of this grid")
    expected = {
        "resident_id": resident.id,
        "team_id": data.team_id,
        "package": data.package.value,
        "starts_on": data.starts_on,
        "contracted_ends_on": data.ends_on,
    }
    replay = await replayed(db, Signing, data.id, same=expected)
    if replay is not None:
        return replay
    ends_on = _check_period(data.starts_on, data.ends_on, start_field="body.starts_on")
    await _check_team(db, principal, data.team_id, resident, data.starts_on)
    await _refuse_overlap(db, resident.id, data.starts_on, ends_on, but=data.id)
    return await _insert(
        db,
        principal,
        resident,
        data.id,
        data.team_id,
        data.package,
        data.starts_on,
        ends_on,
        None,
        same=expected,
        grid_path=path,
    )


async def renew(db: AsyncSession, principal: Principal, signing_id: uuid.UUID, data: SigningRenew) -> Created[Signing]:
    """A new signing starting where ``signing_id``'s contract ends (same or other team and package)."""
    old, path = await get_in_scope(db, principal, signing_id, Permission.RESIDENTS_WRITE)
    resident, _ = await _locked_resident(db, principal, old.resident_id)
    expected = {
        "resident_id": resident.id,
        "renews_id": old.id,
        "team_id": data.team_id,
        "package": data.package.value if data.package else None,
        "contracted_ends_on": data.ends_on,
    }
    replay = await replayed(db, Signing, data.id, same=expected)
    if replay is not None:
        return replay
    await db.refresh(old)  # the state after the lock: a concurrent renewal or termination has committed
    renewal = await _renewal_of(db, old, but=data.id)
    stage = _stage(old, renewal)
    try:
        checked = lifecycle.check(SIGNING, old, "renew", actor=principal, path=path, expected_version=None, state=stage)
    except IllegalTransition as exc:
        if stage is SigningStage.RENEWED:  # the one refusal that can name what is in the way
            raise AlreadyExists(
                f"signing {old.id} is already renewed by {renewal}",
                existing_id=str(renewal),
                existing=f"/signings/{renewal}",
            ) from exc
        raise
    starts_on = old.contracted_ends_on
    ends_on = _check_period(starts_on, data.ends_on, start_field=None)
    team_id = data.team_id or old.team_id
    package = data.package or ServicePackage(old.package)
    await _check_team(db, principal, team_id, resident, starts_on)
    await _refuse_overlap(db, resident.id, starts_on, ends_on, but=data.id)
    written = await _insert(
        db, principal, resident, data.id, team_id, package, starts_on, ends_on, old.id, same=expected, grid_path=path
    )
    if written.created:
        details = {"renewal_id": str(written.record.id)}
        await lifecycle.move(db, checked, actor_id=principal.user_id, at=clock.now(), details=details)
    return written


async def _renewal_of(db: AsyncSession, signing: Signing, *, but: uuid.UUID | None = None) -> uuid.UUID | None:
    """The live renewal of ``signing`` (one cancelled before it began does not count; nor does ``but``,
    the client's own id, so a racing twin of this very renewal is replayed, not refused)."""
    stmt = select(Signing.id).where(Signing.renews_id == signing.id, Signing.ends_on > Signing.starts_on)
    if but is not None:
        stmt = stmt.where(Signing.id != but)
    return await db.scalar(stmt)


def _stage(signing: Signing, renewal: uuid.UUID | None) -> SigningStage:
    return stage_of(signing, renewed=renewal is not None)


async def _insert(
    db: AsyncSession,
    principal: Principal,
    resident: Resident,
    signing_id: uuid.UUID | None,
    team_id: uuid.UUID,
    package: ServicePackage,
    starts_on: date,
    ends_on: date,
    renews_id: uuid.UUID | None,
    *,
    same: Same[Signing],
    grid_path: str,
) -> Created[Signing]:
    result = await insert_once(
        db,
        Signing(
            id=signing_id or uuid.uuid4(),
            district_id=resident.district_id,
            resident_id=resident.id,
            team_id=team_id,
            package=package.value,
            starts_on=starts_on,
            ends_on=ends_on,
            contracted_ends_on=ends_on,
            renews_id=renews_id,
            signed_by=principal.user_id,
        ),
        same=same,
    )
    if not result.created:
        return result
    signing = result.record
    details = {"renews_id": str(renews_id)} if renews_id else {}
    await lifecycle.move(
        db, lifecycle.creating(SIGNING, signing, "sign"), actor_id=principal.user_id, at=clock.now(), details=details
    )
    await audit.record(
        db,
        actor_id=principal.user_id,
        action="resident.signing_renewed" if renews_id else "resident.signed",
        subject_type=SUBJECT,
        subject_id=resident.id,
        org_path=grid_path,
        details={
            "signing_id": str(signing.id),
            "team_id": str(team_id),
            "package": package.value,
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat(),
        },
    )
    return result


# ---------------------------------------------------------------- terminate


async def terminate(
    db: AsyncSession,
    principal: Principal,
    signing_id: uuid.UUID,
    data: SigningTerminate,
    *,
    expected_version: int | None,
) -> Signing:
    """End a signing early (or on its last day) with a reason; If-Match names its version (checked
    after the signing is found in scope: 404, then 428/412, 403, 409)."""
    signing, path = await get_in_scope(db, principal, signing_id, Permission.RESIDENTS_WRITE, for_update=True)
    stage = _stage(signing, await _renewal_of(db, signing))
    checked = lifecycle.check(
        SIGNING, signing, "terminate", actor=principal, path=path, expected_version=expected_version, state=stage
    )
    if data.ends_on < signing.starts_on:
        raise field_error("body.ends_on", f"not before the signing starts ({signing.starts_on.isoformat()})")
    if data.ends_on > signing.contracted_ends_on:
        raise field_error("body.ends_on", f"not after the contracted end ({signing.contracted_ends_on.isoformat()})")
    now = clock.now()
    changes = {
        "ends_on": data.ends_on,
        "termination_reason": data.reason.value,
        "terminated_at": now,
        "terminated_by": principal.user_id,
    }
    details = {"ends_on": data.ends_on.isoformat()}
    await lifecycle.move(
        db, checked, actor_id=principal.user_id, at=now, changes=changes, reason=data.reason.value, details=details
    )
    await audit.record(
        db,
        actor_id=principal.user_id,
        action="resident.signing_terminated",
        subject_type=SUBJECT,
        subject_id=signing.resident_id,
        org_path=path,
        details={"signing_id": str(signing.id), "reason": data.reason.value, "ends_on": data.ends_on.isoformat()},
    )
    return signing


# ---------------------------------------------------------------- contacts


def contact_read(principal: Principal, contact: Contact, grid_path: str, pii: PiiCipher) -> ContactRead:
    """The contact as the caller may see it: sentinels never see the notes."""
    show_notes = policy.view_for(principal, grid_path) is ResidentView.CARE
    notes = (
        CONTACT_NOTES.open(pii, contact.id, contact.notes_enc) if show_notes and contact.notes_enc is not None else None
    )
    return ContactRead(
        id=contact.id,
        resident_id=contact.resident_id,
        signing_id=contact.signing_id,
        team_id=contact.team_id,
        channel=contact.channel,
        outcome=contact.outcome,
        contacted_at=contact.contacted_at,
        notes=notes,
        recorded_by=contact.recorded_by,
        version=contact.version,
        created_at=contact.created_at,
    )


async def record_contact(
    db: AsyncSession, principal: Principal, resident_id: uuid.UUID, data: ContactCreate, *, pii: PiiCipher
) -> Created[tuple[Contact, str]]:
    """Record a contact with a signed resident; the caller must be on the signing's team today."""
    resident, path = await residents.get_in_scope(
        db, principal, resident_id, Permission.RESIDENTS_WRITE, with_tags=False
    )
    notes = (data.notes or "").strip() or None

    def same(existing: Contact) -> bool:
        same_notes = (CONTACT_NOTES.open(pii, existing.id, existing.notes_enc) if existing.notes_enc else None) == notes
        return (
            existing.resident_id == resident.id
            and same_notes
            and (existing.channel, existing.outcome, existing.contacted_at)
            == (data.channel.value, data.outcome.value, data.contacted_at)
        )

    replay = await replayed(db, Contact, data.id, same=same)
    if replay is not None:
        return Created((replay.record, path), False)
    if data.contacted_at > clock.now():
        raise field_error("body.contacted_at", "lies in the future")
    if data.contacted_at < day_start(EARLIEST):
        raise field_error("body.contacted_at", f"not before {EARLIEST.isoformat()}")
    on = data.contacted_at.astimezone(CHINA).date()
    signing = await db.scalar(
        select(Signing).where(Signing.resident_id == resident.id, Signing.starts_on <= on, Signing.ends_on > on)
    )
    if signing is None:
        raise field_error("body.contacted_at", f"the resident had no signing on {on.isoformat()}")
    member_id = await db.scalar(
        select(TeamMember.id)
        .join(Person, Person.id == TeamMember.person_id)
        .where(
            Person.user_id == principal.user_id,
            TeamMember.team_id == signing.team_id,
            active_at(TeamMember, clock.now()),
        )
        .limit(1)
    )
    if member_id is None:
        raise NotTeamMember(f"only members of team {signing.team_id}, the resident's signing team, record contacts")
    contact_id = data.id or uuid.uuid4()
    result = await insert_once(
        db,
        Contact(
            id=contact_id,
            district_id=resident.district_id,
            resident_id=resident.id,
            signing_id=signing.id,
            team_id=signing.team_id,
            channel=data.channel.value,
            outcome=data.outcome.value,
            notes_enc=CONTACT_NOTES.seal(pii, contact_id, notes) if notes else None,
            contacted_at=data.contacted_at,
            recorded_by=principal.user_id,
            team_member_id=member_id,
        ),
        same=same,
    )
    contact = result.record
    if not result.created:
        return Created((contact, path), False)
    await audit.record(
        db,
        actor_id=principal.user_id,
        action="resident.contact_recorded",
        subject_type=SUBJECT,
        subject_id=resident.id,
        org_path=path,
        details={"contact_id": str(contact.id), "channel": contact.channel, "outcome": contact.outcome},
    )
    return Created((contact, path), True)


async def get_contact(db: AsyncSession, principal: Principal, contact_id: uuid.UUID) -> tuple[Contact, str]:
    """A contact whose resident's grid is in scope, with that grid's path; 404 otherwise."""
    row = (
        await db.execute(
            select(Contact, OrgUnit.path)
            .join(Resident, Resident.id == Contact.resident_id)
            .join(OrgUnit, OrgUnit.id == Resident.grid_id)
            .where(Contact.id == contact_id, scope_clause(principal, Permission.RESIDENTS_READ, OrgUnit.path))
        )
    ).first()
    if row is None:
        raise NotFound(f"contact {contact_id} not found")
    return row[0], row[1]


async def list_contacts(
    db: AsyncSession, principal: Principal, resident_id: uuid.UUID, *, cursor: str | None, limit: int
) -> tuple[list[Contact], str, str | None]:
    """A resident's contacts, newest first (keyset on contacted_at, id), with the grid path and next cursor."""
    _, path = await residents.get_in_scope(db, principal, resident_id, with_tags=False)
    rows, next_cursor = await paginate(
        db,
        select(Contact).where(Contact.resident_id == resident_id),
        keys=[(Contact.contacted_at, "desc"), (Contact.id, "desc")],
        cursor=cursor,
        limit=limit,
    )
    return rows, path, next_cursor


# ---------------------------------------------------------------- per team and per village


async def team_coverage(db: AsyncSession, principal: Principal, team_id: uuid.UUID) -> TeamCoverage:
    """Signing coverage of a team the caller may read, counting residents in the caller's scope."""
    team = await teams.get_team(db, principal, team_id)
    return await queries.team_coverage(
        db,
        team_id=team.id,
        on=today(),
        at=clock.now(),
        scope=scope_clause(principal, Permission.RESIDENTS_READ, OrgUnit.path),
    )


async def village_coverage(db: AsyncSession, principal: Principal, org_unit_id: uuid.UUID) -> VillageCoverageList:
    """Signing coverage per village under a unit in the caller's scope (404 otherwise)."""
    unit = await db.scalar(
        select(OrgUnit).where(
            OrgUnit.id == org_unit_id,
            OrgUnit.kind != OrgUnitKind.GRID.value,
            scope_or_ancestor_clause(principal, Permission.RESIDENTS_READ, OrgUnit.path),
        )
    )
    if unit is None:
        raise NotFound(f"org unit {org_unit_id} not found")
    on = today()
    items = await queries.village_coverage(
        db, unit=unit, on=on, scope=scope_clause(principal, Permission.RESIDENTS_READ, OrgUnit.path)
    )
    return VillageCoverageList(org_unit_id=unit.id, on=on, items=items)


async def team_residents(
    db: AsyncSession,
    principal: Principal,
    team_id: uuid.UUID,
    *,
    relation: TeamResidentRelation,
    population: KeyPopulation | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[tuple[Resident, str]], str | None]:
    """A team's residents in the caller's scope (signed with it, or living in its area), by name."""
    team = await teams.get_team(db, principal, team_id)
    stmt = queries.team_residents(
        base=residents.readable(principal),
        team_id=team.id,
        relation=relation,
        population=population,
        on=today(),
        at=clock.now(),
    )
    rows, next_cursor = await paginate_rows(
        db,
        stmt.options(selectinload(Resident.tags)),
        keys=[Resident.name, Resident.id],
        cursor=cursor,
        limit=limit,
    )
    return [(r[0], r[1]) for r in rows], next_cursor


async def due_contacts(
    db: AsyncSession, principal: Principal, team_id: uuid.UUID, *, cursor: str | None, limit: int
) -> DueContactPage:
    """The quarterly-contact duty of a team: its signed residents (in the caller's scope) not reached this quarter."""
    team = await teams.get_team(db, principal, team_id)
    now = clock.now()
    quarter = quarter_of(now)
    items, next_cursor = await queries.uncontacted(
        db,
        team_id=team.id,
        on=today(),
        quarter=quarter,
        scope=scope_clause(principal, Permission.RESIDENTS_READ, OrgUnit.path),
        cursor=cursor,
        limit=limit,
    )
    return DueContactPage(
        team_id=team.id,
        quarter_starts_at=quarter[0],
        quarter_ends_at=quarter[1],
        items=items,
        next_cursor=next_cursor,
    )
