"""Subscriptions (an institution's HIS client or steward manages them), the outbox ``emit``, redelivery.

``emit`` runs in the transaction of the change it tells: the message (its exact body and stable
``webhook-id``) and one delivery row per enabled subscription that wants the type are committed with
the change or not at all. The worker delivers from those rows (``delivery.py``). A disabled
subscription gets no rows while disabled; re-enabling it sends what it missed, from the messages kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Select,
    String,
    and_,
    any_,
    exists,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.audit.service import record_change
from services.core.db import new_id
from services.core.errors import Conflict, NotFound, PreconditionRequired, field_error
from services.core.jobs import JobIntent, enqueue_after_commit
from services.core.org.models import Institution, OrgUnit
from services.core.pagination import paginate_rows
from services.core.periods import active_at
from services.core.replay import Created, insert_once, replayed
from services.core.security.pii import PiiCipher
from services.core.security.principal import Principal, institution_scope_clause
from services.core.security.roles import Permission
from services.core.teams.models import InstitutionSteward, Person
from services.core.versioning import check_version
from services.core.webhooks import events, targets
from services.core.webhooks.models import (
    PREVIOUS_SECRET,
    SECRET,
    DeliveryStatus,
    DisabledReason,
    SubscriptionStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookMessage,
    WebhookSubscription,
)
from services.core.webhooks.schemas import SecretRotate, SubscriptionCreate, SubscriptionUpdate
from services.core.webhooks.signing import new_secret

DELIVER_JOB = "webhooks.deliver"
SWEEP_JOB = "webhooks.sweep"
MESSAGE_ID_PATTERN = r"^msg_[0-9a-f]{32}$"


def new_message_id() -> str:
    """A ``webhook-id``: ``msg_`` and 32 hex digits, the same on every attempt of the message."""
    return f"msg_{uuid.uuid4().hex}"


def delivery_job_id(message_id: str) -> str:
    """The deterministic arq job id that delivers one message soon after its commit."""
    return f"webhook:{message_id}"


# ------------------------------------------------------------------------------------------- the outbox


async def emit(
    db: AsyncSession,
    *,
    institution_ids: Sequence[uuid.UUID],
    event_type: str,
    data: Mapping[str, Any],
    occurred_at: datetime,
) -> str | None:
    """Queue ``event_type`` for the subscriptions of ``institution_ids``, in the caller's transaction.

    The body is validated against the type's registered model (what ``contracts/events`` documents).
    Nothing is written when no subscription of these institutions exists, enabled or not; otherwise
    the message is kept (a disabled subscription catches up from it) and returned by id.
    """
    model = events.model_of(event_type)
    body = model.model_validate({"type": event_type, "timestamp": occurred_at, "data": dict(data)}).model_dump_json()
    ids = sorted(set(institution_ids))
    if not ids or not await db.scalar(select(exists().where(WebhookSubscription.institution_id.in_(ids)))):
        return None
    now = clock.now()
    message_id = new_message_id()
    db.add(WebhookMessage(id=message_id, event_type=event_type, body=body, institution_ids=ids, created_at=now))
    await db.flush()
    wanted = and_(
        WebhookSubscription.institution_id.in_(ids),
        WebhookSubscription.status == SubscriptionStatus.ENABLED.value,
        literal(event_type, String) == any_(WebhookSubscription.event_types),
    )
    fanned = await _deliveries_for(db, select(literal(message_id, String)), wanted, now)
    if fanned:
        enqueue_after_commit(db, JobIntent(DELIVER_JOB, (message_id,), job_id=delivery_job_id(message_id)))
    return message_id


async def _deliveries_for(
    db: AsyncSession, messages: Select[Any], subscriptions: ColumnElement[bool], now: datetime
) -> int:
    """One pending delivery, due now, per (message of ``messages``, subscription matching ``subscriptions``)
    pair that has none yet; returns how many were made."""
    message_ids = messages.subquery()
    pairs = select(
        message_ids.c[0],
        WebhookSubscription.id,
        literal(DeliveryStatus.PENDING.value, String),
        literal(0, Integer),
        literal(now, DateTime(timezone=True)),
        literal(now, DateTime(timezone=True)),
    ).select_from(message_ids.join(WebhookSubscription, true()))  # every pair, filtered below
    pairs = pairs.where(subscriptions)
    stmt = (
        insert(WebhookDelivery)
        .from_select(["message_id", "subscription_id", "status", "attempts", "next_attempt_at", "created_at"], pairs)
        .on_conflict_do_nothing(index_elements=["message_id", "subscription_id"])
        .returning(WebhookDelivery.id)
    )
    return len((await db.execute(stmt)).all())


# ---------------------------------------------------------------------------------------- subscriptions


def readable(principal: Principal, permission: Permission) -> Select[WebhookSubscription, str]:
    """Subscriptions of the institutions the caller may see with ``permission`` (a grant naming one
    institution: only its own), with the institution's org-unit path."""
    return (
        select(WebhookSubscription, OrgUnit.path)
        .join(Institution, Institution.id == WebhookSubscription.institution_id)
        .join(OrgUnit, OrgUnit.id == Institution.org_unit_id)
        .where(institution_scope_clause(principal, permission, OrgUnit.path, WebhookSubscription.institution_id))
    )


