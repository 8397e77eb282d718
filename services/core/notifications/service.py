"""Notify (in the caller's transaction), read the inbox, deliver the outbox.

``notify`` writes the inbox items and one outbox row per external channel in the same
transaction as the event that causes them: either both happen or neither. Delivery
happens later, from the outbox, retried with exponential backoff until the channel
accepts; an undelivered row is never deleted.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import column, func, select, table, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.config import Settings, get_settings
from services.core.db import Statement, fetch, new_id
from services.core.errors import NotFound
from services.core.jobs import JobIntent, enqueue_after_commit
from services.core.metrics import DELIVERY_FAILURES
from services.core.notifications import templates
from services.core.notifications.channels import Channel, ChannelError, Envelope, enabled_channels
from services.core.notifications.models import InboxCounter, Notification, OutboxMessage, OutboxState
from services.core.notifications.templates import DEFAULT_LOCALE
from services.core.pagination import Keyset, SortKey, paginate

log = logging.getLogger("gridcare.notifications")

SEND_JOB = "notifications.send"
# An inbox item is written unnumbered; its change number is taken at commit, by a deferred trigger that
# takes the user's counter row for the commit alone (see ``InboxCounter``). Nobody else ever sees 0.
UNNUMBERED = 0
# How many due messages one outbox sweep takes; a full batch means the sweeper goes again at once.
SWEEP_BATCH = 500


def outbox_job_id(message_id: int) -> str:
    """The deterministic arq job id of one outbox message."""
    return f"outbox:{message_id}"


# Accounts live above this package; their language is all it needs of them (a column, not a model).
_ACCOUNT = table("app_user", column("id"), column("locale"))


async def locales(db: AsyncSession, user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Each account's ``locale`` (``zh-CN`` unless it asked for another), in one query."""
    if not user_ids:
        return {}
    rows = await db.execute(select(_ACCOUNT.c.id, _ACCOUNT.c.locale).where(_ACCOUNT.c.id.in_(list(user_ids))))
    return {u: loc or DEFAULT_LOCALE for u, loc in rows.all()}


async def notify(
    db: AsyncSession,
    *,
    user_ids: Iterable[uuid.UUID],
    kind: str,
    message: templates.Message | None = None,
    title: str | None = None,
    body: str | None = None,
    subject_type: str | None = None,
    subject_id: uuid.UUID | None = None,
    dedupe_key: str,
    channels: Sequence[str] | None = None,
) -> list[uuid.UUID]:
    """Put a message in each user's inbox and queue it for the external channels; returns new item ids.

    ``message`` is rendered per user in the user's language (``templates.py``); a plain ``title`` and
    ``body`` (the same for everyone) remain for callers that have not moved to templates.
    ``dedupe_key`` names the event (``deadline:<id>:breach``); per user it is unique, so
    notifying twice for the same event writes nothing the second time.
    """
    if message is None and (title is None or body is None):
        raise ValueError("notify needs a message, or a title and a body")
    channels = enabled_channels(get_settings()) if channels is None else channels
    now = clock.now()
    created: list[uuid.UUID] = []
    recipients = sorted(set(user_ids))  # one lock order for every writer: no deadlocks among notifies
    languages = await locales(db, recipients) if message is not None else {}
    for user_id in recipients:
        if message is not None:
            title, body = message.render(languages.get(user_id, DEFAULT_LOCALE), user_id)
        title, body = title or "", body or ""
        stmt = (
            insert(Notification)
            .values(
                id=new_id(),
                user_id=user_id,
                kind=kind,
                title=title[:200],
                body=body[:2000],
                subject_type=subject_type,
                subject_id=subject_id,
                dedupe_key=f"{dedupe_key}:{user_id}"[:200],
                created_at=now,
                change_seq=UNNUMBERED,
            )
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(Notification.id)
        )
        notification_id = await db.scalar(stmt)
        if notification_id is None:
            continue
        created.append(notification_id)
        for channel in channels:
            envelope = {
                "message_id": f"{notification_id}:{channel}",
                "user_id": str(user_id),
                "kind": kind,
                "title": title,
                "body": body,
                "subject_type": subject_type,
                "subject_id": str(subject_id) if subject_id else None,
            }
            message_id = await db.scalar(
                insert(OutboxMessage)
                .values(
                    notification_id=notification_id,
                    channel=channel,
                    payload=envelope,
                    state=OutboxState.PENDING.value,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["notification_id", "channel"])
                .returning(OutboxMessage.id)
            )
            if message_id is not None:
                enqueue_after_commit(db, JobIntent(SEND_JOB, (message_id,), outbox_job_id(message_id)))
    return created


@dataclass(frozen=True)
class Message:
    """One event's message to some users (what ``notify`` takes), for ``notify_many``."""

    user_ids: Sequence[uuid.UUID]
    kind: str
    title: str
    body: str
    subject_type: str | None
    subject_id: uuid.UUID | None
    dedupe_key: str


