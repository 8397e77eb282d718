"""The deadline engine: open, meet, cancel, and advance a clock through its steps exactly once.

Exactly once rests on two things Postgres gives us, not on Redis: the deadline row is
locked while its steps run (``FOR UPDATE``, ``SKIP LOCKED`` in the sweeper), and each step
is a row whose primary key is ``(deadline_id, step)``, inserted with ``ON CONFLICT DO
NOTHING`` in the same transaction as the notifications it causes. A step whose insert
finds the row already there does nothing; a transaction that dies leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from services.core import clock
from services.core.config import Settings, get_settings
from services.core.db import new_id
from services.core.deadlines.kinds import handler_for, many_messages_for, many_recipients_for
from services.core.deadlines.models import Deadline, DeadlineState, DeadlineStep
from services.core.deadlines.policy import Policy, Step, policy_for, snapshot
from services.core.jobs import JobIntent, enqueue_after_commit
from services.core.metrics import DEADLINE_STEPS_FIRED
from services.core.notifications.service import Message, locales, notify, notify_many
from services.core.notifications.templates import DEFAULT_LOCALE
from services.core.notifications.templates import Message as Said

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


@dataclass(frozen=True)
class Planned:
    """A clock about to be opened: its row's values, and its first step with that step's time."""

    values: dict[str, Any]
    first_step: tuple[str, datetime] | None

    @property
    def id(self) -> uuid.UUID:
        ident: uuid.UUID = self.values["id"]
        return ident


def planned(
    *,
    subject_type: str,
    subject_id: uuid.UUID,
    kind: str,
    district_id: uuid.UUID,
    started_at: datetime | None = None,
    category: str | None = None,
    policy: Policy | None = None,
    settings: Settings | None = None,
) -> Planned:
    """The row ``open_deadline`` writes, computed without the database (for writers that insert
    several rows in one statement; they call ``plan_first_step`` for each clock they inserted)."""
    handler_for(kind)  # an unknown kind is refused now, not at breach time
    policy = policy or policy_for(settings or get_settings(), kind, category)
    started_at = started_at or clock.now()
    due_at = started_at + timedelta(hours=policy.due_after_hours)
    schedule = policy.schedule(started_at=started_at, due_at=due_at)
    now = clock.now()
    values: dict[str, Any] = {
        "id": new_id(),
        "subject_type": subject_type,
        "subject_id": subject_id,
        "kind": kind,
        "policy": snapshot(policy),
        "district_id": district_id,
        "started_at": started_at,
        "due_at": due_at,
        "state": DeadlineState.OPEN.value,
        "next_step_at": schedule[0][1] if schedule else None,
        "created_at": now,
        "updated_at": now,
    }
    return Planned(values, (schedule[0][0].name, schedule[0][1]) if schedule else None)


def plan_first_step(db: AsyncSession, clock_: Planned) -> None:
    """After inserting a planned clock: its first step's job, enqueued after commit."""
    if clock_.first_step is not None:
        _plan(db, clock_.id, *clock_.first_step)


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
    plan = planned(
        subject_type=subject_type,
        subject_id=subject_id,
        kind=kind,
        district_id=district_id,
        started_at=started_at,
        category=category,
        policy=policy,
        settings=settings,
    )
    stmt = (
        insert(Deadline)
        .values(**plan.values)
        .on_conflict_do_nothing(index_elements=["subject_type", "subject_id", "kind"])
        .returning(Deadline.id)
    )
    inserted = await db.scalar(stmt)
    deadline = await get(db, subject_type=subject_type, subject_id=subject_id, kind=kind)
    assert deadline is not None  # noqa: S101 - just inserted or already there
    if inserted is not None and plan.first_step is not None:
        _plan(db, deadline.id, *plan.first_step)
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
    if deadline is None:
        return None
    return await _apply(db, deadline, meeting(_values(deadline), at or clock.now()))


async def cancel(
    db: AsyncSession, *, subject_type: str, subject_id: uuid.UUID, kind: str, at: datetime | None = None
) -> Deadline | None:
    """Stop the clock because the duty went away (e.g. the report was withdrawn). Idempotent."""
    deadline = await _locked(db, subject_type=subject_type, subject_id=subject_id, kind=kind)
    if deadline is None:
        return None
    return await _apply(db, deadline, cancelling(_values(deadline), at or clock.now()))


# What meeting or cancelling reads of a clock; a set-based writer guards its UPDATE on these being
# what it read (``lifecycle.moving``'s callers), so its answer is the one ``meet`` would give under the lock.
STOP_INPUTS = ("state", "met_at", "paused_at", "started_at", "due_at")


