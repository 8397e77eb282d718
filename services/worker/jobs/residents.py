"""Residents' removals pruned on the worker's own timer (``core/residents/retention.py``): one small batch
per pass, its own short transaction, so a large backlog never holds a lock the sync or the API waits for;
a full batch answers ``more`` and the sweep loop runs again at once."""

from __future__ import annotations

import logging
from datetime import timedelta

from services.core import clock
from services.core.residents import retention
from services.worker.registry import WorkerContext, task, unit

log = logging.getLogger("gridcare.worker.residents")


@task("residents.prune_tombstones", timeout=300, max_tries=1)
async def prune_tombstones(ctx: WorkerContext) -> dict[str, int]:
    """Delete a batch of tombstones older than ``sync_tombstone_days`` (idempotent: a second run finds none)."""
    keep = timedelta(days=ctx["settings"].sync_tombstone_days)
    async with unit(ctx) as db:
        pruned = await retention.prune_tombstones(db, now=clock.now(), keep=keep)
    if pruned:
        log.info("tombstones pruned", extra={"pruned": pruned})
    return {"pruned": pruned, "more": int(pruned >= retention.BATCH)}
