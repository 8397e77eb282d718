"""Residents' removals pruned on the worker's own timer (``core/residents/retention.py``): small batches,
each its own short transaction, so a large backlog never holds a lock the sync or the API waits for."""

from __future__ import annotations

import logging
from datetime import timedelta

from services.core import clock
from services.core.residents import retention
from services.worker.registry import WorkerContext, task, unit

log = logging.getLogger("gridcare.worker.residents")

# Batches one pass takes at most; what is left goes at the next tick.
MAX_BATCHES = 20


@task("residents.prune_tombstones", timeout=300, max_tries=1)
async def prune_tombstones(ctx: WorkerContext) -> dict[str, int]:
    """Delete the tombstones older than ``sync_tombstone_days`` (idempotent: a second run finds none)."""
    keep = timedelta(days=ctx["settings"].sync_tombstone_days)
    pruned = 0
    for _ in range(MAX_BATCHES):
        async with unit(ctx) as db:
            went = await retention.prune_tombstones(db, now=clock.now(), keep=keep)
        pruned += went
        if went < retention.BATCH:
            break
    if pruned:
        log.info("tombstones pruned", extra={"pruned": pruned})
    return {"pruned": pruned}