def meeting(values: dict[str, Any], at: datetime) -> dict[str, Any] | None:
    """The columns ``meet`` changes on a clock with these ``values`` (``STOP_INPUTS``), met at ``at``;
    None when meeting it does nothing (met already, or cancelled)."""
    if values["met_at"] is not None or values["state"] == DeadlineState.CANCELLED:
        return None
    changed = _unpaused(values, at)
    changed["met_at"] = at
    if values["state"] == DeadlineState.OPEN:
        if at <= changed.get("due_at", values["due_at"]):
            changed["state"] = DeadlineState.MET.value
        else:
            changed["state"] = DeadlineState.BREACHED.value
            changed["breached_at"] = changed.get("due_at", values["due_at"])
    changed["next_step_at"] = None
    return changed


def cancelling(values: dict[str, Any], at: datetime) -> dict[str, Any] | None:
    """The columns ``cancel`` changes on a clock with these ``values``; None when it does nothing."""
    if values["met_at"] is not None or values["state"] == DeadlineState.CANCELLED:
        return None
    return {"state": DeadlineState.CANCELLED.value, "cancelled_at": at, "paused_at": None, "next_step_at": None}


def _values(deadline: Deadline) -> dict[str, Any]:
    return {name: getattr(deadline, name) for name in STOP_INPUTS}


def _unpaused(values: dict[str, Any], at: datetime) -> dict[str, Any]:
    """A paused clock's start and due time move later by the time it stood still."""
    if values["paused_at"] is None:
        return {}
    shift = max(at - values["paused_at"], timedelta(0))
    return {"started_at": values["started_at"] + shift, "due_at": values["due_at"] + shift, "paused_at": None}


async def _apply(db: AsyncSession, deadline: Deadline, changed: dict[str, Any] | None) -> Deadline:
    if changed is not None:
        for name, value in changed.items():
            setattr(deadline, name, value)
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
    for name, value in _unpaused(_values(deadline), at).items():
        setattr(deadline, name, value)


async def fire_due(db: AsyncSession, deadline_id: uuid.UUID, *, now: datetime | None = None) -> Advance:
    """Take every step of one clock that is due by ``now`` (the punctual path: the deferred job)."""
    stmt = select(Deadline).where(Deadline.id == deadline_id).with_for_update()
    deadline = await db.scalar(stmt.execution_options(populate_existing=True))
    if deadline is None:
        return Advance()
    return await _advance(db, deadline, now or clock.now())


