"""The worker side: claim due deliveries, POST them signed, record what happened, schedule the next try.

A pass claims a small batch with ``FOR UPDATE SKIP LOCKED`` and, in the same short transaction, leases
each row (its next attempt moves past the attempt's timeout), so two workers never send the same
delivery at once and a worker that dies mid-attempt leaves the row to be tried again after the lease.
The HTTP calls run outside any transaction; their results are written in a second one. Receivers
de-duplicate by ``webhook-id`` (stable across attempts), so at-least-once is safe.

Schedule (Standard Webhooks' recommendation): immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
10 h after each failure; a ``Retry-After`` asking for longer is honoured. 2xx is delivered; 410 Gone
disables the endpoint; a message failing all eight attempts is ``exhausted`` and disables the endpoint
too; the institution's stewards are told either way. Nothing is dropped: re-enabling sends it all again.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import logging
import ssl
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core import clock
from services.core.config import Settings
from services.core.db import unit_of_work
from services.core.jobs import JobQueue, enqueue_intents, take_job_intents
from services.core.metrics import WEBHOOK_ATTEMPTS
from services.core.notifications.service import notify
from services.core.notifications.templates import Message
from services.core.org.models import Institution
from services.core.security.pii import PiiCipher
from services.core.webhooks import messages, signing, targets
from services.core.webhooks.models import (
    DeliveryStatus,
    DisabledReason,
    SubscriptionStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookMessage,
    WebhookSubscription,
)
from services.core.webhooks.service import disable, signing_secrets, stewards_of

log = logging.getLogger("gridcare.webhooks")

# Seconds to wait before attempt n+1 (index n-1 after the n-th failure); the first attempt is immediate.
SCHEDULE: tuple[int, ...] = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
MAX_ATTEMPTS = len(SCHEDULE) + 1
# A Retry-After beyond this is treated as this (a receiver cannot park a message for a month).
RETRY_AFTER_CAP = timedelta(hours=24)
USER_AGENT = "gridcare-webhooks/1 (+Standard Webhooks v1)"
_ERROR_LEN = 500


@dataclass(frozen=True)
class Claimed:
    """One delivery leased to this worker, with everything its attempt needs."""

    delivery_id: int
    message_id: str
    subscription_id: uuid.UUID
    attempts: int  # before this attempt
    url: str
    body: bytes
    secrets: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    """What one attempt came back with."""

    attempted_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    retry_after: timedelta | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class PassResult:
    """One pass: how many were claimed and how each ended; ``more`` when the batch was full."""

    claimed: int
    delivered: int
    failed: int
    more: bool


def next_delay(attempts: int, retry_after: timedelta | None) -> timedelta | None:
    """The wait before the next attempt after ``attempts`` failures (None: the schedule is used up)."""
    if attempts >= MAX_ATTEMPTS:
        return None
    delay = timedelta(seconds=SCHEDULE[attempts - 1])
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP))
    return delay


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """``Retry-After`` as seconds or an HTTP date (RFC 9110); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(timedelta(0), when - now) if when.tzinfo is not None else None


def webhook_backlog(now: datetime) -> Select[int, datetime | None]:
    """How many deliveries to enabled endpoints are due, and the oldest due time (for the worker's gauges)."""
    return (
        select(func.count(), func.min(WebhookDelivery.next_attempt_at))
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(
            WebhookDelivery.status.in_((DeliveryStatus.PENDING.value, DeliveryStatus.FAILED.value)),
            WebhookDelivery.next_attempt_at <= now,
            WebhookSubscription.status == SubscriptionStatus.ENABLED.value,
        )
    )


