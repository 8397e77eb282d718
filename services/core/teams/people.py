"""People: staff and community workers, their sealed mobiles and who may read them."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.accounts import users
from services.core.accounts.models import User
from services.core.audit import service as audit
from services.core.errors import AlreadyExists, NotFound, field_error
from services.core.org import repository as org_repository
from services.core.org.models import OrgUnit
from services.core.pagination import paginate
from services.core.replay import Created, insert_once, replayed
from services.core.security.pii import PiiCipher, mask_phone
from services.core.security.principal import Principal, institution_scope_clause
from services.core.security.roles import Permission
from services.core.teams import repository, validation
from services.core.teams.errors import MobileNotPermitted
from services.core.teams.models import MOBILE, Person, PersonKind
from services.core.teams.schemas import PersonCreate, PersonMobileRead, PersonUpdate
from services.core.versioning import check_version


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
