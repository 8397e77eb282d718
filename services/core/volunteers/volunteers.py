"""Volunteers registered with a social-work department: skills, certificates, availability, the social
worker they are paired with (双工), and their own login."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.audit import service as audit
from services.core.errors import AlreadyExists, field_error
from services.core.lifecycle import require_version
from services.core.pagination import paginate
from services.core.replay import Created, insert_once, replayed
from services.core.security.principal import Principal
from services.core.security.roles import Permission
from services.core.socialwork import departments
from services.core.volunteers import common, repository
from services.core.volunteers.models import Volunteer
from services.core.volunteers.schemas import (
    Certificate,
    CertificateRead,
    VolunteerCreate,
    VolunteerRead,
    VolunteerUpdate,
)


def _certificates(items: list[Certificate]) -> list[dict[str, Any]]:
    return [
        {"name": c.name.strip(), "number": c.number, "expires_on": c.expires_on.isoformat() if c.expires_on else None}
        for c in items
    ]


def _name(value: str, field: str) -> str:
    name = value.strip()
    if not name:
        raise field_error(field, "must not be blank")
    return name


async def _check_people(
    db: AsyncSession, institution_id: uuid.UUID, *, paired_user_id: uuid.UUID | None, user_id: uuid.UUID | None
) -> None:
    """The pair is a social worker of the department; the login is a volunteer's account there, and no one else's."""
    if paired_user_id is not None and not await common.holds_at_institution(
        db, paired_user_id, Permission.VOLUNTEERS_WRITE, institution_id
    ):
        raise field_error("body.paired_user_id", "not a social worker of this department")
    if user_id is not None and not await common.holds_at_institution(
        db, user_id, Permission.VOLUNTEERS_SUBMIT_HOURS, institution_id
    ):
        raise field_error("body.user_id", "not an account with a volunteer grant at this institution")


async def register(db: AsyncSession, *, principal: Principal, data: VolunteerCreate) -> Created[Volunteer]:
    """Register a volunteer with a department (a retry with the same id and body is safe)."""
    name = _name(data.name, "body.name")
    expected = {
        "department_id": data.department_id,
        "name": name,
        "skills": [s.value for s in data.skills],
        "availability": [s.value for s in data.availability],
        "certificates": _certificates(data.certificates),
        "paired_user_id": data.paired_user_id,
        "user_id": data.user_id,
        "registered_on": data.registered_on,
    }
    replay = await replayed(
        db,
        Volunteer,
        data.id,
        same=expected,
        in_scope=lambda row: repository.get(db, principal, Volunteer, row.id, "volunteer", Permission.VOLUNTEERS_WRITE),
    )
    if replay is not None:
        return replay
    department = await departments.get(
        db, principal, data.department_id, Permission.VOLUNTEERS_WRITE, field="body.department_id"
    )
    await _check_people(db, department.institution_id, paired_user_id=data.paired_user_id, user_id=data.user_id)
    if data.user_id is not None:
        taken = await db.scalar(select(Volunteer.id).where(Volunteer.user_id == data.user_id, Volunteer.id != data.id))
        if taken is not None:
            raise AlreadyExists("this login already belongs to a volunteer", existing_id=str(taken))
    result = await insert_once(
        db,
        Volunteer(
            id=data.id or uuid.uuid4(),
            name=name,
            skills=expected["skills"],
            availability=expected["availability"],
            certificates=expected["certificates"],
            paired_user_id=data.paired_user_id,
            user_id=data.user_id,
            registered_on=data.registered_on or common.today(),
            created_by=principal.user_id,
            **common.department_columns(department),
        ),
        same=expected,
    )
    if result.created:
        _, path = await repository.get(db, principal, Volunteer, result.record.id, "volunteer")
        await audit.record_change(db, principal, "volunteer.registered", result.record, org_path=path)
    return result


async def update(
    db: AsyncSession,
    *,
    principal: Principal,
    volunteer_id: uuid.UUID,
    data: VolunteerUpdate,
    expected_version: int | None,
) -> Volunteer:
    """Change a volunteer's name, skills, certificates, availability or pair (If-Match)."""
    volunteer, path = await repository.get(
        db, principal, Volunteer, volunteer_id, "volunteer", Permission.VOLUNTEERS_WRITE, for_update=True
    )
    require_version(volunteer, expected_version)
    sent = data.model_fields_set
    if "paired_user_id" in sent:
        await _check_people(db, volunteer.institution_id, paired_user_id=data.paired_user_id, user_id=None)
        volunteer.paired_user_id = data.paired_user_id
    if data.name is not None:
        volunteer.name = _name(data.name, "body.name")
    if data.skills is not None:
        volunteer.skills = [s.value for s in data.skills]
    if data.availability is not None:
        volunteer.availability = [s.value for s in data.availability]
    if data.certificates is not None:
        volunteer.certificates = _certificates(data.certificates)
    await db.flush()
    await audit.record_change(db, principal, "volunteer.updated", volunteer, org_path=path, fields=sorted(sent))
    return volunteer


async def list_volunteers(
    db: AsyncSession,
    *,
    principal: Principal,
    department_id: uuid.UUID | None,
    skill: str | None,
    paired_user_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Volunteer], str | None]:
    """Volunteers in scope (a volunteer's login: their own record), by name."""
    stmt = repository.readable(principal, Volunteer)
    if department_id is not None:
        stmt = stmt.where(Volunteer.department_id == department_id)
    if skill is not None:
        stmt = stmt.where(Volunteer.skills.contains([skill]))
    if paired_user_id is not None:
        stmt = stmt.where(Volunteer.paired_user_id == paired_user_id)
    return await paginate(db, stmt, keys=[Volunteer.name, Volunteer.id], cursor=cursor, limit=limit)


def to_read(volunteer: Volunteer) -> VolunteerRead:
    """The answer, each certificate marked expired against today's date in China."""
    today = common.today()
    certificates = [
        CertificateRead(
            name=c["name"],
            number=c.get("number"),
            expires_on=c.get("expires_on"),
            expired=c.get("expires_on") is not None and c["expires_on"] < today.isoformat(),
        )
        for c in volunteer.certificates
    ]
    return VolunteerRead(
        id=volunteer.id,
        department_id=volunteer.department_id,
        institution_id=volunteer.institution_id,
        name=volunteer.name,
        skills=volunteer.skills,
        certificates=certificates,
        availability=volunteer.availability,
        paired_user_id=volunteer.paired_user_id,
        user_id=volunteer.user_id,
        registered_on=volunteer.registered_on,
        version=volunteer.version,
    )