async def claim(
    db: AsyncSession,
    *,
    pii: PiiCipher,
    limit: int,
    lease: timedelta,
    message_id: str | None = None,
) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries of enabled subscriptions (of one message, if given), oldest first."""
    now = clock.now()
    due = (
        select(WebhookDelivery.id)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(
            WebhookDelivery.status.in_((DeliveryStatus.PENDING.value, DeliveryStatus.FAILED.value)),
            WebhookDelivery.next_attempt_at <= now,
            WebhookSubscription.status == SubscriptionStatus.ENABLED.value,
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    )
    if message_id is not None:
        due = due.where(WebhookDelivery.message_id == message_id)
    leased = (
        await db.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=now + lease)
            .returning(
                WebhookDelivery.id,
                WebhookDelivery.message_id,
                WebhookDelivery.subscription_id,
                WebhookDelivery.attempts,
            )
        )
    ).all()
    if not leased:
        return []
    bodies = dict(
        (
            await db.execute(
                select(WebhookMessage.id, WebhookMessage.body).where(WebhookMessage.id.in_({r[1] for r in leased}))
            )
        ).all()
    )
    subscriptions = {
        s.id: s
        for s in await db.scalars(select(WebhookSubscription).where(WebhookSubscription.id.in_({r[2] for r in leased})))
    }
    secrets = {sid: tuple(signing_secrets(pii, s, now)) for sid, s in subscriptions.items()}
    return [
        Claimed(
            delivery_id=d,
            message_id=m,
            subscription_id=s,
            attempts=a,
            url=subscriptions[s].url,
            body=bodies[m].encode(),
            secrets=secrets[s],
        )
        for d, m, s, a in leased
    ]


async def attempt(client: httpx.AsyncClient, claimed: Claimed, *, timeout: float, allow_private: bool) -> Outcome:
    """POST one delivery (signed with this attempt's timestamp), never following a redirect."""
    at = clock.now()
    started = time.perf_counter()

    def took() -> int:
        return int((time.perf_counter() - started) * 1000)

    try:
        target = await targets.for_delivery(claimed.url, allow_private=allow_private)
    except targets.TargetRefused as exc:
        return Outcome(at, took(), error=f"target refused: {exc}")
    headers = signing.headers(claimed.secrets, claimed.message_id, at, claimed.body) | {"user-agent": USER_AGENT}
    if target.host_header is not None:
        headers["host"] = target.host_header
    extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else {}
    try:
        async with asyncio.timeout(timeout):
            request = client.build_request(
                "POST", target.url, content=claimed.body, headers=headers, extensions=extensions, timeout=timeout
            )
            response = await client.send(request, stream=True, follow_redirects=False)
            await response.aclose()  # the body is not read: a receiver cannot make us download anything
    except TimeoutError:
        return Outcome(at, took(), error=f"no answer within {timeout:g} s")
    except httpx.HTTPError as exc:
        return Outcome(at, took(), error=f"{type(exc).__name__}: {exc}"[:_ERROR_LEN])
    outcome = Outcome(
        at,
        took(),
        status_code=response.status_code,
        retry_after=parse_retry_after(response.headers.get("retry-after"), at),
        error="redirect not followed" if response.is_redirect else None,
    )
    return outcome


async def record(db: AsyncSession, results: Sequence[tuple[Claimed, Outcome]]) -> list[str]:
    """Write the attempts and move the deliveries on, in one flush; disable an endpoint on 410 or
    exhaustion. Returns each delivery's new status ("gone" when its subscription was deleted meanwhile)."""
    now = clock.now()
    ids = [claimed.delivery_id for claimed, _ in results]
    rows = await db.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids))
        .order_by(WebhookDelivery.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    deliveries = {d.id: d for d in rows}
    statuses: list[str] = []
    disabling: dict[uuid.UUID, DisabledReason] = {}
    for claimed, outcome in results:
        delivery = deliveries.get(claimed.delivery_id)
        if delivery is None:
            statuses.append("gone")
            continue
        db.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                attempted_at=outcome.attempted_at,
                status_code=outcome.status_code,
                duration_ms=outcome.duration_ms,
                error=outcome.error,
            )
        )
        attempts = claimed.attempts + 1
        delivery.attempts = attempts
        delivery.last_attempt_at = outcome.attempted_at
        delivery.last_status_code = outcome.status_code
        if outcome.delivered:
            delivery.status = DeliveryStatus.DELIVERED.value
            delivery.delivered_at = now
            delivery.next_attempt_at = None
        elif outcome.status_code == 410:
            delivery.status = DeliveryStatus.FAILED.value
            delivery.next_attempt_at = now  # sent first when the endpoint is enabled again
            disabling.setdefault(claimed.subscription_id, DisabledReason.GONE)
        else:
            delay = next_delay(attempts, outcome.retry_after)
            if delay is None:
                delivery.status = DeliveryStatus.EXHAUSTED.value
                delivery.next_attempt_at = None
                disabling.setdefault(claimed.subscription_id, DisabledReason.EXHAUSTED)
            else:
                delivery.status = DeliveryStatus.FAILED.value
                delivery.next_attempt_at = now + delay
        statuses.append(delivery.status)
    await db.flush()
    for subscription_id in sorted(disabling):
        await _disable(db, subscription_id, disabling[subscription_id])
    return statuses