async def get_in_scope(
    db: AsyncSession, principal: Principal, subscription_id: uuid.UUID, permission: Permission
) -> tuple[WebhookSubscription, str]:
    """The subscription and its institution's path, or 404 (another institution's is as if absent)."""
    row = (await db.execute(readable(principal, permission).where(WebhookSubscription.id == subscription_id))).first()
    if row is None:
        raise NotFound("no such webhook subscription")
    return row[0], row[1]


def _acting_for(principal: Principal) -> uuid.UUID:
    named = {g.institution_id for g in principal.grants if g.institution_id and g.may(Permission.WEBHOOKS_MANAGE)}
    if len(named) != 1:
        raise field_error("body.institution_id", "name the institution: this account acts for none or several")
    return next(iter(named))


async def _institution_to_manage(
    db: AsyncSession, principal: Principal, institution_id: uuid.UUID | None
) -> tuple[Institution, str]:
    wanted = institution_id or _acting_for(principal)
    row = (
        await db.execute(
            select(Institution, OrgUnit.path)
            .join(OrgUnit, OrgUnit.id == Institution.org_unit_id)
            .where(Institution.id == wanted)
        )
    ).first()
    if row is None or not principal.can_at_institution(Permission.WEBHOOKS_MANAGE, row[1], row[0].id):
        raise field_error("body.institution_id", "no such institution")
    return row[0], row[1]


async def _check_url(url: str, *, allow_private: bool) -> None:
    try:
        await targets.check_subscribe(url, allow_private=allow_private)
    except targets.TargetRefused as exc:
        raise field_error("body.url", str(exc)) from exc


async def create(
    db: AsyncSession, principal: Principal, data: SubscriptionCreate, *, pii: PiiCipher, allow_private: bool
) -> tuple[Created[WebhookSubscription], str, str]:
    """Subscribe; answers the record (created or replayed by ``id``), its institution's path and its secret.

    A replay answers the stored secret again: the create's answer may have been lost, and without the
    secret the client could never verify a delivery.
    """
    types = [t.value for t in data.event_types]

    def same(existing: WebhookSubscription) -> bool:
        return (
            existing.url == data.url
            and existing.event_types == types
            and (data.institution_id is None or existing.institution_id == data.institution_id)
            and (data.description is None or existing.description == data.description)
            and (data.secret is None or SECRET.open(pii, existing.id, existing.secret_enc) == data.secret)
        )

    async def in_scope(existing: WebhookSubscription) -> None:
        await get_in_scope(db, principal, existing.id, Permission.WEBHOOKS_MANAGE)

    replay = await replayed(db, WebhookSubscription, data.id, same=same, in_scope=in_scope)
    if replay is not None:
        _, path = await get_in_scope(db, principal, replay.record.id, Permission.WEBHOOKS_MANAGE)
        return replay, path, SECRET.open(pii, replay.record.id, replay.record.secret_enc)
    institution, path = await _institution_to_manage(db, principal, data.institution_id)
    await _check_url(data.url, allow_private=allow_private)
    ident = data.id or new_id()
    secret = data.secret or new_secret()
    result = await insert_once(
        db,
        WebhookSubscription(
            id=ident,
            institution_id=institution.id,
            district_id=institution.district_id,
            url=data.url,
            event_types=types,
            description=data.description,
            status=SubscriptionStatus.ENABLED.value,
            secret_enc=SECRET.seal(pii, ident, secret),
            created_by=principal.user_id,
        ),
        same=same,
    )
    if result.created:
        await record_change(
            db,
            principal,
            "webhook_subscription.created",
            result.record,
            org_path=path,
            institution_id=institution.id,
            host=targets.host_of(data.url),
        )
        return result, path, secret
    return result, path, SECRET.open(pii, result.record.id, result.record.secret_enc)


def _versioned(subscription: WebhookSubscription, expected_version: int | None) -> None:
    if expected_version is None:
        raise PreconditionRequired("send If-Match with the version you read")
    check_version(subscription.version, expected_version)


