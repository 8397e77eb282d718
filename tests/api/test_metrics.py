"""/metrics on the API and on the worker: every named series after one request and one job; closed in production."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
from arq.connections import ArqRedis
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.api.app import create_app
from services.core.config import Settings
from services.core.notifications import service as notifications
from services.core.security.roles import Role
from services.worker.metrics import MetricsServer, refresh_backlog_gauges
from services.worker.settings import _functions
from tests.factories import make_district, make_user

API_SERIES = (
    'gridcare_http_requests_total{method="GET",route="/healthz",status="200"}',
    'gridcare_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/healthz"}',
    'gridcare_db_pool_in_use{process="api"}',
    'gridcare_db_pool_size{process="api"}',
    "gridcare_db_pool_checkout_seconds_bucket",
    "gridcare_db_pool_waits_total",
)
WORKER_SERIES = (
    'gridcare_job_duration_seconds_bucket{job="system.ping",le="0.005",outcome="ok"}',
    'gridcare_job_failures_total{job="system.ping"}',
    "gridcare_deadline_lag_seconds ",
    "gridcare_deadline_steps_fired_total",
    "gridcare_outbox_backlog ",
    "gridcare_outbox_oldest_age_seconds ",
    "gridcare_webhook_deliveries_due ",
    "gridcare_webhook_lag_seconds ",
    'gridcare_notification_delivery_failures_total{channel="sms",outcome="retry"}',
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_the_api_exposes_requests_latency_and_the_pool_after_one_request(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    answer = await client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    for series in API_SERIES:
        assert series in answer.text, series
    assert 'route="/metrics"' not in answer.text, "scrapes are not counted as traffic"


async def test_unknown_paths_share_one_label_value(client: httpx.AsyncClient) -> None:
    await client.get("/no/such/path/12345")
    text = (await client.get("/metrics")).text
    assert "/no/such/path" not in text
    assert 'route="<unmatched>"' in text


async def test_the_worker_exposes_jobs_lag_backlog_and_delivery_failures_after_one_job(
    db: AsyncSession, settings: Settings
) -> None:
    district = await make_district(db)
    user = await make_user(db, Role.TEAM_MEMBER, district)
    await notifications.notify(
        db, user_ids=[user.id], kind="test", title="t", body="b", dedupe_key="metrics-test", channels=["sms"]
    )
    [message_id] = await notifications.due_messages(db)
    assert await notifications.deliver_one(db, message_id=message_id, channels={}, settings=settings) == "retry"
    await refresh_backlog_gauges(db)

    @contextlib.asynccontextmanager
    async def same_session() -> AsyncIterator[AsyncSession]:
        yield db  # the job's unit of work inside the test's rolled-back transaction

    class Factory:
        def __call__(self) -> Any:
            return same_session()

    ping = next(f for f in _functions() if f.name == "system.ping")
    ctx: dict[str, Any] = {"session_factory": Factory(), "worker_id": "metrics-test"}
    assert (await ping.coroutine(ctx, "one"))["marker"] == "one"  # the registered (measured) job, run once
    with contextlib.suppress(KeyError):
        await ping.coroutine({}, "broken")  # no session factory: the job fails, and is counted

    server = MetricsServer(settings.model_copy(update={"worker_metrics_port": _free_port()}))
    await server.start()
    try:
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"http://127.0.0.1:{server.port}/metrics")
            missing = await http.get(f"http://127.0.0.1:{server.port}/other")
    finally:
        await server.stop()
    assert answer.status_code == 200
    assert missing.status_code == 404
    for series in WORKER_SERIES:
        assert series in answer.text, series


async def test_in_production_only_the_token_or_an_allowed_network_may_scrape(
    settings: Settings, engine: AsyncEngine, redis: ArqRedis
) -> None:
    production = settings.model_copy(update={"env": "production", "metrics_token": None, "metrics_networks": []})
    closed = create_app(production, engine=engine, redis=redis)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=closed), base_url="http://t") as c:
        assert (await c.get("/metrics")).status_code == 403

    with_token = settings.model_copy(update={"env": "production", "metrics_token": SecretStr("scrape-secret")})
    app = create_app(with_token, engine=engine, redis=redis)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/metrics")).status_code == 403
        assert (await c.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 403
        assert (await c.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})).status_code == 200

    # ASGITransport's client is 127.0.0.1
    by_network = settings.model_copy(update={"env": "production", "metrics_networks": ["127.0.0.0/8"]})
    app = create_app(by_network, engine=engine, redis=redis)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/metrics")).status_code == 200

    server = MetricsServer(production.model_copy(update={"worker_metrics_port": _free_port()}))
    await server.start()
    try:
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"http://127.0.0.1:{server.port}/metrics")).status_code == 403
    finally:
        await server.stop()


def test_metrics_is_not_an_api_operation(settings: Settings) -> None:
    document = create_app(settings).openapi()
    assert "/metrics" not in document["paths"]