async def _disable(db: AsyncSession, subscription_id: uuid.UUID, reason: DisabledReason) -> None:
    subscription = await db.get(WebhookSubscription, subscription_id, with_for_update=True)
    if subscription is None or subscription.status != SubscriptionStatus.ENABLED.value:
        return
    disable(subscription, reason)
    await db.flush()
    at = subscription.disabled_at or clock.now()
    institution = await db.get(Institution, subscription.institution_id)
    log.warning("webhook endpoint disabled", extra={"subscription_id": str(subscription.id), "reason": reason.value})
    stewards = await stewards_of(db, subscription.institution_id, at)
    if not stewards:
        return
    await notify(
        db,
        user_ids=stewards,
        kind=messages.DISABLED,
        message=Message(
            messages.DISABLED,
            {
                "institution": institution.name if institution else None,
                "host": targets.host_of(subscription.url),
                "reason": reason.value,
                "at": at,
            },
        ),
        subject_type="webhook_subscription",
        subject_id=subscription.id,
        dedupe_key=f"webhook:{subscription.id}:disabled:{at.isoformat()}",
    )


async def deliver_pass(
    factory: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    *,
    settings: Settings,
    pii: PiiCipher,
    message_id: str | None = None,
    queue: JobQueue | None = None,
) -> PassResult:
    """Claim a batch (one short transaction), attempt them concurrently, record each (one more)."""
    limit = settings.webhooks_batch
    lease = timedelta(seconds=settings.webhooks_timeout_seconds * 2 + 30)
    async with factory() as db, unit_of_work(db):
        batch = await claim(db, pii=pii, limit=limit, lease=lease, message_id=message_id)
    if not batch:
        return PassResult(0, 0, 0, more=False)
    outcomes = await asyncio.gather(
        *(
            attempt(
                client, c, timeout=settings.webhooks_timeout_seconds, allow_private=settings.webhooks_private_allowed()
            )
            for c in batch
        )
    )
    async with factory() as db:
        async with unit_of_work(db):
            statuses = await record(db, list(zip(batch, outcomes, strict=True)))
        intents = take_job_intents(db)
    for status in statuses:
        WEBHOOK_ATTEMPTS.labels(outcome=status).inc()
    delivered = sum(status == DeliveryStatus.DELIVERED.value for status in statuses)
    failed = len(statuses) - delivered
    await enqueue_intents(queue, intents)  # a steward's SMS, sooner; the outbox sweeper is the guarantee
    return PassResult(len(batch), delivered, failed, more=len(batch) >= limit)


async def deliver_due(
    factory: async_sessionmaker[AsyncSession],
    *,
    settings: Settings,
    pii: PiiCipher,
    message_id: str | None = None,
    max_passes: int = 20,
    client: httpx.AsyncClient | None = None,
    queue: JobQueue | None = None,
) -> Sequence[PassResult]:
    """Passes until nothing is due (or ``max_passes``, so one sweep cannot run for ever)."""
    own = client is None
    http = client or new_client(settings)
    results: list[PassResult] = []
    try:
        for _ in range(max_passes):
            result = await deliver_pass(factory, http, settings=settings, pii=pii, message_id=message_id, queue=queue)
            results.append(result)
            if not result.more:
                break
    finally:
        if own:
            await http.aclose()
    return results


@functools.cache
def _tls() -> ssl.SSLContext:
    """The system's CA bundle, loaded once (building a context costs ~0.1 s; a sweep makes a client each time)."""
    return ssl.create_default_context()


def new_client(settings: Settings) -> httpx.AsyncClient:
    """The HTTP client deliveries use: no redirects, no proxies from the environment, bounded pool."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        verify=_tls(),
        timeout=settings.webhooks_timeout_seconds,
        limits=httpx.Limits(max_connections=settings.webhooks_batch, max_keepalive_connections=20),
    )