# The inbox items in one statement, unnumbered (0, ``UNNUMBERED``), in user order: the order the
# commit-time trigger then takes the users' counter rows in, as ``notify`` does, so the two never
# deadlock. Items already there (dedupe_key) are left out; ON CONFLICT stays as the last guard.
_NOTIFY_MANY = Statement(
    """
    insert into notification (id, user_id, kind, title, body, subject_type, subject_id, dedupe_key,
                              created_at, change_seq)
    select t.id, t.user_id, t.kind, t.title, t.body, t.subject_type, t.subject_id, t.dedupe_key, :now, 0
    from unnest(cast(:ids as uuid[]), cast(:user_ids as uuid[]), cast(:kinds as text[]),
                cast(:titles as text[]), cast(:bodies as text[]), cast(:subject_types as text[]),
                cast(:subject_ids as uuid[]), cast(:dedupe_keys as text[]))
         as t(id, user_id, kind, title, body, subject_type, subject_id, dedupe_key)
    where not exists (select 1 from notification n where n.dedupe_key = t.dedupe_key)
    order by t.user_id, t.dedupe_key
    on conflict (dedupe_key) do nothing
    returning id
    """
)


async def notify_many(db: AsyncSession, messages: Sequence[Message], *, channels: Sequence[str] | None = None) -> int:
    """``notify`` for many events at once, set-based: one statement for the inbox, one for the outbox.

    Same rows and guarantees as calling ``notify`` per message (``dedupe_key`` per user, change
    numbers per user in commit order, outbox rows per channel, send jobs after commit). Returns the
    inbox items written.
    """
    channels = enabled_channels(get_settings()) if channels is None else channels
    now = clock.now()
    items: dict[uuid.UUID, tuple[uuid.UUID, Message]] = {}
    for message in messages:
        for user_id in sorted(set(message.user_ids)):
            items[new_id()] = (user_id, message)
    if not items:
        return 0
    values = list(items.items())
    created = [
        row.id
        for row in await fetch(
            db,
            _NOTIFY_MANY,
            {
                "ids": [item_id for item_id, _ in values],
                "user_ids": [user_id for _, (user_id, _) in values],
                "kinds": [m.kind for _, (_, m) in values],
                "titles": [m.title[:200] for _, (_, m) in values],
                "bodies": [m.body[:2000] for _, (_, m) in values],
                "subject_types": [m.subject_type for _, (_, m) in values],
                "subject_ids": [m.subject_id for _, (_, m) in values],
                "dedupe_keys": [f"{m.dedupe_key}:{user_id}"[:200] for _, (user_id, m) in values],
                "now": now,
            },
        )
    ]
    if channels and created:
        rows = []
        for notification_id in created:
            user_id, m = items[notification_id]
            for channel in channels:
                envelope = {
                    "message_id": f"{notification_id}:{channel}",
                    "user_id": str(user_id),
                    "kind": m.kind,
                    "title": m.title,
                    "body": m.body,
                    "subject_type": m.subject_type,
                    "subject_id": str(m.subject_id) if m.subject_id else None,
                }
                rows.append(
                    {
                        "notification_id": notification_id,
                        "channel": channel,
                        "payload": envelope,
                        "state": OutboxState.PENDING.value,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                )
        stmt = (
            insert(OutboxMessage)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["notification_id", "channel"])
            .returning(OutboxMessage.id)
        )
        for message_id in await db.scalars(stmt):
            enqueue_after_commit(db, JobIntent(SEND_JOB, (message_id,), outbox_job_id(message_id)))
    return len(created)


# --- the inbox -------------------------------------------------------------------------------


async def list_inbox(
    db: AsyncSession, *, user_id: uuid.UUID, unread_only: bool, cursor: str | None, limit: int
) -> tuple[list[Notification], str | None]:
    """The user's items, newest first, keyset-paged."""
    stmt = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    keys: list[SortKey] = [(Notification.created_at, "desc"), (Notification.id, "desc")]
    return await paginate(db, stmt, keys=keys, cursor=cursor, limit=limit)


