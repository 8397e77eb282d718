"""The deadline engine: open, meet, cancel, and advance a clock through its steps exactly once.

Exactly once rests on two things Postgres gives us, not on Redis: the deadline row is
locked while its steps run (``FOR UPDATE``, ``SKIP LOCKED`` in the sweeper), and each step
is a row whose primary key is ``(deadline_id, step)``, inserted with ``ON CONFLICT DO
NOTHING`` in the same transaction as the notifications it causes. A step whose insert
finds the row already there does nothing; a transaction that dies leaves nothing behind.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.config import Settings, get_settings
from services.core.db import new_id
from services.core.deadlines.kinds import handler_for
from services.core.deadlines.models import Deadline, DeadlineState, DeadlineStep
from services.core.deadlines.policy import Policy, Step, policy_for, snapshot
from services.core.jobs import JobIntent, enqueue_after_commit
from services.core.notifications.service import notify

log = logging.getLogger("gridcare.deadlines")

FIRE_JOB = "deadlines.fire"
# A clock whose handler failed is tried again this much later (the error is kept on the row).
RETRY_AFTER = timedelta(minutes=5)


def job_id(deadline_id: uuid.UUID, step: str) -> str:
    """The deterministic arq job id of one step."""
    return f"deadline:{deadline_id}:{step}"


@dataclass
class Advance:
    """What advancing one clock did: the steps that fired now, and the next step's time."""

    fired: list[str] = field(default_factory=list)
    next_step: str | None = None
    next_step_at: datetime | None = None


@dataclass
class SweepResult:
    selected: int = 0
    fired: int = 0
    failed: list[uuid.UUID] = field(default_factory=list)


async def open_deadline(
    db: AsyncSession,
    *,
    subject_type: str,
    subject_id: uuid.UUID,
    kind: str,
    district_id: uuid.UUID,
    started_at: datetime | None = None,
    category: str | None = None,
    policy: Policy | None = None,
    settings: Settings | None = None,
) -> Deadline:
    """Start the clock of ``kind`` on a subject, in the caller's transaction.

    Idempotent: one clock per (subject, kind); opening it again returns the existing one.
    The first step's job is enqueued after the caller commits.
    """
    handler_for(kind)  # an unknown kind is refused now, not at breach time
    policy = policy or policy_for(settings or get_settings(), kind, category)
    started_at = started_at or clock.now()
    due_at = started_at + timedelta(hours=policy.due_after_hours)
    schedule = policy.schedule(started_at=started_at, due_at=due_at)
    now = clock.now()
    stmt = (
        insert(Deadline)
        .values(
            id=new_id(),
            subject_type=subject_type,
            subject_id=subject_id,
            kind=kind,
            policy=snapshot(policy),
            district_id=district_id,
            started_at=started_at,
            due_at=due_at,
            state=DeadlineState.OPEN.value,
            next_step_at=schedule[0][1] if schedule else None,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["subject_type", "subject_id", "kind"])
        .returning(Deadline.id)
    )
    inserted = await db.scalar(stmt)
    deadline = await get(db, subject_type=subject_type, subject_id=subject_id, kind=kind)
    assert deadline is not None  # noqa: S101 - just inserted or already there
    if inserted is not None and schedule:
        _plan(db, deadline.id, schedule[0][0].name, schedule[0][1])
    return deadline


async def get(db: AsyncSession, *, subject_type: str, subject_id: uuid.UUID, kind: str) -> Deadline | None:
    """The clock of ``kind`` on a subject, if any."""
    stmt = select(Deadline).where(
        Deadline.subject_type == subject_type, Deadline.subject_id == subject_id, Deadline.kind == kind
    )
    return await db.scalar(stmt.execution_options(populate_existing=True))


async def meet(
    db: AsyncSession, *, subject_type: str, subject_id: uuid.UUID, kind: str, at: datetime | None = None
) -> Deadline | None:
    """Stop the clock because the duty was done (e.g. the first follow-up). Idempotent.

    Met in time: no breach and no escalation. Met late: it stays breached (that is a fact),
    and no further step happens.
    """
    deadline = await _locked(db, subject_type=subject_type, subject_id=subject_id, kind=kind)
    if deadline is None or deadline.met_at is not None or deadline.state == DeadlineState.CANCELLED:
        return deadline
    at = at or clock.now()
    _unpause(deadline, at)
    deadline.met_at = at
    if deadline.state == DeadlineState.OPEN:
        if at <= deadline.due_at:
            deadline.state = DeadlineState.MET.value
        else:
            deadline.state = DeadlineState.BREACHED.value
            deadline.breached_at = deadline.due_at
    deadline.next_step_at = None
    await db.flush()
    return deadline


