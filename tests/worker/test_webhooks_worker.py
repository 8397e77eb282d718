"""Webhook delivery by the worker on committed data: Redis flushed between the change and the delivery
still delivers (the sweep reads PostgreSQL), and two workers delivering at once send each event once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from sqlalchemy import func, select
from standardwebhooks import Webhook

from services.api.app import create_app
from services.core import clock
from services.core.config import Settings
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.security.pii import cipher_for
from services.core.webhooks import delivery
from services.core.webhooks.models import WebhookDelivery
from services.core.webhooks.service import DELIVER_JOB, emit
from services.dev.embedded import drop_database
from services.worker.registry import TASKS, WorkerContext
from services.worker.settings import SWEEPS
from tests.conftest import Servers, fresh_database, make_settings
from tests.factories import auth_headers
from tests.referral_world import ReferralWorld, build_referral_world, upward_body
from tests.webhook_receiver import receiving


@pytest.fixture
async def committed(servers: Servers) -> AsyncIterator[tuple[Settings, ReferralWorld]]:
    """A database of its own with the referral world committed."""
    clock.freeze(datetime.now(UTC).replace(microsecond=0))
    url = await fresh_database(servers, "gridcare_webhooks")
    settings = make_settings(url, servers.redis_url, access_token_ttl_seconds=3600)
    engine = make_engine(url, null_pool=True)
    async with session_scope(make_session_factory(engine)) as db:
        world = await build_referral_world(db)
    await engine.dispose()
    yield settings, world
    await drop_database(servers.server_url, url.rsplit("/", 1)[1].split("?")[0])


@asynccontextmanager
async def api(settings: Settings, redis: ArqRedis | None) -> AsyncIterator[httpx.AsyncClient]:
    engine = make_engine(settings.database_url or "", pool_size=2)
    app = create_app(settings, engine=engine, redis=redis)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gridcare.test") as client:
            yield client
    finally:
        await engine.dispose()


async def subscribe(client: httpx.AsyncClient, world: ReferralWorld, url: str, types: list[str]) -> dict[str, Any]:
    response = await client.post(
        "/webhook-subscriptions", json={"url": url, "event_types": types}, headers=await auth_headers(client, world.his)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_delivery_runs_on_the_workers_own_timer() -> None:
    assert "webhooks.sweep" in {spec.task for spec in SWEEPS}  # like the deadline sweep: never waits for Redis


async def test_redis_flushed_between_the_change_and_the_delivery_still_delivers(
    committed: tuple[Settings, ReferralWorld], servers: Servers
) -> None:
    settings, world = committed
    redis = await create_pool(RedisSettings.from_dsn(servers.redis_url))
    try:
        await redis.flushdb()  # this run's own Redis database (GRIDCARE_TEST_REDIS_URL), nobody else's
        with receiving() as receiver:
            async with api(settings, redis) as client:
                subscription = await subscribe(client, world, receiver.url, ["referral.requested"])
                member = await auth_headers(client, world.member)
                created = await client.post("/referrals", json=upward_body(world), headers=member)
                assert created.status_code == 201, created.text
            queued = [job.function for job in await redis.queued_jobs()]
            assert DELIVER_JOB in queued  # the prompt path was taken...
            await redis.flushdb()  # ...and is lost
            assert await redis.queued_jobs() == []
            engine = make_engine(settings.database_url or "", pool_size=2)
            ctx: WorkerContext = {"settings": settings, "session_factory": make_session_factory(engine)}
            try:
                summary = await TASKS["webhooks.sweep"].fn(ctx)
            finally:
                await engine.dispose()
        assert summary["delivered"] == 1
        (got,) = receiver.received
        event = Webhook(subscription["secret"]).verify(got.body, got.headers)
        assert event["type"] == "referral.requested"
        assert event["data"]["id"] == created.json()["id"]
    finally:
        await redis.flushdb()
        await redis.aclose()


async def test_two_workers_delivering_at_once_send_each_event_once(
    committed: tuple[Settings, ReferralWorld],
) -> None:
    settings, world = committed
    small = settings.model_copy(update={"webhooks_batch": 5})
    events = 200
    with receiving() as receiver:
        async with api(settings, None) as client:
            await subscribe(client, world, receiver.url, ["referral.accepted"])
        engines = [make_engine(settings.database_url or "", pool_size=3) for _ in range(3)]
        try:
            async with session_scope(make_session_factory(engines[0])) as db:
                for n in range(events):
                    data = {"id": str(uuid.uuid4()), "identifiers": [], "version": n + 1, "status": "accepted"}
                    await emit(
                        db,
                        institution_ids=[world.hospital.id, world.centre.id],
                        event_type="referral.accepted",
                        data=data,
                        occurred_at=clock.now(),
                    )
            runs = await asyncio.gather(
                *(
                    delivery.deliver_due(
                        make_session_factory(engine), settings=small, pii=cipher_for(small), max_passes=1000
                    )
                    for engine in engines[1:]
                )
            )
            async with session_scope(make_session_factory(engines[0])) as db:
                states = dict(
                    (
                        await db.execute(select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status))
                    ).all()
                )
        finally:
            for engine in engines:
                await engine.dispose()
    ids = receiver.ids()
    assert len(ids) == events
    assert len(set(ids)) == events  # every event, none twice
    per_worker = [sum(r.delivered for r in run) for run in runs]
    assert sum(per_worker) == events, per_worker
    assert all(n > 0 for n in per_worker), per_worker  # both took part
    assert states == {"delivered": events}
