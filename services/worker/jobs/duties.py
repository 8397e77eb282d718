"""The duty checks (``core/duties/checks.py``) on the worker's own timer: each check in its own transaction,
so one failing never holds the others back; each answers ``more`` when it stopped at its batch cap."""

from __future__ import annotations

import logging

from services.core.duties import checks
from services.worker.registry import WorkerContext, task, unit

log = logging.getLogger("gridcare.worker.duties")


@task("duties.check", timeout=120, max_tries=1)
async def check(ctx: WorkerContext) -> dict[str, int]:
    """Run every duty check once (idempotent: a subject told before is never told again)."""
    totals: dict[str, int] = {"more": 0}
    for name, run in checks.CHECKS.items():
        try:
            async with unit(ctx) as db:
                told, more = await run(db)
        except Exception:  # isolate the check; the next tick tries it again
            log.exception("duty check failed", extra={"check": name})
            continue
        totals[name] = told
        totals["more"] |= int(more)
    if any(v for k, v in totals.items() if k != "more"):
        log.info("duty checks told", extra=totals)
    return totals