async def sweep(db: AsyncSession, *, now: datetime | None = None, limit: int = 500) -> SweepResult:
    """Advance up to ``limit`` due clocks that no other sweeper holds (the certain path).

    Reads only the partial index of clocks with work ahead, then takes the whole batch
    set-based (``_advance_batch``: a handful of statements per batch, not per step). If that
    fails - one clock's handler raised - the batch is redone clock by clock, each in a
    savepoint: the failing one is marked and retried later, the others commit.
    """
    now = now or clock.now()
    deadlines = list(await db.scalars(due_statement(now=now, limit=limit)))
    result = SweepResult(selected=len(deadlines))
    if not deadlines:
        return result
    ids = [deadline.id for deadline in deadlines]
    try:
        async with db.begin_nested():
            result.fired = await _advance_batch(db, deadlines, now)
        DEADLINE_STEPS_FIRED.inc(result.fired)
        return result
    except Exception:
        log.warning("batch sweep failed; taking its clocks one by one", extra={"clocks": len(ids)}, exc_info=True)
    for deadline_id in ids:
        try:
            async with db.begin_nested():
                fired = (await fire_due(db, deadline_id, now=now)).fired
            result.fired += len(fired)
        except Exception as exc:
            log.exception("deadline step failed", extra={"deadline_id": str(deadline_id)})
            result.failed.append(deadline_id)
            await db.execute(
                update(Deadline)
                .where(Deadline.id == deadline_id)
                .values(next_step_at=now + RETRY_AFTER, last_error=type(exc).__name__)  # no values: may hold PII
            )
    DEADLINE_STEPS_FIRED.inc(result.fired)
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
        if recipients:  # a step that tells nobody still happened (its row says so), it just says nothing
            await notify(
                db,
                user_ids=recipients,
                kind=f"deadline.{step.name}",
                message=await handler.message(db, deadline, step, recipients),
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


@dataclass
class _Planned:
    """One clock of a batch: its steps due now (with recipients), and what comes after."""

    deadline: Deadline
    steps: list[tuple[Step, datetime, list[uuid.UUID]]]
    upcoming: Advance
    state: str
    breached_at: datetime | None


async def _advance_batch(db: AsyncSession, deadlines: list[Deadline], now: datetime) -> int:
    """``_advance`` for a whole batch of locked clocks, set-based; returns how many steps fired.

    Per batch: recipients per step (the kind's handler), then one INSERT claiming every due
    step (``(deadline_id, step)`` stays the exactly-once key), one statement writing the inbox
    items of the claimed steps with their counters (``notify_many``), one for the outbox, one
    UPDATE of the clocks. Unlike ``_advance``, a handler does not see the notifications of an
    earlier step of the same clock taken in the same batch (no built-in audience reads them).
    """
    planned: list[_Planned] = []
    for deadline in deadlines:
        if deadline.met_at is not None or deadline.state in (DeadlineState.MET, DeadlineState.CANCELLED):
            continue
        if deadline.next_step_at is None or deadline.next_step_at > now:
            continue
        schedule = _schedule(deadline)
        state, breached_at = deadline.state, deadline.breached_at
        steps: list[tuple[Step, datetime, list[uuid.UUID]]] = []
        for step, at in schedule:
            if at > now:
                break
            if at >= deadline.due_at and state == DeadlineState.OPEN:
                state, breached_at = DeadlineState.BREACHED.value, deadline.due_at
            steps.append((step, at, []))
        planned.append(_Planned(deadline, steps, _upcoming(schedule, now), state, breached_at))
    await _resolve_recipients(db, planned)
    if not planned:
        return 0
    rows = [
        {
            "deadline_id": p.deadline.id,
            "step": step.name,
            "scheduled_at": at,
            "fired_at": now,
            "recipient_ids": [str(r) for r in recipients],
        }
        for p in planned
        for step, at, recipients in p.steps
    ]
    claimed: set[tuple[uuid.UUID, str]] = set()
    if rows:
        claim = await db.execute(
            _CLAIM,
            {
                "deadline_ids": [r["deadline_id"] for r in rows],
                "steps": [r["step"] for r in rows],
                "scheduled": [r["scheduled_at"] for r in rows],
                "recipients": [json.dumps(r["recipient_ids"]) for r in rows],
                "now": now,
            },
        )
        claimed = {(row.deadline_id, row.step) for row in claim}
    # The clocks first, the inbox last: the hot per-user counter rows are held for the shortest time.
    await db.execute(
        _MOVE,
        {
            "ids": [p.deadline.id for p in planned],
            "states": [p.state for p in planned],
            "breached": [p.breached_at for p in planned],
            "next": [p.upcoming.next_step_at for p in planned],
            "now": clock.now(),
        },
    )
    # What each claimed step says, rendered per recipient in their language (a template per kind):
    # one notify_many message per distinct text, so the batch stays one statement for the inbox.
    pending = [
        (p, step, recipients)
        for p in planned
        for step, _, recipients in p.steps
        if (p.deadline.id, step.name) in claimed and recipients
    ]
    languages = await locales(db, {u for _, _, recipients in pending for u in recipients})
    said_of = await _said(db, pending)
    messages: list[Message] = []
    for i, (p, step, recipients) in enumerate(pending):
        said = said_of[i]
        by_text: dict[tuple[str, str], list[uuid.UUID]] = {}
        for user_id in recipients:
            by_text.setdefault(said.render(languages.get(user_id, DEFAULT_LOCALE), user_id), []).append(user_id)
        messages += [
            Message(
                user_ids=users,
                kind=f"deadline.{step.name}",
                title=title,
                body=body,
                subject_type=p.deadline.subject_type,
                subject_id=p.deadline.subject_id,
                dedupe_key=job_id(p.deadline.id, step.name),
            )
            for (title, body), users in by_text.items()
        ]
    await notify_many(db, messages)
    for p in planned:
        set_committed_value(p.deadline, "next_step_at", p.upcoming.next_step_at)
        set_committed_value(p.deadline, "last_error", None)
        if p.upcoming.next_step is not None and p.upcoming.next_step_at is not None:
            _plan(db, p.deadline.id, p.upcoming.next_step, p.upcoming.next_step_at)
    return len(claimed)


async def _said(db: AsyncSession, pending: list[tuple[_Planned, Step, list[uuid.UUID]]]) -> list[Said]:
    """What each claimed step says, in ``pending``'s order: one call per kind when it registered
    set-based messages (``deadline_messages_many``), else the kind's ``message`` per step."""
    said: list[Said | None] = [None] * len(pending)
    by_kind: dict[str, list[int]] = {}
    for i, (p, _, _) in enumerate(pending):
        by_kind.setdefault(p.deadline.kind, []).append(i)
    for kind, indexes in by_kind.items():
        many = many_messages_for(kind)
        if many is not None:
            answers = await many(db, [(pending[i][0].deadline, pending[i][1], pending[i][2]) for i in indexes])
            for i, answer in zip(indexes, answers, strict=True):
                said[i] = answer
            continue
        handler = handler_for(kind)
        for i in indexes:
            p, step, recipients = pending[i]
            said[i] = await handler.message(db, p.deadline, step, recipients)
    return [s for s in said if s is not None]  # every index was filled above


async def _resolve_recipients(db: AsyncSession, planned: list[_Planned]) -> None:
    """Fill in each planned step's recipients: one call per kind when it has a set-based resolver.

    Per step otherwise, in step order, the clock showing the state ``_advance`` would show at
    that step (breached from the breach on). Values are set as committed: no ORM flush follows.
    """
    by_kind: dict[str, list[_Planned]] = {}
    for p in planned:
        by_kind.setdefault(p.deadline.kind, []).append(p)
    for kind, group in by_kind.items():
        many = many_recipients_for(kind)
        if many is not None:
            for p in group:
                set_committed_value(p.deadline, "state", p.state)
                set_committed_value(p.deadline, "breached_at", p.breached_at)
            pairs = [(p, i) for p in group for i in range(len(p.steps))]
            found = await many(db, [(p.deadline, p.steps[i][0]) for p, i in pairs])
            for (p, i), users in zip(pairs, found, strict=True):
                step, at, _ = p.steps[i]
                p.steps[i] = (step, at, list(dict.fromkeys(users)))
            continue
        handler = handler_for(kind)
        for p in group:
            for i, (step, at, _) in enumerate(p.steps):
                if at >= p.deadline.due_at and p.deadline.state == DeadlineState.OPEN:
                    set_committed_value(p.deadline, "state", DeadlineState.BREACHED.value)
                    set_committed_value(p.deadline, "breached_at", p.deadline.due_at)
                users = await handler.recipients(db, p.deadline, step)
                p.steps[i] = (step, at, list(dict.fromkeys(users)))


# Claim every due step of a batch at once; the primary key (deadline_id, step) still decides who fires it.
_CLAIM = text(
    """
    insert into deadline_step (deadline_id, step, scheduled_at, fired_at, recipient_ids)
    select t.deadline_id, t.step, t.scheduled_at, :now, cast(t.recipients as jsonb)
    from unnest(cast(:deadline_ids as uuid[]), cast(:steps as text[]), cast(:scheduled as timestamptz[]),
                cast(:recipients as text[])) as t(deadline_id, step, scheduled_at, recipients)
    on conflict (deadline_id, step) do nothing
    returning deadline_id, step
    """
)

# Move every clock of a batch to its next step (or to none) in one statement.
_MOVE = text(
    """
    update deadline d
    set state = t.state, breached_at = t.breached_at, next_step_at = t.next_step_at, last_error = null,
        updated_at = :now
    from unnest(cast(:ids as uuid[]), cast(:states as text[]), cast(:breached as timestamptz[]),
                cast(:next as timestamptz[])) as t(id, state, breached_at, next_step_at)
    where d.id = t.id
    """
)


@lru_cache(maxsize=256)
def _policy(raw: str) -> Policy:
    return Policy.model_validate_json(raw)


def _schedule(deadline: Deadline) -> list[tuple[Step, datetime]]:
    """The clock's schedule from its policy snapshot (parsed once per distinct snapshot)."""
    policy = _policy(json.dumps(deadline.policy, sort_keys=True))
    return policy.schedule(started_at=deadline.started_at, due_at=deadline.due_at)


def _upcoming(schedule: list[tuple[Step, datetime]], now: datetime) -> Advance:
    for step, at in schedule:
        if at > now:
            return Advance(next_step=step.name, next_step_at=at)
    return Advance()


def _plan(db: AsyncSession, deadline_id: uuid.UUID, step: str, at: datetime) -> None:
    """Enqueue the step's job for its time after commit (punctuality; the sweeper is the guarantee)."""
    enqueue_after_commit(db, JobIntent(FIRE_JOB, (str(deadline_id), step), job_id(deadline_id, step), at))
