"""Webhook delivery: a sweep on the worker's own timer (the guarantee: it reads PostgreSQL, so a Redis
flush or outage delays nothing), and a job per message kicked after its commit (promptness only)."""

from __future__ import annotations

from typing import Any

from services.core.security.pii import cipher_for
from services.core.webhooks import delivery
from services.core.webhooks import messages as _messages  # noqa: F401 - registers the steward's template
from services.worker.registry import WorkerContext, task


def _summary(results: Any) -> dict[str, int]:
    summary = {"claimed": 0, "delivered": 0, "failed": 0, "more": 0}
    for result in results:
        summary["claimed"] += result.claimed
        summary["delivered"] += result.delivered
        summary["failed"] += result.failed
        summary["more"] = int(result.more)
    return summary


@task("webhooks.sweep", timeout=300, max_tries=1)
async def sweep(ctx: WorkerContext) -> dict[str, int]:
    """Deliver everything due, a small batch per pass; ``more`` when it stopped with work left."""
    settings = ctx["settings"]
    results = await delivery.deliver_due(
        ctx["session_factory"], settings=settings, pii=cipher_for(settings), queue=ctx.get("redis")
    )
    return _summary(results)


@task("webhooks.deliver", timeout=120, max_tries=1)
async def deliver(ctx: WorkerContext, message_id: str) -> dict[str, int]:
    """Deliver one message's due deliveries now (a no-op when the sweep or another worker got there first)."""
    settings = ctx["settings"]
    results = await delivery.deliver_due(
        ctx["session_factory"],
        settings=settings,
        pii=cipher_for(settings),
        message_id=message_id,
        max_passes=3,
        queue=ctx.get("redis"),
    )
    return _summary(results)