async def update_subscription(
    db: AsyncSession,
    principal: Principal,
    subscription: WebhookSubscription,
    path: str,
    data: SubscriptionUpdate,
    *,
    expected_version: int | None,
    allow_private: bool,
) -> WebhookSubscription:
    """Change what is given; re-enabling sends what was missed while disabled."""
    _versioned(subscription, expected_version)
    if data.url is not None and data.url != subscription.url:
        await _check_url(data.url, allow_private=allow_private)
        subscription.url = data.url
    if data.event_types is not None:
        subscription.event_types = [t.value for t in data.event_types]
    if "description" in data.model_fields_set:
        subscription.description = data.description
    if data.enabled is True and subscription.status == SubscriptionStatus.DISABLED.value:
        await enable(db, subscription)
    elif data.enabled is False and subscription.status == SubscriptionStatus.ENABLED.value:
        disable(subscription, DisabledReason.MANUAL)
    await db.flush()
    changed = sorted(data.model_fields_set)
    await record_change(db, principal, "webhook_subscription.updated", subscription, org_path=path, fields=changed)
    return subscription


def disable(subscription: WebhookSubscription, reason: DisabledReason) -> None:
    """Stop delivering to it; its pending deliveries wait, and new events are kept for a re-enable."""
    subscription.status = SubscriptionStatus.DISABLED.value
    subscription.disabled_reason = reason.value
    subscription.disabled_at = clock.now()


async def enable(db: AsyncSession, subscription: WebhookSubscription) -> int:
    """Deliver again: every undelivered message of it is due now (a fresh schedule), and each message
    emitted for its institution while it was disabled gets its delivery. Returns how many are due."""
    since = subscription.disabled_at or clock.now()
    subscription.status = SubscriptionStatus.ENABLED.value
    subscription.disabled_reason = None
    subscription.disabled_at = None
    await db.flush()
    now = clock.now()
    waiting = await db.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.subscription_id == subscription.id,
            WebhookDelivery.status != DeliveryStatus.DELIVERED.value,
        )
        .values(status=DeliveryStatus.PENDING.value, attempts=0, next_attempt_at=now)
        .returning(WebhookDelivery.id)
    )
    missed = select(WebhookMessage.id).where(
        WebhookMessage.created_at >= since,
        literal(subscription.institution_id) == any_(WebhookMessage.institution_ids),
        WebhookMessage.event_type.in_(subscription.event_types),
    )
    due = len(waiting.all()) + await _deliveries_for(db, missed, WebhookSubscription.id == subscription.id, now)
    if due:
        enqueue_after_commit(
            db, JobIntent(SWEEP_JOB, (), job_id=f"webhook-enable:{subscription.id}:{now.timestamp():.6f}")
        )
    return due


async def delete_subscription(
    db: AsyncSession,
    principal: Principal,
    subscription: WebhookSubscription,
    path: str,
    *,
    expected_version: int | None,
) -> None:
    """Remove it with its deliveries and attempts (the audit trail keeps that it existed)."""
    _versioned(subscription, expected_version)
    await record_change(
        db,
        principal,
        "webhook_subscription.deleted",
        subscription,
        org_path=path,
        institution_id=subscription.institution_id,
        host=targets.host_of(subscription.url),
    )
    await db.delete(subscription)
    await db.flush()


async def rotate_secret(
    db: AsyncSession,
    principal: Principal,
    subscription: WebhookSubscription,
    path: str,
    data: SecretRotate,
    *,
    expected_version: int | None,
    pii: PiiCipher,
) -> str:
    """A new secret; the current one keeps signing beside it for ``keep_previous_hours``. Returns the new one."""
    _versioned(subscription, expected_version)
    now = clock.now()
    current = SECRET.open(pii, subscription.id, subscription.secret_enc)
    secret = data.secret or new_secret()
    if data.keep_previous_hours > 0:
        subscription.previous_secret_enc = PREVIOUS_SECRET.seal(pii, subscription.id, current)
        subscription.previous_secret_expires_at = now + timedelta(hours=data.keep_previous_hours)
    else:
        subscription.previous_secret_enc = None
        subscription.previous_secret_expires_at = None
    subscription.secret_enc = SECRET.seal(pii, subscription.id, secret)
    subscription.secret_rotated_at = now
    await db.flush()
    await record_change(
        db, principal, "webhook_subscription.secret_rotated", subscription, org_path=path, kept=data.keep_previous_hours
    )
    return secret


