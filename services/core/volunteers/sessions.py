"""Group and community work sessions (小组工作 / 社区工作) a department's social workers run: topic, when,
how long, who facilitated, how many took part; named participants only where they consented; a
community health promotion session names its village and what it promoted (seed 002, area 5)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.audit import service as audit
from services.core.errors import field_error
from services.core.org.models import OrgUnit, OrgUnitKind
from services.core.pagination import paginate
from services.core.replay import Created, insert_once, replayed
from services.core.security.principal import Principal
from services.core.security.roles import Permission
from services.core.socialwork import departments
from services.core.volunteers import common, repository
from services.core.volunteers.models import GroupSession, SessionKind
from services.core.volunteers.schemas import SessionCreate


async def record(db: AsyncSession, *, principal: Principal, data: SessionCreate) -> Created[GroupSession]:
    """Record a session held (a retry with the same id and body is safe)."""
    topic = data.topic.strip()
    if not topic:
        raise field_error("body.topic", "must not be blank")
    names = [n.strip() for n in data.named_participants]
    if any(not n for n in names):
        raise field_error("body.named_participants", "a named participant needs a name")
    if names and not data.participants_consented:
        raise field_error("body.participants_consented", "participants are named only with their recorded consent")
    if len(names) > data.participant_count:
        raise field_error("body.named_participants", "more names than participants")
    if data.held_at > clock.now():
        raise field_error("body.held_at", "a session is recorded once held")
    if data.kind is SessionKind.COMMUNITY and data.village_id is None:
        raise field_error("body.village_id", "community work names its village or community")
    if data.kind is SessionKind.COMMUNITY and data.promotion_topic is None:
        raise field_error("body.promotion_topic", "community work names what it promoted")
    facilitator = data.facilitator_user_id or principal.user_id
    expected = {
        "department_id": data.department_id,
        "kind": data.kind.value,
        "topic": topic,
        "promotion_topic": data.promotion_topic.value if data.promotion_topic else None,
        "held_at": data.held_at,
        "minutes": data.minutes,
        "facilitator_user_id": facilitator,
        "participant_count": data.participant_count,
        "named_participants": names,
        "village_id": data.village_id,
        "notes": data.notes,
    }
    replay = await replayed(
        db,
        GroupSession,
        data.id,
        same=expected,
        in_scope=lambda row: repository.get(
            db, principal, GroupSession, row.id, "session", Permission.VOLUNTEERS_WRITE
        ),
    )
    if replay is not None:
        return replay
    department = await departments.get(
        db, principal, data.department_id, Permission.VOLUNTEERS_WRITE, field="body.department_id"
    )
    if data.village_id is not None:
        village = await db.get(OrgUnit, data.village_id)
        if village is None or village.kind != OrgUnitKind.VILLAGE or village.district_id != department.district_id:
            raise field_error("body.village_id", "not a village or community of the department's district")
    if data.facilitator_user_id is not None and not await common.holds_at_institution(
        db, data.facilitator_user_id, Permission.VOLUNTEERS_WRITE, department.institution_id
    ):
        raise field_error("body.facilitator_user_id", "not a social worker of this department")
    result = await insert_once(
        db,
        GroupSession(
            id=data.id or uuid.uuid4(),
            kind=data.kind.value,
            topic=topic,
            promotion_topic=expected["promotion_topic"],
            held_at=data.held_at,
            minutes=data.minutes,
            facilitator_user_id=facilitator,
            participant_count=data.participant_count,
            named_participants=names,
            village_id=data.village_id,
            notes=data.notes,
            created_by=principal.user_id,
            **common.department_columns(department),
        ),
        same=expected,
    )
    if result.created:
        _, path = await repository.get(db, principal, GroupSession, result.record.id, "session")
        await audit.record_change(db, principal, "group_session.recorded", result.record, org_path=path)
    return result


async def list_sessions(
    db: AsyncSession,
    *,
    principal: Principal,
    department_id: uuid.UUID | None,
    village_id: uuid.UUID | None,
    kind: SessionKind | None,
    held_from: datetime | None,
    held_to: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[GroupSession], str | None]:
    """Sessions in scope, most recent first."""
    stmt = repository.readable(principal, GroupSession)
    if department_id is not None:
        stmt = stmt.where(GroupSession.department_id == department_id)
    if village_id is not None:
        stmt = stmt.where(GroupSession.village_id == village_id)
    if kind is not None:
        stmt = stmt.where(GroupSession.kind == kind.value)
    if held_from is not None:
        stmt = stmt.where(GroupSession.held_at >= held_from)
    if held_to is not None:
        stmt = stmt.where(GroupSession.held_at < held_to)
    keys = [(GroupSession.held_at, "desc"), (GroupSession.id, "desc")]
    return await paginate(db, stmt, keys=keys, cursor=cursor, limit=limit)
