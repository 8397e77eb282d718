"""Webhook subscriptions of an institution (its HIS client or steward): subscribe, change, rotate the
secret, disable or delete; read deliveries and attempts; ask for a redelivery. Deliveries are signed per
Standard Webhooks v1 and sent by the worker from the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status

from services.api.deps import DbSession, IfMatchLater, Pii, SettingsDep, answer, require
from services.api.problems import problem_responses
from services.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from services.core.security.principal import Principal
from services.core.security.roles import Permission
from services.core.webhooks import service
from services.core.webhooks.models import DeliveryStatus, SubscriptionStatus, WebhookDelivery, WebhookSubscription
from services.core.webhooks.schemas import (
    AttemptRead,
    DeliveryRead,
    SecretRotate,
    SubscriptionCreate,
    SubscriptionRead,
    SubscriptionUpdate,
    SubscriptionWithSecret,
)

router = APIRouter(prefix="/webhook-subscriptions", tags=["webhooks"])

CHANGE_ERRORS = problem_responses(401, 403, 404, 412, 422, 428)
WebhooksRead = Annotated[Principal, Depends(require(Permission.WEBHOOKS_READ))]
WebhooksManage = Annotated[Principal, Depends(require(Permission.WEBHOOKS_MANAGE))]
Cursor = Annotated[str | None, Query(max_length=500, description="The `next_cursor` of the previous page.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
MessageId = Annotated[str, Path(pattern=service.MESSAGE_ID_PATTERN, description="The `webhook-id` of the message.")]


@dataclass(frozen=True)
class ScopedSubscription:
    """A subscription loaded once for the request, in the caller's scope, with its institution's path."""

    principal: Principal
    subscription: WebhookSubscription
    path: str


def in_scope(permission: Permission) -> Callable[..., Coroutine[Any, Any, ScopedSubscription]]:
    """A dependency: ``permission`` somewhere (else 403), the subscription in scope (else 404), loaded
    before If-Match is judged (an unseen subscription is 404, never 428)."""

    allowed = Depends(require(permission))

    async def dependency(
        db: DbSession, subscription_id: uuid.UUID, principal: Principal = allowed
    ) -> ScopedSubscription:
        subscription, path = await service.get_in_scope(db, principal, subscription_id, permission)
        return ScopedSubscription(principal, subscription, path)

    dependency.__name__ = f"webhook_subscription_in_scope_{permission.name.lower()}"
    return dependency


ReadableSubscription = Annotated[ScopedSubscription, Depends(in_scope(Permission.WEBHOOKS_READ))]
ManagedSubscription = Annotated[ScopedSubscription, Depends(in_scope(Permission.WEBHOOKS_MANAGE))]


def _view(subscription: WebhookSubscription) -> SubscriptionRead:
    return SubscriptionRead.model_validate(subscription, from_attributes=True)


def _location(subscription: WebhookSubscription) -> str:
    return f"/webhook-subscriptions/{subscription.id}"


def _delivery(delivery: WebhookDelivery, event_type: str) -> DeliveryRead:
    return DeliveryRead(
        message_id=delivery.message_id,
        event_type=event_type,
        status=DeliveryStatus(delivery.status),
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at
        if delivery.status in (DeliveryStatus.PENDING.value, DeliveryStatus.FAILED.value)
        else None,
        last_attempt_at=delivery.last_attempt_at,
        last_status_code=delivery.last_status_code,
        delivered_at=delivery.delivered_at,
        created_at=delivery.created_at,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe an endpoint to referral events",
    responses={
        200: {"model": SubscriptionWithSecret, "description": "Already created with this id and body: the stored one"},
        **problem_responses(401, 403, 409, 422),
    },
)
async def create_webhook_subscription(
    db: DbSession,
    principal: WebhooksManage,
    pii: Pii,
    settings: SettingsDep,
    body: SubscriptionCreate,
    response: Response,
) -> SubscriptionWithSecret:
    """The answer carries the `whsec_` secret (also on a replay by `id`); private targets are refused in production."""
    result, _, secret = await service.create(
        db, principal, body, pii=pii, allow_private=settings.webhooks_private_allowed()
    )
    view = SubscriptionWithSecret(**_view(result.record).model_dump(), secret=secret)
    return answer(response, result.record, view, location=_location(result.record), created=result.created)


@router.get("", summary="List webhook subscriptions in scope", responses=problem_responses(401, 403, 422))
async def list_webhook_subscriptions(
    db: DbSession,
    principal: WebhooksRead,
    institution_id: uuid.UUID | None = None,
    status_: Annotated[SubscriptionStatus | None, Query(alias="status")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[SubscriptionRead]:
    """Your institution's subscriptions (a supervisor: those of the institutions in its area)."""
    rows, next_cursor = await service.list_subscriptions(
        db, principal, institution_id=institution_id, status=status_, cursor=cursor, limit=limit
    )
    return Page[SubscriptionRead](items=[_view(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/{subscription_id}", summary="Read one webhook subscription", responses=problem_responses(401, 403, 404, 422)
)
async def read_webhook_subscription(scoped: ReadableSubscription, response: Response) -> SubscriptionRead:
    """Without its secret, which is shown only when it is made."""
    return answer(response, scoped.subscription, _view(scoped.subscription), location=_location(scoped.subscription))


@router.patch("/{subscription_id}", summary="Change, disable or re-enable a subscription", responses=CHANGE_ERRORS)
async def update_webhook_subscription(
    db: DbSession,
    scoped: ManagedSubscription,
    settings: SettingsDep,
    body: SubscriptionUpdate,
    version: IfMatchLater,
    response: Response,
) -> SubscriptionRead:
    """`enabled: true` re-enables it and sends everything it missed; send If-Match with the version you read."""
    subscription = await service.update_subscription(
        db,
        scoped.principal,
        scoped.subscription,
        scoped.path,
        body,
        expected_version=version,
        allow_private=settings.webhooks_private_allowed(),
    )
    return answer(response, subscription, _view(subscription), location=_location(subscription))


@router.delete(
    "/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a subscription",
    responses=problem_responses(401, 403, 404, 412, 422, 428),
)
async def delete_webhook_subscription(db: DbSession, scoped: ManagedSubscription, version: IfMatchLater) -> Response:
    """Its undelivered messages go with it; to pause deliveries and keep them, disable it instead."""
    await service.delete_subscription(db, scoped.principal, scoped.subscription, scoped.path, expected_version=version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{subscription_id}/rotate-secret", summary="Rotate the signing secret", responses=CHANGE_ERRORS)
async def rotate_webhook_secret(
    db: DbSession, scoped: ManagedSubscription, pii: Pii, body: SecretRotate, version: IfMatchLater, response: Response
) -> SubscriptionWithSecret:
    """The new secret is answered once; the old one signs beside it (two signatures) for `keep_previous_hours`."""
    secret = await service.rotate_secret(
        db, scoped.principal, scoped.subscription, scoped.path, body, expected_version=version, pii=pii
    )
    view = SubscriptionWithSecret(**_view(scoped.subscription).model_dump(), secret=secret)
    return answer(response, scoped.subscription, view, location=_location(scoped.subscription))


@router.get(
    "/{subscription_id}/deliveries",
    summary="List a subscription's deliveries",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_webhook_deliveries(
    db: DbSession,
    scoped: ReadableSubscription,
    status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[DeliveryRead]:
    """Newest first: each message's status, attempts and next try."""
    rows, next_cursor = await service.list_deliveries(
        db, scoped.subscription, status=status_, cursor=cursor, limit=limit
    )
    return Page[DeliveryRead](items=[_delivery(d, t) for d, t in rows], next_cursor=next_cursor)


@router.get(
    "/{subscription_id}/attempts",
    summary="List a subscription's delivery attempts",
    responses=problem_responses(401, 403, 404, 422),
)
async def list_webhook_attempts(
    db: DbSession,
    scoped: ReadableSubscription,
    message_id: Annotated[
        str | None, Query(pattern=service.MESSAGE_ID_PATTERN, description="Only this message's attempts.")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[AttemptRead]:
    """Newest first: when, the status the receiver answered (or the error), how long it took."""
    rows, next_cursor = await service.list_attempts(
        db, scoped.subscription, message_id=message_id, cursor=cursor, limit=limit
    )
    items = [
        AttemptRead(
            id=a.id,
            message_id=m,
            attempted_at=a.attempted_at,
            status_code=a.status_code,
            duration_ms=a.duration_ms,
            error=a.error,
        )
        for a, m in rows
    ]
    return Page[AttemptRead](items=items, next_cursor=next_cursor)


@router.post(
    "/{subscription_id}/deliveries/{message_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a message again",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def redeliver_webhook_message(db: DbSession, scoped: ManagedSubscription, message_id: MessageId) -> DeliveryRead:
    """Due now with a fresh retry schedule, delivered before or not; 409 while the subscription is disabled."""
    delivery, event_type = await service.redeliver(db, scoped.principal, scoped.subscription, scoped.path, message_id)
    return _delivery(delivery, event_type)
