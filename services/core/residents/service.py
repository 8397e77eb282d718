"""Rules for residents: identity checks, protection, duplicates, tags, safe writes, sync."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import not_, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services.core import clock
from services.core.audit import service as audit
from services.core.config import get_settings
from services.core.errors import AlreadyExists, Conflict, DomainError, SyncExpired, ValidationFailed, field_error
from services.core.notifications.templates import CHINA_TIME
from services.core.org.models import OrgUnit
from services.core.pagination import Keyset, paginate_rows
from services.core.replay import Created, insert_once, replayed
from services.core.residents import policy, repository, retention
from services.core.residents.errors import (
    IdempotencyKeyReused,
    IdentityHeldElsewhere,
    IdentityNotPermitted,
    PossibleDuplicate,
)
from services.core.residents.identity import IdType, Sex, age_on, check_id_number, check_identity
from services.core.residents.models import (
    ID_NUMBER,
    PHONE,
    IdempotencyKey,
    KeyPopulation,
    Resident,
    ResidentTag,
    ResidentTombstone,
)
from services.core.residents.schemas import (
    IdentityRead,
    ResidentCreate,
    ResidentRead,
    ResidentUpdate,
    ResidentView,
    TagCreate,
    TagRead,
    TagUpdate,
)
from services.core.security.pii import PiiCipher, mask_id_number, mask_phone
from services.core.security.principal import Principal, scope_clause
from services.core.security.roles import Permission
from services.core.versioning import check_version

SUBJECT = "resident"


# ---------------------------------------------------------------- protected fields


@dataclass(frozen=True)
class Protected:
    """An identity number or phone, sealed for one row: ciphertext, blind index, mask."""

    enc: bytes
    bidx: bytes
    masked: str


def seal_id_number(pii: PiiCipher, resident_id: uuid.UUID, number: str) -> Protected:
    """Encrypt, index and mask a normalised identity number."""
    return Protected(
        ID_NUMBER.seal(pii, resident_id, number),
        ID_NUMBER.index(pii, number),
        mask_id_number(number),
    )


def seal_phone(pii: PiiCipher, resident_id: uuid.UUID, phone: str) -> Protected:
    """Encrypt, index and mask a normalised phone."""
    return Protected(PHONE.seal(pii, resident_id, phone), PHONE.index(pii, phone), mask_phone(phone))


# ---------------------------------------------------------------- presentation


def to_read(principal: Principal, resident: Resident, grid_path: str) -> ResidentRead:
    """The resident as this caller may see it: always masked; the sentinel view is smaller still."""
    view = policy.view_for(principal, grid_path)
    tags = list(resident.tags)
    if view is ResidentView.SENTINEL:
        tags = [t for t in tags if t.reported_by == principal.user_id]
    sentinel = view is ResidentView.SENTINEL
    full_birth = policy.may_read_identity(principal, grid_path)
    return ResidentRead(
        id=resident.id,
        view=view,
        district_id=resident.district_id,
        grid_id=resident.grid_id,
        name=resident.name,
        sex=None if sentinel else Sex(resident.sex),
        birth_on=resident.birth_on if full_birth else None,
        birth_year=None if sentinel else resident.birth_on.year,
        id_type=IdType(resident.id_type) if resident.id_type else None,
        id_number_masked=resident.id_number_masked,
        phone_masked=None if sentinel else resident.phone_masked,
        address=resident.address,
        household_code=None if sentinel else resident.household_code,
        tags=[TagRead.model_validate(t) for t in tags],
        died_on=resident.died_on,
        version=resident.version,
        created_at=resident.created_at,
        updated_at=resident.updated_at,
    )


# ---------------------------------------------------------------- create


@dataclass(frozen=True)
class Registered:
    """A created (or replayed) resident, its grid path, and the status this create answers:
    201 created, 200 a replay of the client id, an Idempotency-Key replay the status of the first."""

    resident: Resident
    grid_path: str
    status_code: int


async def create(
    db: AsyncSession,
    principal: Principal,
    data: ResidentCreate,
    *,
    pii: PiiCipher,
    idempotency_key: str | None = None,
) -> Created[Registered]:
    """Create a resident; a repeat with the same client id or Idempotency-Key and body is answered, not redone.

    The key is claimed before anything else (``INSERT ... ON CONFLICT DO NOTHING``): a concurrent
    request with the same key waits for this one and then replays it, so one key makes one resident.
    """
    resident_id = data.id or uuid.uuid4()
    if idempotency_key is None:
        return await _create(db, principal, data, pii=pii, resident_id=resident_id)
    request_hash = pii.blind_index("request", data.model_dump_json()).hex()

    def same_request(stored: IdempotencyKey) -> bool:
        if stored.request_hash != request_hash or stored.operation != "resident.create":
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used with a different request",
                errors=[{"field": "header.idempotency-key", "message": "already used with another body"}],
            )
        return True

    claim = await insert_once(
        db,
        IdempotencyKey(
            user_id=principal.user_id,
            key=idempotency_key,
            operation="resident.create",
            request_hash=request_hash,
            resource_id=resident_id,
            status_code=201,
            created_at=clock.now(),
        ),
        same=same_request,
    )
    if not claim.created:
        resident, path = await repository.get_in_scope(db, principal, claim.record.resource_id)
        return Created(Registered(resident, path, claim.record.status_code), False)
    result = await _create(db, principal, data, pii=pii, resident_id=resident_id)
    claim.record.status_code = result.record.status_code
    await db.flush()
    return result


async def _create(
    db: AsyncSession, principal: Principal, data: ResidentCreate, *, pii: PiiCipher, resident_id: uuid.UUID
) -> Created[Registered]:
    values = _checked_values(data, pii=pii, resident_id=resident_id)
    paths: list[str] = []

    async def writable(existing: Resident) -> None:
        try:
            _, path = await repository.get_in_scope(
                db, principal, existing.id, Permission.RESIDENTS_WRITE, with_tags=False
            )
        except DomainError as exc:
            raise Conflict("this id is taken", existing_id=str(existing.id)) from exc
        paths.append(path)

    def same(existing: Resident) -> bool:
        return _fingerprint_row(existing) == _fingerprint_values(data.grid_id, values) and {
            (t.population, t.since_on, t.until_on, t.source) for t in existing.tags
        } == {(t.population.value, t.since_on, t.until_on, t.source.value) for t in data.tags}

    tags = [selectinload(Resident.tags)]
    replay = await replayed(db, Resident, data.id, same=same, in_scope=writable, options=tags)
    if replay is not None:
        return Created(Registered(replay.record, paths[0], 200), False)
    grid = await repository.grid_in_scope(db, principal, data.grid_id, Permission.RESIDENTS_WRITE)
    for i, tag in enumerate(data.tags):
        _check_tag(values["sex"], values["birth_on"], tag.population, tag.since_on, tag.until_on, f"body.tags.{i}")
    _no_overlapping_tags(data.tags)
    await _refuse_duplicates(db, principal, grid, values, confirmed=data.confirm_not_duplicate, but=data.id)
    result = await insert_once(
        db, Resident(id=resident_id, district_id=grid.district_id, grid_id=grid.id, **values), same=same, options=tags
    )
    if not result.created:
        return Created(Registered(result.record, grid.path, 200), False)
    for tag in data.tags:
        db.add(_new_tag(result.record, tag, principal))
    await db.flush()
    await audit.record(
        db,
        actor_id=principal.user_id,
        action="resident.created",
        subject_type=SUBJECT,
        subject_id=resident_id,
        org_path=grid.path,
        details={"grid_id": str(grid.id), "tags": [t.population.value for t in data.tags]},
    )
    return Created(Registered(await _reload(db, resident_id), grid.path, 201), True)


def _fingerprint_row(r: Resident) -> tuple[Any, ...]:
    return (
        r.grid_id,
        r.name,
        r.sex,
        r.birth_on,
        r.id_type,
        r.id_number_bidx,
        r.phone_bidx,
        r.address,
        r.household_code,
    )


def _fingerprint_values(grid_id: uuid.UUID, v: dict[str, Any]) -> tuple[Any, ...]:
    return (
        grid_id,
        v["name"],
        v["sex"],
        v["birth_on"],
        v["id_type"],
        v["id_number_bidx"],
        v["phone_bidx"],
        v["address"],
        v["household_code"],
    )


def _checked_values(
    data: ResidentCreate | ResidentUpdate, *, pii: PiiCipher, resident_id: uuid.UUID, prefix: str = "body"
) -> dict[str, Any]:
    """Normalise and check the identity fields; the column values of a new resident."""
    identity = check_identity(
        prefix=prefix,
        id_type=data.id_type,
        id_number=data.id_number,
        sex=data.sex,
        birth_on=data.birth_on,
        phone=data.phone,
    )
    values: dict[str, Any] = {
        "name": (data.name or "").strip(),
        "address": (data.address or "").strip() or None,
        "household_code": (data.household_code or "").strip() or None,
        "id_type": None,
        "id_number_enc": None,
        "id_number_bidx": None,
        "id_number_masked": None,
        "phone_enc": None,
        "phone_bidx": None,
        "phone_masked": None,
    }
    errors = ([] if values["name"] else [{"field": f"{prefix}.name", "message": "must not be blank"}]) + identity.errors
    if errors:
        raise ValidationFailed("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    if identity.id_number is not None and identity.id_type is not None:
        sealed = seal_id_number(pii, resident_id, identity.id_number)
        values.update(
            id_type=identity.id_type.value,
            id_number_enc=sealed.enc,
            id_number_bidx=sealed.bidx,
            id_number_masked=sealed.masked,
        )
    if identity.phone is not None:
        sealed = seal_phone(pii, resident_id, identity.phone)
        values.update(phone_enc=sealed.enc, phone_bidx=sealed.bidx, phone_masked=sealed.masked)
    values["sex"] = (identity.sex or Sex.UNKNOWN).value
    values["birth_on"] = identity.birth_on
    return values


async def _refuse_duplicates(
    db: AsyncSession,
    principal: Principal,
    grid: OrgUnit,
    values: dict[str, Any],
    *,
    confirmed: bool,
    but: uuid.UUID | None = None,
) -> None:
    """409 when the resident seems registered already; ``but`` (the client's id) is this resident, not another."""
    if values["id_number_bidx"] is not None:
        await _refuse_held_number(
            db,
            principal,
            grid.district_id,
            values["id_number_bidx"],
            this=but,
            taken="a resident with this identity number already exists in the district",
        )
    elif not confirmed:
        candidates = [
            c for c in await repository.possible_duplicates(db, grid.id, values["name"], values["birth_on"]) if c != but
        ]
        if candidates:
            raise PossibleDuplicate(
                "a resident with the same name and birth date lives in this grid; "
                'send "confirm_not_duplicate": true if this is someone else',
                candidates=[f"/residents/{c}" for c in candidates],
                existing_id=str(candidates[0]),
            )


async def _refuse_held_number(
    db: AsyncSession,
    principal: Principal,
    district_id: uuid.UUID,
    bidx: bytes,
    *,
    this: uuid.UUID | None,
    taken: str,
) -> None:
    """409 when a resident other than ``this`` holds the identity number (blind index ``bidx``) in the district.

    Outside the caller's area only ``identity_held_elsewhere``, with an audit trace of the
    attempt; inside it ``already_exists`` naming the holder (``taken`` is its message).
    """
    holder = await repository.id_holder(db, district_id, bidx)
    if holder is None or holder == this:
        return
    if not await repository.is_readable(db, principal, holder):
        # Someone else's resident: say only that the number is taken, and keep a trace of the attempt.
        await audit.record(
            db,
            actor_id=principal.user_id,
            action="resident.identity_conflict",
            subject_type="resident",
            subject_id=holder,
            org_path=await repository.grid_path(db, holder),
            details={},
        )
        raise IdentityHeldElsewhere("this identity number is already registered in the district, outside your area")
    raise AlreadyExists(taken, existing_id=str(holder), existing=f"/residents/{holder}")


async def _reload(db: AsyncSession, resident_id: uuid.UUID) -> Resident:
    resident = await db.scalar(
        select(Resident)
        .where(Resident.id == resident_id)
        .options(selectinload(Resident.tags))
        .execution_options(populate_existing=True)
    )
    assert resident is not None  # noqa: S101 - just written in this transaction
    return resident


# ---------------------------------------------------------------- update


async def update(
    db: AsyncSession,
    principal: Principal,
    resident_id: uuid.UUID,
    data: ResidentUpdate,
    *,
    expected_version: int,
    pii: PiiCipher,
) -> tuple[Resident, str]:
    """Change a resident; If-Match is checked here and again by the UPDATE itself (version column)."""
    resident, path = await repository.get_in_scope(db, principal, resident_id, Permission.RESIDENTS_WRITE)
    check_version(resident.version, expected_version)
    changes = data.model_dump(exclude_unset=True)
    for name in ("name", "sex", "birth_on", "grid_id", "id_number", "id_type"):
        if name in changes and changes[name] is None:
            raise field_error(f"body.{name}", "cannot be cleared")
    merged = ResidentUpdate(
        name=changes.get("name", resident.name),
        sex=changes.get("sex", Sex(resident.sex)),
        birth_on=changes.get("birth_on", resident.birth_on),
        address=changes.get("address", resident.address),
        household_code=changes.get("household_code", resident.household_code),
    )
    values = _checked_values(merged, pii=pii, resident_id=resident.id)
    del values["id_type"], values["id_number_enc"], values["id_number_bidx"], values["id_number_masked"]
    del values["phone_enc"], values["phone_bidx"], values["phone_masked"]
    if "id_number" in changes:
        id_type = changes.get("id_type") or IdType(resident.id_type or IdType.RESIDENT_ID)
        sex = Sex(values["sex"]) if "sex" in changes else None
        birth = values["birth_on"] if "birth_on" in changes else None
        given = check_identity(
            prefix="body",
            id_type=id_type,
            id_number=changes["id_number"],
            sex=sex,
            birth_on=birth,
            birth_required=False,
        ).or_raise()
        assert given.id_number is not None  # noqa: S101 - a number was given and passed
        id_sex, id_birth = given.sex, given.birth_on
        sealed = seal_id_number(pii, resident.id, given.id_number)
        if sealed.bidx != resident.id_number_bidx:
            await _refuse_held_number(
                db,
                principal,
                resident.district_id,
                sealed.bidx,
                this=resident.id,
                taken="another resident holds this identity number",
            )
        values.update(
            id_type=id_type.value, id_number_enc=sealed.enc, id_number_bidx=sealed.bidx, id_number_masked=sealed.masked
        )
        if id_sex is not None and "sex" not in changes:
            values["sex"] = id_sex.value
        if id_birth is not None and "birth_on" not in changes:
            values["birth_on"] = id_birth
    elif "id_type" in changes:
        raise field_error("body.id_number", "send the number with its type")
    elif resident.id_type == IdType.RESIDENT_ID and ("sex" in changes or "birth_on" in changes):
        # The stored number still rules sex and birth date; check against it without revealing it.
        number = ID_NUMBER.open(pii, resident.id, resident.id_number_enc or b"")
        check_identity(
            prefix="body",
            id_type=IdType.RESIDENT_ID,
            id_number=number,
            sex=Sex(values["sex"]),
            birth_on=values["birth_on"],
        ).or_raise()
    if "phone" in changes:
        if changes["phone"] is None:
            values.update(phone_enc=None, phone_bidx=None, phone_masked=None)
        else:
            phone = check_identity(prefix="body", phone=changes["phone"], birth_required=False).or_raise().phone
            assert phone is not None  # noqa: S101 - a phone was given and passed
            sealed = seal_phone(pii, resident.id, phone)
            if sealed.bidx != resident.phone_bidx:
                values.update(phone_enc=sealed.enc, phone_bidx=sealed.bidx, phone_masked=sealed.masked)
    if "grid_id" in changes and changes["grid_id"] != resident.grid_id:
        grid = await repository.grid_in_scope(db, principal, changes["grid_id"], Permission.RESIDENTS_WRITE)
        if grid.district_id != resident.district_id:
            raise field_error("body.grid_id", "a resident moves only within the district")
        values["grid_id"], path = grid.id, grid.path
    if "died_on" in changes:
        died_on = changes["died_on"]
        if died_on is not None and died_on < values["birth_on"]:
            raise field_error("body.died_on", "cannot be before the birth date")
        if (
            died_on is not None and died_on > clock.now().astimezone(CHINA_TIME).date()
        ):  # the day as people there count it
            raise field_error("body.died_on", "cannot be in the future")
        values["died_on"] = died_on
    for i, tag in enumerate(resident.tags):
        _check_tag(
            values["sex"], values["birth_on"], KeyPopulation(tag.population), tag.since_on, tag.until_on, f"tags.{i}"
        )
    changed = sorted(k for k, v in values.items() if getattr(resident, k) != v)
    for key in changed:
        setattr(resident, key, values[key])
    if changed:
        await db.flush()
        await audit.record(
            db,
            actor_id=principal.user_id,
            action="resident.updated",
            subject_type=SUBJECT,
            subject_id=resident.id,
            org_path=path,
            details={
                "fields": sorted(
                    {k.removesuffix("_enc").removesuffix("_bidx").removesuffix("_masked") for k in changed}
                )
            },
        )
    return resident, path


# ---------------------------------------------------------------- identity


async def read_identity(
    db: AsyncSession, principal: Principal, resident_id: uuid.UUID, *, pii: PiiCipher
) -> IdentityRead:
    """The full identity number and phone, for roles the policy allows; audited in this transaction."""
    resident, path = await repository.get_in_scope(db, principal, resident_id, with_tags=False)
    if not policy.may_read_identity(principal, path):
        raise IdentityNotPermitted("this role sees identity numbers and phones masked")
    id_number = ID_NUMBER.open(pii, resident.id, resident.id_number_enc) if resident.id_number_enc else None
    phone = PHONE.open(pii, resident.id, resident.phone_enc) if resident.phone_enc else None
    await audit.record(
        db,
        actor_id=principal.user_id,
        action="resident.identity_read",
        subject_type=SUBJECT,
        subject_id=resident.id,
        org_path=path,
        details={"fields": [n for n, v in (("id_number", id_number), ("phone", phone)) if v is not None]},
    )
    return IdentityRead(
        resident_id=resident.id,
        id_type=IdType(resident.id_type) if resident.id_type else None,
        id_number=id_number,
        phone=phone,
    )


# ---------------------------------------------------------------- lists and lookup


async def list_residents(
    db: AsyncSession,
    principal: Principal,
    *,
    org_unit_id: uuid.UUID | None,
    population: KeyPopulation | None,
    q: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[tuple[Resident, str]], str | None]:
    """Residents in scope ordered by name, optionally under one unit (grid, village, town) and in a key population."""
    stmt = repository.readable(principal).options(selectinload(Resident.tags))
    if org_unit_id is not None:
        unit_path = await db.scalar(select(OrgUnit.path).where(OrgUnit.id == org_unit_id))
        if unit_path is None:
            return [], None
        stmt = stmt.where(OrgUnit.path.startswith(unit_path))
    if population is not None:
        today = clock.now().date()
        # In the sentinel view a tag counts only when this caller reported it (as it is shown).
        stmt = stmt.where(
            select(ResidentTag.id)
            .where(
                ResidentTag.resident_id == Resident.id,
                ResidentTag.population == population.value,
                ResidentTag.since_on <= today,
                or_(ResidentTag.until_on.is_(None), ResidentTag.until_on >= today),
                or_(ResidentTag.reported_by == principal.user_id, policy.care_view_clause(principal, OrgUnit.path)),
            )
            .exists()
        )
    if q:
        stmt = stmt.where(Resident.name.startswith(q.strip(), autoescape=True))
    rows, next_cursor = await paginate_rows(db, stmt, keys=[Resident.name, Resident.id], cursor=cursor, limit=limit)
    return [(r[0], r[1]) for r in rows], next_cursor


def _searched_area(principal: Principal) -> str:
    """Where a lookup searched: the caller's identity scope as one path (the nearest unit holding all its
    grants), so a lookup that found nobody is still seen by the auditors of that area."""
    common = os.path.commonprefix(principal.paths_with(policy.IDENTITY))
    return common[: common.rfind("/") + 1]


async def lookup(
    db: AsyncSession, principal: Principal, *, id_type: IdType, id_number: str, pii: PiiCipher
) -> list[tuple[Resident, str]]:
    """Exact lookup by identity number through the blind index, within scope."""
    number, _, _ = check_id_number(id_type, id_number)
    if not principal.can(policy.IDENTITY):
        raise IdentityNotPermitted("lookup by identity number is for roles that may read identity")
    stmt = (
        repository.readable(principal)
        .where(Resident.id_number_bidx == ID_NUMBER.index(pii, number))
        .where(policy.identity_clause(principal, OrgUnit.path))
        .options(selectinload(Resident.tags))
    )
    rows = [(r[0], r[1]) for r in (await db.execute(stmt)).all()]
    await audit.record(
        db,
        actor_id=principal.user_id,
        action="resident.looked_up",
        subject_type="resident",
        subject_id=rows[0][0].id if rows else None,
        org_path=rows[0][1] if rows else _searched_area(principal),
        details={"matches": len(rows)},
    )
    return rows


# ---------------------------------------------------------------- tags


def _check_tag(
    sex: str, birth_on: date, population: KeyPopulation, since_on: date, until_on: date | None, field: str
) -> None:
    """Key-population consistency: ages agree with the birth date at ``since``; pregnancy needs a woman."""
    problems: list[tuple[str, str]] = []
    if since_on < birth_on:
        problems.append(("since_on", "before the birth date"))
    elif since_on > clock.now().date():
        problems.append(("since_on", "lies in the future"))
    elif population is KeyPopulation.CHILDREN_0_6 and age_on(birth_on, since_on) > 6:
        problems.append(("since_on", "the resident is older than 6 at this date"))
    elif population is KeyPopulation.ELDERLY_65_PLUS and age_on(birth_on, since_on) < 65:
        problems.append(("since_on", "the resident is younger than 65 at this date"))
    if until_on is not None and until_on < since_on:
        problems.append(("until_on", "before since_on"))
    if population is KeyPopulation.PREGNANT_POSTPARTUM and sex != Sex.FEMALE.value:
        problems.append(("population", "pregnancy and postpartum apply to women only"))
    if problems:
        errors = [{"field": f"{field}.{name}", "message": message} for name, message in problems]
        raise ValidationFailed("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)


def _overlaps(a_since: date, a_until: date | None, b_since: date, b_until: date | None) -> bool:
    return (a_until is None or a_until >= b_since) and (b_until is None or b_until >= a_since)


def _no_overlapping_tags(tags: list[TagCreate]) -> None:
    for i, a in enumerate(tags):
        for b in tags[:i]:
            if a.population == b.population and _overlaps(a.since_on, a.until_on, b.since_on, b.until_on):
                raise field_error(f"body.tags.{i}", "overlaps another tag of the same population")


def _new_tag(resident: Resident, tag: TagCreate, principal: Principal | None) -> ResidentTag:
    return ResidentTag(
        id=tag.id or uuid.uuid4(),
        resident_id=resident.id,
        district_id=resident.district_id,
        population=tag.population.value,
        since_on=tag.since_on,
        until_on=tag.until_on,
        source=tag.source.value,
        reported_by=principal.user_id if principal else None,
    )


async def add_tag(
    db: AsyncSession, principal: Principal, resident_id: uuid.UUID, data: TagCreate
) -> Created[tuple[Resident, str]]:
    """Tag a resident as belonging to a key population; a repeat with the same tag id is answered, not redone."""
    resident, path = await repository.get_in_scope(db, principal, resident_id, Permission.RESIDENTS_WRITE)

    def same(existing: ResidentTag) -> bool:
        return existing.resident_id == resident.id and (
            existing.population,
            existing.since_on,
            existing.until_on,
            existing.source,
        ) == (data.population.value, data.since_on, data.until_on, data.source.value)

    if await replayed(db, ResidentTag, data.id, same=same) is not None:
        return Created((resident, path), False)
    _check_tag(resident.sex, resident.birth_on, data.population, data.since_on, data.until_on, "body")
    for tag in resident.tags:
        if (
            tag.id != data.id
            and tag.population == data.population.value
            and _overlaps(tag.since_on, tag.until_on, data.since_on, data.until_on)
        ):
            raise AlreadyExists(
                f"the resident already has an overlapping {data.population.value} tag", existing_id=str(tag.id)
            )
    if not (await insert_once(db, _new_tag(resident, data, principal), same=same)).created:
        return Created((resident, path), False)
    resident.updated_at = clock.now()  # the tags are part of the resident: a new version, a new sync change
    await db.flush()
    await audit.record(
        db,
        actor_id=principal.user_id,
        action="resident.tag_added",
        subject_type=SUBJECT,
        subject_id=resident.id,
        org_path=path,
        details={"population": data.population.value, "source": data.source.value},
    )
    return Created((await _reload(db, resident.id), path), True)


async def update_tag(
    db: AsyncSession,
    principal: Principal,
    resident_id: uuid.UUID,
    tag_id: uuid.UUID,
    data: TagUpdate,
    *,
    expected_version: int,
) -> tuple[Resident, str]:
    """Change a tag's period (end it, or correct its start); If-Match names the tag's version."""
    resident, path, tag = await repository.tag_in_scope(db, principal, resident_id, tag_id, Permission.RESIDENTS_WRITE)
    check_version(tag.version, expected_version)
    changes = data.model_dump(exclude_unset=True)
    if "since_on" in changes and changes["since_on"] is None:
        raise field_error("body.since_on", "cannot be cleared")
    since_on = changes.get("since_on", tag.since_on)
    until_on = changes.get("until_on", tag.until_on)
    _check_tag(resident.sex, resident.birth_on, KeyPopulation(tag.population), since_on, until_on, "body")
    for other in resident.tags:
        if (
            other.id != tag.id
            and other.population == tag.population
            and _overlaps(other.since_on, other.until_on, since_on, until_on)
        ):
            raise AlreadyExists("overlaps another tag of the same population", existing_id=str(other.id))
    if (since_on, until_on) != (tag.since_on, tag.until_on):
        tag.since_on, tag.until_on = since_on, until_on
        resident.updated_at = clock.now()
        await db.flush()
        await audit.record(
            db,
            actor_id=principal.user_id,
            action="resident.tag_updated",
            subject_type=SUBJECT,
            subject_id=resident.id,
            org_path=path,
            details={"tag_id": str(tag.id), "population": tag.population, "fields": sorted(changes)},
        )
    return await _reload(db, resident.id), path


# ---------------------------------------------------------------- delta sync


# In one statement (one snapshot): the horizon and the last removal pruned in sync order. Only
# transactions older than every one still running are final: below the snapshot's xmin nothing can
# commit any more, so a cursor past it never skips a late commit. A cursor before the last removal
# pruned (``retention.py``) may have missed one.
_HORIZON_AND_PRUNED = text(
    """
    select (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint as horizon,
           r.pruned_through_xid, r.pruned_through_id
    from (select 1) as one left join sync_retention r on r.stream = :stream
    """
)
_SYNC_KEYS = Keyset(Resident.change_xid, Resident.id)
_TOMBSTONE_KEYS = Keyset(ResidentTombstone.change_xid, ResidentTombstone.id)  # the same cursor, the other stream


async def sync(
    db: AsyncSession, principal: Principal, *, cursor: str | None, limit: int
) -> tuple[list[tuple[Resident, str]], str, bool]:
    """Residents in the caller's area changed after ``cursor``, in commit-safe order (change_xid, id)."""
    changes = await sync_changes(db, principal, cursor=cursor, limit=limit)
    return changes.items, changes.next_cursor, changes.has_more


@dataclass(frozen=True)
class SyncChanges:
    """One page of the delta sync: residents changed in the area, and tombstones of those who left it."""

    items: list[tuple[Resident, str]]
    removed: list[ResidentTombstone]
    next_cursor: str
    has_more: bool


async def sync_changes(db: AsyncSession, principal: Principal, *, cursor: str | None, limit: int) -> SyncChanges:
    """Changes after ``cursor`` in commit-safe order (change_xid, id): living residents in the caller's area,
    and tombstones of residents who left it (moved to a grid outside it, died, deleted).

    Both streams are ordered and bounded the same way (below the horizon, after the cursor), and
    merged into one: a row is answered exactly once across pages however writers interleave. A
    tombstone reaches only callers whose area held the old grid and does not hold the new one.
    """
    # Not ``paginate``: the horizon (below xmin) bounds every page, and an empty page answers
    # the cursor it was given, so the client never moves past a change still to commit.
    given = _SYNC_KEYS.decode(cursor)
    last = given or [0, uuid.UUID(int=0)]
    # One horizon for both statements: each statement of a READ COMMITTED transaction takes its own
    # snapshot, so a horizon read per statement let a removal committed in between reach the tombstones
    # but not the rows, and the page's cursor skip past rows the first statement could not yet see.
    # Everything below this horizon had committed before either statement ran.
    mark = (await db.execute(_HORIZON_AND_PRUNED, {"stream": retention.STREAM})).one()
    pruned = (mark.pruned_through_xid, mark.pruned_through_id)
    if given is not None and mark.pruned_through_xid is not None and (given[0], given[1]) < pruned:
        raise SyncExpired(
            f"this cursor is older than the removals kept ({get_settings().sync_tombstone_days} days): "
            "sync again without a cursor and replace the copy of your area",
            field="query.cursor",
        )
    horizon = int(mark.horizon or 0)
    stmt = (
        repository.readable(principal)
        .where(_SYNC_KEYS.after(last), Resident.change_xid < horizon, Resident.died_on.is_(None))
        .options(selectinload(Resident.tags))
        .order_by(*_SYNC_KEYS.order_by())
        .limit(limit + 1)
        .execution_options(populate_existing=True)
    )
    gone = (
        select(ResidentTombstone)
        .where(
            _TOMBSTONE_KEYS.after(last),
            ResidentTombstone.change_xid < horizon,
            scope_clause(principal, Permission.RESIDENTS_READ, ResidentTombstone.from_path),
            or_(
                ResidentTombstone.to_path.is_(None),
                not_(scope_clause(principal, Permission.RESIDENTS_READ, ResidentTombstone.to_path)),
            ),
        )
        .order_by(*_TOMBSTONE_KEYS.order_by())
        .limit(limit + 1)
    )
    merged: list[tuple[int, uuid.UUID, tuple[Resident, str] | ResidentTombstone]] = [
        (r[0].change_xid, r[0].id, (r[0], r[1])) for r in (await db.execute(stmt)).all()
    ]
    merged += [(t.change_xid, t.id, t) for t in (await db.scalars(gone)).all()]
    merged.sort(key=lambda m: (m[0], m[1]))
    page = merged[:limit]
    if page:
        last = [page[-1][0], page[-1][1]]
    items = [m[2] for m in page if isinstance(m[2], tuple)]
    present = {resident.id for resident, _ in items}
    # A resident back in the area within this page is current in ``items``: its older tombstone is moot.
    removed = [m[2] for m in page if isinstance(m[2], ResidentTombstone) and m[2].resident_id not in present]
    return SyncChanges(items, removed, _SYNC_KEYS.encode(last), len(merged) > limit)
