"""What a deadline's steps *do*, per kind: registered by the domain that owns the subject.

    @deadline_kind("report.follow_up", default_policy=Policy(...), category_policies={"urgent_risk": ...})
    async def report_follow_up(db, deadline, step) -> list[uuid.UUID]:
        ...  # resolve step.audience ("responsible", "team_leader", ...) to user ids

The engine stays generic: it knows times and steps; the handler knows people, and the kind
declares its own default policy (configuration may still override it per kind or category).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.core.deadlines.models import Deadline
from services.core.deadlines.policy import Policy, Step, register_defaults
from services.core.notifications.templates import Message, china_time
from services.core.notifications.templates import register as register_template

RecipientsFn = Callable[[AsyncSession, Deadline, Step], Awaitable[Sequence[uuid.UUID]]]
# What a step says: a ``Message`` rendered per recipient in their language (``notifications.templates``).
MessageFn = Callable[[AsyncSession, Deadline, Step, Sequence[uuid.UUID]], Awaitable[Message]]

DEFAULT_TEMPLATE = "deadline"


def _stage(step: Step) -> Literal["reminder", "start", "overdue"]:
    if step.anchor == "due" and step.offset_hours < 0:
        return "reminder"
    return "start" if step.anchor == "start" else "overdue"


def _default_zh(p: Mapping[str, Any]) -> tuple[str, str]:
    due = china_time(p["due_at"])
    title = {"reminder": f"提醒：{p['what']}将于{due}到期", "start": f"新任务：{p['what']}"}.get(
        p["stage"], f"已超时：{p['what']}（应于{due}完成）"
    )
    return title, f"{p['what']}应于{due}（北京时间）前完成。请打开应用查看详情。"


def _default_en(p: Mapping[str, Any]) -> tuple[str, str]:
    due = china_time(p["due_at"], "en")
    title = {"reminder": f"Reminder: {p['what']} due {due}", "start": f"New: {p['what']}"}.get(
        p["stage"], f"Overdue: {p['what']} (was due {due})"
    )
    return title, f"{p['what']} is due {due}. Open the app for details."


register_template(DEFAULT_TEMPLATE, zh=_default_zh, en=_default_en)


async def default_message(
    db: AsyncSession,  # noqa: ARG001 - the MessageFn signature
    deadline: Deadline,
    step: Step,
    recipients: Sequence[uuid.UUID],  # noqa: ARG001 - the MessageFn signature
) -> Message:
    """For a kind without its own messages: the duty (its kind), the stage and the due time in China time."""
    return Message(DEFAULT_TEMPLATE, {"what": deadline.kind, "stage": _stage(step), "due_at": deadline.due_at})


@dataclass(frozen=True)
class KindHandler:
    kind: str
    recipients: RecipientsFn
    message: MessageFn


_KINDS: dict[str, KindHandler] = {}


class UnknownDeadlineKind(LookupError):
    """No handler registered for a kind (its module was not imported)."""


def deadline_kind(
    kind: str,
    *,
    message: MessageFn | None = None,
    default_policy: Policy | None = None,
    category_policies: Mapping[str, Policy] | None = None,
) -> Callable[[RecipientsFn], RecipientsFn]:
    """Register ``recipients(db, deadline, step) -> user ids`` as the handler of ``kind``, with the
    kind's built-in policy (and per-category ones); without one a kind runs the engine's ``Policy()``."""

    def register(fn: RecipientsFn) -> RecipientsFn:
        existing = _KINDS.get(kind)
        if existing is not None and existing.recipients is not fn:
            raise ValueError(f"deadline kind {kind} registered twice")
        _KINDS[kind] = KindHandler(kind=kind, recipients=fn, message=message or default_message)
        register_defaults(kind, default_policy, category_policies or {})
        return fn

    return register


def handler_for(kind: str) -> KindHandler:
    """The handler of ``kind``; ``UnknownDeadlineKind`` when none is registered."""
    try:
        return _KINDS[kind]
    except KeyError:
        raise UnknownDeadlineKind(f"no handler registered for deadline kind {kind!r}") from None


def registered_kinds() -> list[str]:
    """The kinds this process can run."""
    return sorted(_KINDS)


# --- optional: recipients for a whole sweep batch at once -----------------------------------------

ManyRecipientsFn = Callable[[AsyncSession, Sequence[tuple[Deadline, Step]]], Awaitable[Sequence[Sequence[uuid.UUID]]]]

_MANY: dict[str, ManyRecipientsFn] = {}


def deadline_kind_many(kind: str) -> Callable[[ManyRecipientsFn], ManyRecipientsFn]:
    """Register a set-based ``recipients`` for ``kind``: ``(db, [(deadline, step), ...]) -> [user ids, ...]``.

    Optional, beside the per-step handler: the sweeper calls it once per batch instead of once
    per step, which is most of a step's cost when the handler reads the database. It must
    answer exactly what the per-step handler would (each deadline shows its state after the
    batch's steps).
    """

    def register(fn: ManyRecipientsFn) -> ManyRecipientsFn:
        existing = _MANY.get(kind)
        if existing is not None and existing is not fn:
            raise ValueError(f"set-based recipients for {kind} registered twice")
        _MANY[kind] = fn
        return fn

    return register


def many_recipients_for(kind: str) -> ManyRecipientsFn | None:
    """The set-based recipients of ``kind``, if it registered one."""
    return _MANY.get(kind)


# --- optional: messages for a whole sweep batch at once -------------------------------------------

ManyMessagesFn = Callable[
    [AsyncSession, Sequence[tuple[Deadline, Step, Sequence[uuid.UUID]]]], Awaitable[Sequence[Message]]
]

_MANY_MESSAGES: dict[str, ManyMessagesFn] = {}


def deadline_messages_many(kind: str) -> Callable[[ManyMessagesFn], ManyMessagesFn]:
    """Register a set-based ``message`` for ``kind``: ``(db, [(deadline, step, recipients), ...]) -> [Message, ...]``.

    Optional, beside the per-step ``message``: a message that names places and people reads them
    from the database, a handful of queries per step; the sweeper calls this once per batch instead.
    It must answer exactly what the per-step ``message`` would, in the same order.
    """

    def register(fn: ManyMessagesFn) -> ManyMessagesFn:
        existing = _MANY_MESSAGES.get(kind)
        if existing is not None and existing is not fn:
            raise ValueError(f"set-based messages for {kind} registered twice")
        _MANY_MESSAGES[kind] = fn
        return fn

    return register


def many_messages_for(kind: str) -> ManyMessagesFn | None:
    """The set-based messages of ``kind``, if it registered one."""
    return _MANY_MESSAGES.get(kind)
