"""Inside a case, besides its changes of state: activity notes, confidential notes, plan tasks done.

Confidential notes (保密记录) are sealed (``CONFIDENTIAL_BODY``) and read only through ``read_notes``:
by the case's social workers and the department's supervisor (``access.may_read_confidential``), each
note read leaving an audit event. Anyone else, whatever else they may read of the case, gets 404 at
the notes' endpoints, as if there were none (the case view never carries them or their number).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.audit import service as audit
from services.core.deadlines import service as deadlines
from services.core.errors import Conflict, Forbidden, IllegalTransition, NotFound, field_error
from services.core.lifecycle import require_version
from services.core.replay import Created, insert_once, replayed
from services.core.security.pii import PiiCipher
from services.core.security.roles import Permission
from services.core.socialwork import access
from services.core.socialwork.errors import CaseClosed
from services.core.socialwork.lifecycle import TASK_DUE, TASK_SUBJECT, WORKERS_ONLY, CaseActor
from services.core.socialwork.models import (
    CONFIDENTIAL_BODY,
    Activity,
    CaseStatus,
    ConfidentialNote,
    PlanTask,
    TaskStatus,
)
from services.core.socialwork.schemas import ActivityCreate, ConfidentialNoteCreate, ConfidentialNoteRead


def _writable(actor: CaseActor, path: str) -> None:
    """403 unless the caller works on the case; 409 when it is closed (reopen it first)."""
    if not actor.principal.can_at_institution(
        Permission.SOCIALWORK_WRITE, path, actor.case.institution_id
    ) or not access.works_on(actor.principal, actor.case, actor.worker_ids):
        raise Forbidden(WORKERS_ONLY)
    if actor.case.status == CaseStatus.CLOSED.value:
        raise CaseClosed("the case is closed: reopen it first", status=actor.case.status)


async def add_activity(db: AsyncSession, actor: CaseActor, path: str, data: ActivityCreate) -> Created[Activity]:
    """Record an activity: individual, family, group or community work, when, how long, who took part."""
    expected = {"case_id": actor.case.id, "mode": data.mode.value, "minutes": data.minutes, "summary": data.summary}
    replay = await replayed(db, Activity, data.id, same=expected)
    if replay is not None:
        return replay
    _writable(actor, path)
    if data.happened_at > clock.now():
        raise field_error("body.happened_at", "lies in the future")
    result = await insert_once(
        db,
        Activity(
            id=data.id or uuid.uuid4(),
            case_id=actor.case.id,
            district_id=actor.case.district_id,
            mode=data.mode.value,
            happened_at=data.happened_at,
            minutes=data.minutes,
            participants=[p.strip() for p in data.participants],
            summary=data.summary,
            recorded_by=actor.user_id,
            recorded_at=clock.now(),
        ),
        same=expected,
    )
    return result


async def add_note(
    db: AsyncSession, actor: CaseActor, path: str, data: ConfidentialNoteCreate, *, pii: PiiCipher
) -> Created[ConfidentialNoteRead]:
    """Write a confidential note (sealed). Only those who may read the notes may write one."""
    if not access.may_read_confidential(actor.principal, actor.case, actor.worker_ids):
        raise NotFound(f"case {actor.case.id} has no confidential notes for you")
    if data.id is not None:
        existing = await db.get(ConfidentialNote, data.id)
        if existing is not None:
            if (
                existing.case_id != actor.case.id
                or CONFIDENTIAL_BODY.open(pii, existing.id, existing.body_enc) != data.body
            ):
                raise Conflict(
                    f"note {existing.id} already exists with different content", existing_id=str(existing.id)
                )
            return Created(_read(existing, data.body), False)
    _writable(actor, path)
    note_id = data.id or uuid.uuid4()
    body = CONFIDENTIAL_BODY.seal(pii, note_id, data.body)
    result = await insert_once(
        db,
        ConfidentialNote(
            id=note_id,
            case_id=actor.case.id,
            district_id=actor.case.district_id,
            body_enc=body,
            written_by=actor.user_id,
            written_at=clock.now(),
        ),
        same=lambda row: row.case_id == actor.case.id,
    )
    if result.created:
        await audit.record(
            db,
            actor_id=actor.user_id,
            action="social_work_note.written",
            subject_type="social_work_note",
            subject_id=note_id,
            org_path=path,
            details={"case_id": str(actor.case.id)},
        )
    return Created(_read(result.record, data.body), result.created)


async def read_notes(db: AsyncSession, actor: CaseActor, path: str, *, pii: PiiCipher) -> list[ConfidentialNoteRead]:
    """The case's confidential notes, oldest first, for those who may read them; one audit event per note
    read. 404 for anyone else."""
    if not access.may_read_confidential(actor.principal, actor.case, actor.worker_ids):
        raise NotFound(f"case {actor.case.id} has no confidential notes for you")
    notes = list(
        await db.scalars(
            select(ConfidentialNote)
            .where(ConfidentialNote.case_id == actor.case.id)
            .order_by(ConfidentialNote.written_at, ConfidentialNote.id)
        )
    )
    out = []
    for note in notes:
        out.append(_read(note, CONFIDENTIAL_BODY.open(pii, note.id, note.body_enc)))
        await audit.record(
            db,
            actor_id=actor.user_id,
            action="social_work_note.read",
            subject_type="social_work_note",
            subject_id=note.id,
            org_path=path,
            details={"case_id": str(actor.case.id)},
        )
    return out


def _read(note: ConfidentialNote, body: str) -> ConfidentialNoteRead:
    return ConfidentialNoteRead(
        id=note.id,
        case_id=note.case_id,
        body=body,
        written_by=note.written_by,
        written_at=note.written_at,
        version=note.version,
    )


async def get_task(db: AsyncSession, task_id: uuid.UUID) -> PlanTask:
    """A task by id (the caller's scope is judged on its case by the route)."""
    task = await db.get(PlanTask, task_id)
    if task is None:
        raise NotFound(f"task {task_id} not found")
    return task


async def complete_task(
    db: AsyncSession, actor: CaseActor, path: str, task: PlanTask, *, expected_version: int | None
) -> PlanTask:
    """Mark a plan task done (If-Match: the task's version): its clock is met (no reminder, no overdue notice)."""
    require_version(task, expected_version)
    _writable(actor, path)
    if task.status != TaskStatus.OPEN.value:
        raise IllegalTransition(
            f"cannot complete a task that is {task.status}", status=task.status, allowed_from=["open"]
        )
    now = clock.now()
    task.status, task.done_at = TaskStatus.DONE.value, now
    await deadlines.meet(db, subject_type=TASK_SUBJECT, subject_id=task.id, kind=TASK_DUE, at=now)
    await db.flush()
    return task
