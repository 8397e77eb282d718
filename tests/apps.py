"""One app per configuration for the whole run, and the shared-session client over it.

FastAPI builds each route's dependants lazily, on an app's first requests: about 0.3 s of CPU for our
~200 routes. A fresh app per test paid that again in every API test. The app holds no state of its own
beyond ``app.state`` (its middlewares are stateless, metrics are process-wide), so one app per
(settings, engine, Redis) serves every test, and each test gets that state back as ``create_app`` left it
with a fresh principal cache: nothing one test did reaches the next through the app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from arq.connections import ArqRedis
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.api.app import create_app
from services.core.accounts.principals import PrincipalCache
from services.core.config import Settings


@dataclass
class _Kept:
    app: FastAPI
    state: dict[str, Any]  # app.state as create_app left it
    # Held so that their ids, part of the key, cannot be reused by later objects while the app is kept.
    engine: AsyncEngine | None
    redis: ArqRedis | None
    in_use: bool = field(default=False)


_APPS: dict[tuple[str, int, int], _Kept] = {}


def _settings_key(settings: Settings) -> str:
    """The settings' values, secrets included (two settings differing only by a secret are two apps)."""
    values = {name: v.get_secret_value() if isinstance(v, SecretStr) else v for name, v in settings}
    return repr(sorted(values.items(), key=lambda item: item[0]))


@asynccontextmanager
async def app_for(
    settings: Settings, *, engine: AsyncEngine | None = None, redis: ArqRedis | None = None
) -> AsyncIterator[FastAPI]:
    """``create_app(settings, engine=engine, redis=redis)`` as it was built, kept for the next caller.

    An app already in use (two clients of one configuration open at once) is not shared: the second
    caller gets a fresh one, so neither can change the other's ``app.state``.
    """
    key = (_settings_key(settings), id(engine), id(redis))
    kept = _APPS.get(key)
    if kept is not None and kept.in_use:
        yield create_app(settings, engine=engine, redis=redis)
        return
    if kept is None:
        app = create_app(settings, engine=engine, redis=redis)
        kept = _APPS[key] = _Kept(app=app, state=dict(app.state._state), engine=engine, redis=redis)
    else:
        kept.app.state._state.clear()
        kept.app.state._state.update(kept.state)
        kept.app.state.principals = PrincipalCache(seconds=settings.auth_cache_seconds)
    kept.in_use = True
    try:
        yield kept.app
    finally:
        kept.in_use = False


@asynccontextmanager
async def shared_session_client(
    db: AsyncSession, settings: Settings, *, engine: AsyncEngine, redis: ArqRedis | None
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the app, every request sharing the test's session."""
    async with app_for(settings, engine=engine, redis=redis) as app:

        @asynccontextmanager
        async def shared_session() -> AsyncIterator[AsyncSession]:
            # What the test wrote so far becomes "committed" (a released savepoint inside the outer
            # transaction), so a request that fails and rolls back undoes only its own work.
            await db.commit()
            yield db

        app.state.session_factory = shared_session
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gridcare.test") as client:
            yield client
