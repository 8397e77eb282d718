"""Check and apply a transition: the one order of refusals, the one setter, the one history.

Order, everywhere a record changes state (the loader has already answered 404 out of scope):
428 no If-Match / 412 stale version -> 403 not permitted on this record -> 409 illegal from
this state. ``move`` then stops or starts the transition's deadlines *before* it touches the
record (a deadline's flush would otherwise version the record twice), applies the changes,
sets the state, writes one ``record_transition`` row and flushes once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from services.core.db import new_id
from services.core.deadlines import service as deadlines
from services.core.deadlines.models import Deadline
from services.core.errors import Forbidden, IllegalTransition, PreconditionRequired
from services.core.lifecycle.machine import Lifecycle, Transition
from services.core.lifecycle.models import RecordTransition
from services.core.versioning import check_version

R = TypeVar("R")


@dataclass(frozen=True)
class Checked(Generic[R]):
    """A transition found legal for this record, caller and version: what ``move`` applies."""

    lifecycle: Lifecycle[R]
    record: R
    transition: Transition
    state: StrEnum | None


def check(
    lifecycle: Lifecycle[R],
    record: R,
    action: str,
    *,
    actor: Any,
    path: str,
    expected_version: int | None,
    state: StrEnum | None = None,
) -> Checked[R]:
    """Refuse in the one order (428/412, 403, 409) or answer the transition to apply.

    ``state`` overrides the declared ``state_of`` when the domain derived it with a query.
    """
    act = lifecycle.actions[action]
    if act.needs_version or expected_version is not None:
        require_version(record, expected_version)
    permitted = lifecycle.authorized(actor, act.permission, record, path)
    if not permitted or (act.rule is not None and not act.rule(actor, record, path)):
        raise Forbidden(act.forbidden or f"this account may not {action.replace('_', ' ')} this {lifecycle.noun}")
    current = state if state is not None else lifecycle.state_of(record)
    transition = lifecycle.transition(action, current)
    if transition is None:
        raise IllegalTransition(
            f"cannot {action.replace('_', ' ')} a {lifecycle.noun} that is {current.value}",
            status=current.value,
            allowed_from=lifecycle.allowed_from(action),
        )
    return Checked(lifecycle, record, transition, current)


def require_version(record: Any, expected_version: int | None) -> None:
    """428 without a version, 412 with a stale one: for the edits of a stateful record that are
    not transitions (a rename beside a status change), in the same place of the same order."""
    if expected_version is None:
        raise PreconditionRequired('send If-Match with the ETag you read, e.g. If-Match: "3"')
    check_version(record.version, expected_version)


def creating(lifecycle: Lifecycle[R], record: R, action: str) -> Checked[R]:
    """The transition that brings a new record into being (declared from ``None``)."""
    transition = lifecycle.transition(action, None)
    if transition is None:
        raise ValueError(f"{lifecycle.subject_type}: {action} does not create a record")
    return Checked(lifecycle, record, transition, None)


async def move(
    db: AsyncSession,
    checked: Checked[R],
    *,
    actor_id: uuid.UUID,
    at: datetime,
    changes: Mapping[str, Any] | None = None,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
    deadline_at: datetime | None = None,
) -> list[Deadline]:
    """Apply a checked transition in the caller's transaction; the deadlines it opened.

    ``deadline_at`` is when a met or cancelled clock stopped (default ``at``; a follow-up
    recorded late meets the clock when the contact happened, not when it was typed in).
    """
    lifecycle, record, transition = checked.lifecycle, checked.record, checked.transition
    subject: Any = record
    effects = transition.deadlines
    kind_args = {"subject_type": lifecycle.subject_type, "subject_id": subject.id}
    for kind in effects.meet:
        await deadlines.meet(db, **kind_args, kind=kind, at=deadline_at or at)
    for kind in effects.cancel:
        await deadlines.cancel(db, **kind_args, kind=kind, at=deadline_at or at)
    for kind in effects.pause:
        await deadlines.pause(db, **kind_args, kind=kind, at=at)
    for kind in effects.resume:
        await deadlines.resume(db, **kind_args, kind=kind, at=at)
    for name, value in (changes or {}).items():
        setattr(record, name, value)
    if transition.target is None:
        # It stays where it is, yet it changed: a new version, so a stale If-Match is refused.
        subject.updated_at = at
        flag_modified(record, "updated_at")
    else:
        if lifecycle.state_attr is not None and not lifecycle.derived:
            setattr(record, lifecycle.state_attr, transition.target.value)
        db.add(
            RecordTransition(**_history_row(checked, record, actor_id=actor_id, at=at, reason=reason, details=details))
        )
    await db.flush()
    opened: list[Deadline] = []
    for kind in effects.open:
        condition = effects.open_if.get(kind)
        if condition is not None and not condition(record):
            continue
        category = effects.category(record) if effects.category is not None else None
        opened.append(
            await deadlines.open_deadline(
                db, **kind_args, kind=kind, district_id=subject.district_id, started_at=at, category=category
            )
        )
    return opened


def _history_row(
    checked: Checked[R],
    record_after: Any,
    *,
    actor_id: uuid.UUID,
    at: datetime,
    reason: str | None,
    details: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The ``record_transition`` row of a checked transition, the record as it is after the change."""
    lifecycle, transition = checked.lifecycle, checked.transition
    assert transition.target is not None  # noqa: S101 - a history row names where the record went
    return {
        "id": new_id(),
        "subject_type": lifecycle.subject_type,
        "subject_id": record_after.id,
        "district_id": record_after.district_id,
        "action": transition.action,
        "from_state": checked.state.value if checked.state is not None else None,
        "to_state": transition.target.value,
        "actor_id": actor_id,
        "at": at,
        "reason": reason,
        "details": {**(lifecycle.snapshot(record_after) if lifecycle.snapshot else {}), **(details or {})},
    }


