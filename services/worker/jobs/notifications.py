"""Outbox delivery: one job per message for promptness, a sweeper for certainty and retries."""

from __future__ import annotations

import logging

from services.core.notifications import service
from services.core.notifications.channels import channels_from_settings
from services.worker.registry import WorkerContext, task, unit

log = logging.getLogger("gridcare.worker.notifications")


@task("notifications.send", timeout=60, max_tries=3)
async def send(ctx: WorkerContext, message_id: int) -> str | None:
    """Try one outbox message if it is due (a no-op when sent already or held by another worker)."""
    settings = ctx["settings"]
    async with unit(ctx) as db:
        return await service.deliver_one(
            db, message_id=message_id, channels=channels_from_settings(settings), settings=settings
        )


@task("notifications.sweep", timeout=300, max_tries=1)
async def sweep(ctx: WorkerContext) -> dict[str, int]:
    """Try every due message, each in its own transaction, so one failure never blocks the rest."""
    settings = ctx["settings"]
    channels = channels_from_settings(settings)
    async with unit(ctx) as db:
        ids = await service.due_messages(db)
    outcomes: dict[str, int] = {"more": int(len(ids) >= service.SWEEP_BATCH)}
    for message_id in ids:
        try:
            async with unit(ctx) as db:
                outcome = await service.deliver_one(db, message_id=message_id, channels=channels, settings=settings)
        except Exception:  # isolate the item; it stays pending and comes back next sweep
            log.exception("delivery crashed", extra={"outbox_id": message_id})
            outcome = "error"
        key = outcome or "skipped"
        outcomes[key] = outcomes.get(key, 0) + 1
    return outcomes