async def cancel(
    db: AsyncSession, *, subject_type: str, subject_id: uuid.UUID, kind: str, at: datetime | None = None
) -> Deadline | None:
    """Stop the clock because the duty went away (e.g. the report was withdrawn). Idempotent."""
    deadline = await _locked(db, subject_type=subject_type, subject_id=subject_id, kind=kind)
    if deadline is None or deadline.met_at is not None or deadline.state == DeadlineState.CANCELLED:
        return deadline
    deadline.state = DeadlineState.CANCELLED.value
    deadline.cancelled_at = at or clock.now()
    deadline.paused_at = None
    deadline.next_step_at = None
    await db.flush()
    return deadline


async def pause(
    db: AsyncSession, *, subject_type: str, subject_id: uuid.UUID, kind: str, at: datetime | None = None
) -> Deadline | None:
    """Stop the clock ticking (its subject is on hold): no step fires until ``resume``. Idempotent."""
    deadline = await _locked(db, subject_type=subject_type, subject_id=subject_id, kind=kind)
    if deadline is None or deadline.state != DeadlineState.OPEN or deadline.paused_at is not None:
        return deadline
    deadline.paused_at = at or clock.now()
    deadline.next_step_at = None
    await db.flush()
    return deadline


async def resume(
    db: AsyncSession, *, subject_type: str, subject_id: uuid.UUID, kind: str, at: datetime | None = None
) -> Deadline | None:
    """Start a paused clock again: its start, due time and every step not yet taken move later by
    the time it stood still. Idempotent."""
    deadline = await _locked(db, subject_type=subject_type, subject_id=subject_id, kind=kind)
    if deadline is None or deadline.paused_at is None:
        return deadline
    _unpause(deadline, at or clock.now())
    taken = {s.step for s in await steps_taken(db, deadline.id)}
    policy = Policy.model_validate(deadline.policy)
    ahead = [(s, t) for s, t in policy.schedule(started_at=deadline.started_at, due_at=deadline.due_at)]
    ahead = [(s, t) for s, t in ahead if s.name not in taken]
    deadline.next_step_at = ahead[0][1] if ahead else None
    await db.flush()
    if ahead:
        _plan(db, deadline.id, ahead[0][0].name, ahead[0][1])
    return deadline


def _unpause(deadline: Deadline, at: datetime) -> None:
    """A paused clock's start and due time move later by the time it stood still."""
    if deadline.paused_at is None:
        return
    shift = max(at - deadline.paused_at, timedelta(0))
    deadline.started_at += shift
    deadline.due_at += shift
    deadline.paused_at = None


async def fire_due(db: AsyncSession, deadline_id: uuid.UUID, *, now: datetime | None = None) -> Advance:
    """Take every step of one clock that is due by ``now`` (the punctual path: the deferred job)."""
    stmt = select(Deadline).where(Deadline.id == deadline_id).with_for_update()
    deadline = await db.scalar(stmt.execution_options(populate_existing=True))
    if deadline is None:
        return Advance()
    return await _advance(db, deadline, now or clock.now())


async def sweep(db: AsyncSession, *, now: datetime | None = None, limit: int = 500) -> SweepResult:
    """Advance up to ``limit`` due clocks that no other sweeper holds (the certain path).

    Reads only the partial index of clocks with work ahead. Each clock runs in a
    savepoint: one that fails is rolled back, marked and retried later, the others commit.
    """
    now = now or clock.now()
    deadlines = list(await db.scalars(due_statement(now=now, limit=limit)))
    result = SweepResult(selected=len(deadlines))
    for deadline in deadlines:
        deadline_id = deadline.id
        try:
            async with db.begin_nested():
                result.fired += len((await _advance(db, deadline, now)).fired)
        except Exception as exc:
            log.exception("deadline step failed", extra={"deadline_id": str(deadline_id)})
            result.failed.append(deadline_id)
            await db.execute(
                update(Deadline)
                .where(Deadline.id == deadline_id)
                .values(next_step_at=now + RETRY_AFTER, last_error=type(exc).__name__)  # no values: may hold PII
            )
    return result


