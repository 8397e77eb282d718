"""Faults: an unreachable database is a 503 with Retry-After; a bug is a 500 problem with the request id."""

from __future__ import annotations

import socket

import httpx
from arq.connections import ArqRedis

from services.api.app import create_app
from services.core.config import Settings
from services.core.db import make_engine


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: nothing listens there


async def test_unreachable_database_is_503_with_retry_after(settings: Settings, redis: ArqRedis) -> None:
    engine = make_engine(f"postgresql://postgres@127.0.0.1:{_closed_port()}/nowhere", null_pool=True)
    app = create_app(settings, engine=engine, redis=redis)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.post("/oauth/token", data={"grant_type": "password", "username": "a", "password": "b"})
        ready = await client.get("/readyz")
    await engine.dispose()
    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert ready.status_code == 503


async def test_a_bug_is_a_500_problem_carrying_the_request_id(settings: Settings, redis: ArqRedis) -> None:
    engine = make_engine(settings.database_url or "", null_pool=True)
    app = create_app(settings, engine=engine, redis=redis)

    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/boom", headers={"X-Request-ID": "trace-me"})
    await engine.dispose()
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert response.json()["request_id"] == "trace-me"
    assert response.headers["x-request-id"] == "trace-me"
    assert "a bug" not in response.text
