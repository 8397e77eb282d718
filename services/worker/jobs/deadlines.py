"""SLA clocks: the punctual deferred job per step, and the sweeper that makes them certain."""

from __future__ import annotations

import logging
import uuid

from services.core.deadlines import service
from services.worker.registry import WorkerContext, task, unit

log = logging.getLogger("gridcare.worker.deadlines")

# The sweeper stops after this many batches per run; the next run carries on.
MAX_BATCHES = 20


@task("deadlines.fire", timeout=60, max_tries=5)
async def fire(ctx: WorkerContext, deadline_id: str, step: str) -> list[str]:
    """Take the due steps of one clock (deferred to ``step``'s time; harmless when run twice)."""
    async with unit(ctx) as db:
        advance = await service.fire_due(db, uuid.UUID(deadline_id))
    log.info("deadline fired", extra={"deadline_id": deadline_id, "step": step, "fired": advance.fired})
    return advance.fired


@task("deadlines.sweep", timeout=120, max_tries=1)
async def sweep(ctx: WorkerContext) -> dict[str, int]:
    """Advance every due clock no other worker holds, batch by batch, each batch one transaction."""
    limit = ctx["settings"].deadline_sweep_batch
    totals = {"selected": 0, "fired": 0, "failed": 0, "more": 0}
    for _ in range(MAX_BATCHES):
        async with unit(ctx) as db:
            result = await service.sweep(db, limit=limit)
        totals["selected"] += result.selected
        totals["fired"] += result.fired
        totals["failed"] += len(result.failed)
        totals["more"] = int(result.selected >= limit)  # stopped at the cap: the loop runs again at once
        if result.selected < limit:
            break
    if totals["selected"]:
        log.info("deadlines swept", extra=totals)
    return totals
