"""Notify (in the caller's transaction), read the inbox, deliver the outbox.

``notify`` writes the inbox items and one outbox row per external channel in the same
transaction as the event that causes them: either both happen or neither. Delivery
happens later, from the outbox, retried with exponential backoff until the channel
accepts; an undelivered row is never deleted.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.config import Settings, get_settings
from services.core.db import new_id
from services.core.errors import NotFound, field_error
from services.core.jobs import JobIntent, enqueue_after_commit
from services.core.metrics import DELIVERY_FAILURES
from services.core.notifications.channels import Channel, ChannelError, Envelope, enabled_channels
from services.core.notifications.models import InboxCounter, Notification, OutboxMessage, OutboxState
from services.core.pagination import decode_cursor, encode_cursor

log = logging.getLogger("gridcare.notifications")

SEND_JOB = "notifications.send"
# How many due messages one outbox sweep takes; a full batch means the sweeper goes again at once.
SWEEP_BATCH = 500


def outbox_job_id(message_id: int) -> str:
    """The deterministic arq job id of one outbox message."""
    return f"outbox:{message_id}"


async def notify(
    db: AsyncSession,
    *,
    user_ids: Iterable[uuid.UUID],
    kind: str,
    title: str,
    body: str,
    subject_type: str | None = None,
    subject_id: uuid.UUID | None = None,
    dedupe_key: str,
    channels: Sequence[str] | None = None,
) -> list[uuid.UUID]:
    """Put a message in each user's inbox and queue it for the external channels; returns new item ids.

    ``dedupe_key`` names the event (``deadline:<id>:breach``); per user it is unique, so
    notifying twice for the same event writes nothing the second time.
    """
    channels = enabled_channels(get_settings()) if channels is None else channels
    now = clock.now()
    created: list[uuid.UUID] = []
    for user_id in sorted(set(user_ids)):  # one lock order for every writer: no deadlocks among notifies
        seq = await _next_change(db, user_id)
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
                change_seq=seq,
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


# --- the inbox -------------------------------------------------------------------------------


async def list_inbox(
    db: AsyncSession, *, user_id: uuid.UUID, unread_only: bool, cursor: str | None, limit: int
) -> tuple[list[Notification], str | None]:
    """The user's items, newest first, keyset-paged."""
    stmt = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    key = decode_cursor(cursor)
    if key is not None:
        created_at, last_id = _created_key(key)
        stmt = stmt.where(tuple_(Notification.created_at, Notification.id) < tuple_(created_at, last_id))
    stmt = stmt.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit + 1)
    rows = list(await db.scalars(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor([rows[-1].created_at.isoformat(), str(rows[-1].id)]) if more and rows else None
    return rows, next_cursor


async def changes(
    db: AsyncSession, *, user_id: uuid.UUID, since: str | None, limit: int
) -> tuple[list[Notification], str, bool]:
    """Items created or changed after cursor ``since``, oldest change first: (items, cursor, has_more).

    Change numbers are per user and commit in order (see ``InboxCounter``), so nothing can
    appear behind a cursor once it has been handed out.
    """
    stmt = select(Notification).where(Notification.user_id == user_id)
    key = decode_cursor(since)
    last: tuple[int, uuid.UUID] | None = None
    if key is not None:
        last = _change_key(key)
        stmt = stmt.where(tuple_(Notification.change_seq, Notification.id) > tuple_(*last))
    stmt = stmt.order_by(Notification.change_seq, Notification.id).limit(limit + 1)
    rows = list(await db.scalars(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    if rows:
        last = (rows[-1].change_seq, rows[-1].id)
    cursor = encode_cursor([last[0], str(last[1])]) if last else encode_cursor([0, str(uuid.UUID(int=0))])
    return rows, cursor, more


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


def _created_key(key: list[object]) -> tuple[datetime, uuid.UUID]:
    try:
        return datetime.fromisoformat(str(key[0])), uuid.UUID(str(key[1]))
    except (ValueError, IndexError) as exc:
        raise field_error("query.cursor", "not a cursor this API issued") from exc


def _change_key(key: list[object]) -> tuple[int, uuid.UUID]:
    try:
        return int(str(key[0])), uuid.UUID(str(key[1]))
    except (ValueError, IndexError) as exc:
        raise field_error("query.since", "not a cursor this API issued") from exc


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