def due_statement(*, now: datetime, limit: int) -> Select[Deadline]:
    """Due clocks no other transaction holds, oldest first (served by the partial index)."""
    return (
        select(Deadline)
        .where(Deadline.next_step_at.is_not(None), Deadline.next_step_at <= now)
        .order_by(Deadline.next_step_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )


async def steps_taken(db: AsyncSession, deadline_id: uuid.UUID) -> list[DeadlineStep]:
    """The steps a clock has taken, in order."""
    stmt = select(DeadlineStep).where(DeadlineStep.deadline_id == deadline_id).order_by(DeadlineStep.scheduled_at)
    return list(await db.scalars(stmt))


async def _locked(db: AsyncSession, *, subject_type: str, subject_id: uuid.UUID, kind: str) -> Deadline | None:
    stmt = (
        select(Deadline)
        .where(Deadline.subject_type == subject_type, Deadline.subject_id == subject_id, Deadline.kind == kind)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return await db.scalar(stmt)


async def _advance(db: AsyncSession, deadline: Deadline, now: datetime) -> Advance:
    """Fire each due step not yet taken, then point ``next_step_at`` at the next one. Row is locked."""
    if deadline.met_at is not None or deadline.state in (DeadlineState.MET, DeadlineState.CANCELLED):
        return Advance()
    if deadline.next_step_at is None or deadline.paused_at is not None:
        return Advance()
    policy = Policy.model_validate(deadline.policy)
    schedule = policy.schedule(started_at=deadline.started_at, due_at=deadline.due_at)
    if deadline.next_step_at > now:
        return _upcoming(schedule, now)
    handler = handler_for(deadline.kind)
    advance = Advance()
    for step, at in schedule:
        if at > now:
            break
        claim = (
            insert(DeadlineStep)
            .values(deadline_id=deadline.id, step=step.name, scheduled_at=at, fired_at=now, recipient_ids=[])
            .on_conflict_do_nothing(index_elements=["deadline_id", "step"])
            .returning(DeadlineStep.step)
        )
        if await db.scalar(claim) is None:
            continue  # taken before: by another worker, an earlier run of this job, ...
        if at >= deadline.due_at and deadline.state == DeadlineState.OPEN:
            deadline.state = DeadlineState.BREACHED.value
            deadline.breached_at = deadline.due_at
        recipients = list(dict.fromkeys(await handler.recipients(db, deadline, step)))
        title, body = handler.message(deadline, step)
        await notify(
            db,
            user_ids=recipients,
            kind=f"deadline.{step.name}",
            title=title,
            body=body,
            subject_type=deadline.subject_type,
            subject_id=deadline.subject_id,
            dedupe_key=job_id(deadline.id, step.name),
        )
        await db.execute(
            update(DeadlineStep)
            .where(DeadlineStep.deadline_id == deadline.id, DeadlineStep.step == step.name)
            .values(recipient_ids=[str(r) for r in recipients])
        )
        advance.fired.append(step.name)
    upcoming = _upcoming(schedule, now)
    advance.next_step, advance.next_step_at = upcoming.next_step, upcoming.next_step_at
    deadline.next_step_at = upcoming.next_step_at
    deadline.last_error = None
    await db.flush()
    if upcoming.next_step is not None and upcoming.next_step_at is not None:
        _plan(db, deadline.id, upcoming.next_step, upcoming.next_step_at)
    return advance


def _upcoming(schedule: list[tuple[Step, datetime]], now: datetime) -> Advance:
    for step, at in schedule:
        if at > now:
            return Advance(next_step=step.name, next_step_at=at)
    return Advance()


def _plan(db: AsyncSession, deadline_id: uuid.UUID, step: str, at: datetime) -> None:
    """Enqueue the step's job for its time after commit (punctuality; the sweeper is the guarantee)."""
    enqueue_after_commit(db, JobIntent(FIRE_JOB, (str(deadline_id), step), job_id(deadline_id, step), at))
