"""Supervision's jobs: the sweep that makes each ended half year's snapshots, and the ledger's clock.

``supervision.sweep`` runs on the worker's own timer (``SWEEPS``), against PostgreSQL: when a half
year has ended it produces every town's bulletin and the district's team assessment, and the roll-up
once every town has issued its bulletin. Each snapshot is its own transaction and is inserted once
(a unique key), so two workers, a rerun or a Redis that lost its queue never duplicate one; a failure
in one town is logged and retried at the next sweep without holding up the others. Importing
``core.supervision.messages`` registers the ``rectification.due`` deadline kind.
"""

from __future__ import annotations

import logging

from services.core.supervision import messages as _messages  # noqa: F401 - registers rectification.due
from services.core.supervision import service
from services.worker.registry import WorkerContext, task, unit

log = logging.getLogger("gridcare.worker.supervision")


@task("supervision.sweep", timeout=1800, max_tries=1)
async def sweep(ctx: WorkerContext) -> dict[str, int]:
    """Produce what the last ended half year still lacks, one snapshot per transaction."""
    async with unit(ctx) as db:
        work = await service.due_work(db)
    totals = {"due": len(work), "made": 0, "failed": 0}
    for what, unit_id in work:
        try:
            async with unit(ctx) as db:
                totals["made"] += int(await service.run_one(db, what, unit_id, ctx["settings"]))
        except Exception:  # one town's failure must not hold up the others; the next sweep retries it
            totals["failed"] += 1
            log.warning("supervision snapshot failed", extra={"what": what, "unit_id": str(unit_id)}, exc_info=True)
    if totals["made"] or totals["failed"]:
        log.info("supervision swept", extra=totals)
    return totals