def signing_secrets(pii: PiiCipher, subscription: WebhookSubscription, at: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous one until it expires."""
    found = [SECRET.open(pii, subscription.id, subscription.secret_enc)]
    expires = subscription.previous_secret_expires_at
    if subscription.previous_secret_enc is not None and expires is not None and expires > at:
        found.append(PREVIOUS_SECRET.open(pii, subscription.id, subscription.previous_secret_enc))
    return found


async def list_subscriptions(
    db: AsyncSession,
    principal: Principal,
    *,
    institution_id: uuid.UUID | None,
    status: SubscriptionStatus | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[WebhookSubscription], str | None]:
    """A page of the subscriptions in scope, oldest first."""
    stmt = readable(principal, Permission.WEBHOOKS_READ)
    if institution_id is not None:
        stmt = stmt.where(WebhookSubscription.institution_id == institution_id)
    if status is not None:
        stmt = stmt.where(WebhookSubscription.status == status.value)
    rows, next_cursor = await paginate_rows(db, stmt, keys=[WebhookSubscription.id], cursor=cursor, limit=limit)
    return [row[0] for row in rows], next_cursor


# ------------------------------------------------------------------------------ deliveries and attempts


async def list_deliveries(
    db: AsyncSession,
    subscription: WebhookSubscription,
    *,
    status: DeliveryStatus | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[tuple[WebhookDelivery, str]], str | None]:
    """The subscription's deliveries, newest first, with each message's event type."""
    stmt = (
        select(WebhookDelivery, WebhookMessage.event_type)
        .join(WebhookMessage, WebhookMessage.id == WebhookDelivery.message_id)
        .where(WebhookDelivery.subscription_id == subscription.id)
    )
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status.value)
    rows, next_cursor = await paginate_rows(db, stmt, keys=[(WebhookDelivery.id, "desc")], cursor=cursor, limit=limit)
    return [(row[0], row[1]) for row in rows], next_cursor


async def list_attempts(
    db: AsyncSession,
    subscription: WebhookSubscription,
    *,
    message_id: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[tuple[WebhookAttempt, str]], str | None]:
    """The subscription's attempts, newest first (of one message when ``message_id`` is given)."""
    stmt = (
        select(WebhookAttempt, WebhookDelivery.message_id)
        .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .where(WebhookDelivery.subscription_id == subscription.id)
    )
    if message_id is not None:
        stmt = stmt.where(WebhookDelivery.message_id == message_id)
    rows, next_cursor = await paginate_rows(db, stmt, keys=[(WebhookAttempt.id, "desc")], cursor=cursor, limit=limit)
    return [(row[0], row[1]) for row in rows], next_cursor


async def redeliver(
    db: AsyncSession, principal: Principal, subscription: WebhookSubscription, path: str, message_id: str
) -> tuple[WebhookDelivery, str]:
    """Send a message again now, with a fresh schedule (delivered before or not); a message of the
    subscription's institution and types that it never had (sent while it did not exist) is sent too."""
    if subscription.status != SubscriptionStatus.ENABLED.value:
        raise Conflict("the subscription is disabled: enable it first (that also sends what it missed)")
    message = await db.get(WebhookMessage, message_id)
    if (
        message is None
        or subscription.institution_id not in message.institution_ids
        or message.event_type not in subscription.event_types
    ):
        raise NotFound("no such message for this subscription")
    now = clock.now()
    delivery = await db.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.message_id == message_id, WebhookDelivery.subscription_id == subscription.id)
        .with_for_update()
    )
    if delivery is None:
        await _deliveries_for(db, select(literal(message_id, String)), WebhookSubscription.id == subscription.id, now)
        delivery = await db.scalar(
            select(WebhookDelivery).where(
                WebhookDelivery.message_id == message_id, WebhookDelivery.subscription_id == subscription.id
            )
        )
        assert delivery is not None  # noqa: S101 - inserted just above (or by a concurrent twin)
    else:
        delivery.status = DeliveryStatus.PENDING.value
        delivery.attempts = 0
        delivery.next_attempt_at = now
        delivery.delivered_at = None
    await db.flush()
    enqueue_after_commit(
        db, JobIntent(DELIVER_JOB, (message_id,), job_id=f"{delivery_job_id(message_id)}:{now.timestamp():.6f}")
    )
    await record_change(
        db, principal, "webhook_subscription.redelivered", subscription, org_path=path, message_id=message_id
    )
    return delivery, message.event_type


async def stewards_of(db: AsyncSession, institution_id: uuid.UUID, at: datetime) -> list[uuid.UUID]:
    """The institution's active stewards' accounts: who hears that its endpoint was disabled."""
    stmt = (
        select(Person.user_id)
        .join(InstitutionSteward, InstitutionSteward.person_id == Person.id)
        .where(
            InstitutionSteward.institution_id == institution_id,
            active_at(InstitutionSteward, at),
            Person.user_id.is_not(None),
        )
    )
    return sorted({u for u in await db.scalars(stmt) if u is not None})
