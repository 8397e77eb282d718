"""Jobs about the worker itself."""

from __future__ import annotations

from sqlalchemy import text

from services.core.db import session_scope
from services.worker.registry import WorkerContext, task


@task("system.ping", timeout=10, max_tries=3)
async def ping(ctx: WorkerContext, marker: str) -> dict[str, str]:
    """Round trip through Redis and the database; used by readiness checks and tests."""
    async with session_scope(ctx["session_factory"]) as db:
        await db.execute(text("select 1"))
    return {"marker": marker, "worker_id": ctx["worker_id"]}