class _After:
    """The record as a transition leaves it, without touching it: ``changes`` over its attributes."""

    def __init__(self, record: Any, changes: Mapping[str, Any]) -> None:
        self._record = record
        self._changes = changes

    def __getattr__(self, name: str) -> Any:
        return self._changes[name] if name in self._changes else getattr(self._record, name)


@dataclass(frozen=True)
class Moving:
    """What ``move`` of a checked transition writes, as values, for a hot path that writes it set-based:
    the record's changed columns (its new state included), its history row (None when it stays where it
    is) and the kinds of clock it meets and cancels, each stopped at ``stopped_at``."""

    changes: dict[str, Any]
    transition: dict[str, Any] | None
    meet: tuple[str, ...]
    cancel: tuple[str, ...]
    stopped_at: datetime


def moving(
    checked: Checked[R],
    *,
    actor_id: uuid.UUID,
    at: datetime,
    changes: Mapping[str, Any] | None = None,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
    deadline_at: datetime | None = None,
) -> Moving:
    """The rows ``move(db, checked, ...)`` would write, computed without the database and without
    changing the record (the declaration stays the one truth: target, snapshot, clocks). Only for a
    transition that opens, pauses and resumes no clock; ``move`` does everything else. The caller writes
    the record's columns under its version, the history row, and each clock's ``deadlines.meeting`` /
    ``cancelling`` values guarded on ``deadlines.STOP_INPUTS``."""
    transition = checked.transition
    effects = transition.deadlines
    if effects.open or effects.pause or effects.resume:
        raise ValueError(f"{checked.lifecycle.subject_type}: {transition.action} opens or pauses clocks; use move()")
    columns = dict(changes or {})
    history = None
    if transition.target is None:
        columns["updated_at"] = at
    else:
        if checked.lifecycle.state_attr is not None and not checked.lifecycle.derived:
            columns[checked.lifecycle.state_attr] = transition.target.value
        history = _history_row(
            checked, _After(checked.record, columns), actor_id=actor_id, at=at, reason=reason, details=details
        )
    return Moving(columns, history, effects.meet, effects.cancel, deadline_at or at)


@dataclass(frozen=True)
class Creation:
    """What ``move`` of a creating transition writes, as rows: its history row and the clocks it opens."""

    transition: dict[str, Any]
    deadlines: list[deadlines.Planned]


def creation(lifecycle: Lifecycle[R], record: R, action: str, *, actor_id: uuid.UUID, at: datetime) -> Creation:
    """The rows ``move(db, creating(lifecycle, record, action), ...)`` would write, computed without the
    database, for a hot path that inserts the record and these rows in one statement. The declaration
    stays the one truth: the same target state, snapshot, clocks, ``open_if`` and category."""
    checked = creating(lifecycle, record, action)
    transition, subject = checked.transition, cast(Any, record)
    assert transition.target is not None  # noqa: S101 - a creating transition names its state
    row = {
        "id": new_id(),
        "subject_type": lifecycle.subject_type,
        "subject_id": subject.id,
        "district_id": subject.district_id,
        "action": transition.action,
        "from_state": None,
        "to_state": transition.target.value,
        "actor_id": actor_id,
        "at": at,
        "reason": None,
        "details": lifecycle.snapshot(record) if lifecycle.snapshot else {},
    }
    effects = transition.deadlines
    clocks = [
        deadlines.planned(
            subject_type=lifecycle.subject_type,
            subject_id=subject.id,
            kind=kind,
            district_id=subject.district_id,
            started_at=at,
            category=effects.category(record) if effects.category is not None else None,
        )
        for kind in effects.open
        if (condition := effects.open_if.get(kind)) is None or condition(record)
    ]
    return Creation(row, clocks)


async def history(db: AsyncSession, *, subject_type: str, subject_id: uuid.UUID) -> list[RecordTransition]:
    """Every transition of one record, oldest first."""
    stmt = (
        select(RecordTransition)
        .where(RecordTransition.subject_type == subject_type, RecordTransition.subject_id == subject_id)
        .order_by(RecordTransition.at, RecordTransition.seq)
    )
    return list(await db.scalars(stmt))
