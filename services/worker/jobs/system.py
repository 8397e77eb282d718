"""Jobs about the worker itself."""

from __future__ import annotations

import logging

from sqlalchemy import text

from services.core.db import session_scope
from services.core.system import statistics
from services.worker.registry import WorkerContext, task

log = logging.getLogger("gridcare.worker.system")


@task("system.ping", timeout=10, max_tries=3)
async def ping(ctx: WorkerContext, marker: str) -> dict[str, str]:
    """Round trip through Redis and the database; used by readiness checks and tests."""
    async with session_scope(ctx["session_factory"]) as db:
        await db.execute(text("select 1"))
    return {"marker": marker, "worker_id": ctx["worker_id"]}


@task("system.statistics", timeout=300, max_tries=1)
async def refresh_statistics(ctx: WorkerContext) -> dict[str, int]:
    """With autovacuum off, keep the planner's statistics current (``core/system/statistics.py``)."""
    async with session_scope(ctx["session_factory"]) as db:
        if await statistics.autovacuum_on(db):
            return {"analyzed": 0}
        analyzed = await statistics.refresh_stale(db)
    if analyzed:
        log.warning(
            "autovacuum is off: the worker analyzed tables whose statistics were stale (VACUUM is the operator's)",
            extra={"tables": analyzed},
        )
    return {"analyzed": len(analyzed)}
