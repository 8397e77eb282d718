"""Heartbeats and the readiness checks behind ``/readyz``."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.system.models import WorkerHeartbeat

ROOT = Path(__file__).resolve().parents[3]


def alembic_config(database_url: str | None = None) -> Config:
    """Alembic's config for this checkout, optionally pointed at a database."""
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    if database_url:
        cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def migration_head() -> str | None:
    """The newest revision in ``migrations/``."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def beat(db: AsyncSession, *, worker_id: str, started_at: datetime) -> None:
    """Record that a worker is alive now."""
    now = clock.now()
    stmt = insert(WorkerHeartbeat).values(worker_id=worker_id, started_at=started_at, seen_at=now)
    await db.execute(stmt.on_conflict_do_update(index_elements=["worker_id"], set_={"seen_at": now}))


async def forget_worker(db: AsyncSession, *, worker_id: str) -> None:
    """Drop a stopped worker's heartbeat so readiness reflects it at once."""
    await db.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == worker_id))


async def latest_heartbeat(db: AsyncSession) -> datetime | None:
    """When any worker was last seen."""
    return await db.scalar(select(func.max(WorkerHeartbeat.seen_at)))


async def current_revision(db: AsyncSession) -> str | None:
    """The revision the database is at (None before the first migration)."""
    exists = await db.scalar(text("select to_regclass('alembic_version') is not null"))
    if not exists:
        return None
    revision: str | None = await db.scalar(text("select version_num from alembic_version"))
    return revision


def worker_is_fresh(last_seen: datetime | None, *, stale_after: timedelta) -> bool:
    """A worker counts as up when one beat within ``stale_after``."""
    return last_seen is not None and clock.now() - last_seen <= stale_after