async def changes(
    db: AsyncSession, *, user_id: uuid.UUID, since: str | None, limit: int
) -> tuple[list[Notification], str, bool]:
    """Items created or changed after cursor ``since``, oldest change first: (items, cursor, has_more).

    Change numbers are per user and commit in order (see ``InboxCounter``), so nothing can
    appear behind a cursor once it has been handed out.
    """
    # Not ``paginate``: an empty page still answers a cursor (where the client stands), and the
    # first one names the beginning, so a client always has something to send next time.
    keyset = Keyset(Notification.change_seq, Notification.id, field="query.since")
    stmt = select(Notification).where(Notification.user_id == user_id)
    last = keyset.decode(since)
    if last is not None:
        stmt = stmt.where(keyset.after(last))
    rows = list(await db.scalars(stmt.order_by(*keyset.order_by()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    if rows:
        last = keyset.values_of(rows[-1])
    return rows, keyset.encode(last or [0, uuid.UUID(int=0)]), more


async def mark_read(db: AsyncSession, *, user_id: uuid.UUID, notification_id: uuid.UUID) -> Notification:
    """Mark one of the user's own items read; idempotent; 404 for anyone else's."""
    unread = await db.scalar(
        select(func.count()).where(
            Notification.id == notification_id, Notification.user_id == user_id, Notification.read_at.is_(None)
        )
    )
    if unread:
        stmt = (
            update(Notification)
            .where(Notification.id == notification_id, Notification.user_id == user_id, Notification.read_at.is_(None))
            .values(read_at=clock.now(), change_seq=await _next_change(db, user_id))
        )
        await db.execute(stmt)
    item = await db.scalar(
        select(Notification)
        .where(Notification.id == notification_id, Notification.user_id == user_id)
        .execution_options(populate_existing=True)
    )
    if item is None:
        raise NotFound("no such inbox item")
    return item


async def mark_all_read(db: AsyncSession, *, user_id: uuid.UUID) -> int:
    """Mark every unread item of the user read; returns how many (one change number for all)."""
    if not await unread_count(db, user_id=user_id):
        return 0
    stmt = (
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=clock.now(), change_seq=await _next_change(db, user_id))
    )
    result = await db.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


async def unread_count(db: AsyncSession, *, user_id: uuid.UUID) -> int:
    """How many unread items the user has."""
    stmt = select(func.count()).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    return int(await db.scalar(stmt) or 0)


async def _next_change(db: AsyncSession, user_id: uuid.UUID) -> int:
    """The user's next change number; holds the user's counter row until commit."""
    stmt = (
        insert(InboxCounter)
        .values(user_id=user_id, seq=1)
        .on_conflict_do_update(index_elements=["user_id"], set_={"seq": InboxCounter.seq + 1})
        .returning(InboxCounter.seq)
    )
    seq: int = (await db.execute(stmt)).scalar_one()
    return seq


# --- the outbox ------------------------------------------------------------------------------


def backoff(attempts: int, *, base_seconds: int, max_seconds: int) -> timedelta:
    """Exponential backoff after ``attempts`` failures: base, 2×base, 4×base, ... capped."""
    return timedelta(seconds=min(max_seconds, base_seconds * 2 ** max(0, attempts - 1)))


async def due_messages(db: AsyncSession, *, now: datetime | None = None, limit: int = SWEEP_BATCH) -> list[int]:
    """Ids of pending messages whose next attempt is due (reads the partial index only)."""
    stmt = (
        select(OutboxMessage.id)
        .where(OutboxMessage.state == OutboxState.PENDING, OutboxMessage.next_attempt_at <= (now or clock.now()))
        .order_by(OutboxMessage.next_attempt_at)
        .limit(limit)
    )
    return list(await db.scalars(stmt))


async def deliver_one(
    db: AsyncSession,
    *,
    message_id: int,
    channels: Mapping[str, Channel],
    settings: Settings | None = None,
    now: datetime | None = None,
) -> str | None:
    """Try one due message once: 'sent', 'retry', 'failed', or None when not due or held elsewhere.

    The row stays locked while the channel is called, so two workers never send it at once.
    """
    settings = settings or get_settings()
    now = now or clock.now()
    stmt = (
        select(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.state == OutboxState.PENDING,
            OutboxMessage.next_attempt_at <= now,
        )
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    message = await db.scalar(stmt)
    if message is None:
        return None
    message.attempts += 1
    channel = channels.get(message.channel)
    try:
        if channel is None:
            raise ChannelError(f"channel {message.channel} is not configured")
        await channel.send(Envelope(**message.payload))
    except ChannelError as exc:
        message.last_error = str(exc)[:500]
        if exc.permanent:
            message.state = OutboxState.FAILED.value
            message.next_attempt_at = None
            outcome = "failed"
        else:
            wait = backoff(
                message.attempts,
                base_seconds=settings.outbox_backoff_base_seconds,
                max_seconds=settings.outbox_backoff_max_seconds,
            )
            message.next_attempt_at = now + wait
            outcome = "retry"
        DELIVERY_FAILURES.labels(message.channel, outcome).inc()
        log.warning("delivery failed", extra={"outbox_id": message.id, "outcome": outcome, "error": str(exc)})
    else:
        message.state = OutboxState.SENT.value
        message.sent_at = now
        message.next_attempt_at = None
        message.last_error = None
        outcome = "sent"
    await db.flush()
    return outcome
