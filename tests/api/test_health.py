"""Liveness and readiness."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.system import service as system


async def test_healthz_answers(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_readyz_wants_a_recent_worker_heartbeat(client: httpx.AsyncClient, db: AsyncSession) -> None:
    not_ready = await client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.headers["retry-after"] == "5"  # as the contract declares for every 503
    assert not_ready.json()["checks"]["worker"] == "no recent heartbeat"
    assert not_ready.json()["checks"]["database"] == "ok"
    assert not_ready.json()["checks"]["migrations"] == "ok"

    await system.beat(db, worker_id="test-worker", started_at=clock.now())
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"


async def test_docs_are_served_without_a_cdn(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "/docs-static/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    assert (await client.get("/docs-static/swagger-ui-bundle.js")).status_code == 200
    assert (await client.get("/docs-static/swagger-ui.css")).status_code == 200
    redoc = await client.get("/redoc")
    assert "/docs-static/redoc.standalone.js" in redoc.text
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "gridcare"
