"""Jobs to start after commit: core records the intent, the edge (API, worker) enqueues it.

Core never talks to the queue. An intent only makes work start sooner: whatever a job
does must also be found by a sweeper, since the enqueue may fail and Redis may lose it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock

log = logging.getLogger("gridcare.jobs")

_INTENTS = "gridcare.job_intents"


@dataclass(frozen=True)
class JobIntent:
    """A job by name, its id arguments, a deterministic job id and an optional start time."""

    name: str
    args: tuple[Any, ...]
    job_id: str
    defer_until: datetime | None = None


class JobQueue(Protocol):
    """What we need of a queue (arq's ``ArqRedis`` is one)."""

    async def enqueue_job(self, function: str, *args: Any, **kwargs: Any) -> Any: ...


def enqueue_after_commit(session: AsyncSession, intent: JobIntent) -> None:
    """Ask whoever commits ``session`` to enqueue ``intent`` once the commit succeeded."""
    session.info.setdefault(_INTENTS, []).append(intent)


def take_job_intents(session: AsyncSession) -> list[JobIntent]:
    """The intents recorded in ``session`` so far, removing them."""
    intents: list[JobIntent] = session.info.pop(_INTENTS, [])
    return intents


def drop_job_intents(session: AsyncSession) -> None:
    """Forget the intents of a unit of work that rolled back."""
    session.info.pop(_INTENTS, None)


async def enqueue_intents(queue: JobQueue | None, intents: Iterable[JobIntent]) -> int:
    """Enqueue each intent; a failure is logged, never raised (the sweepers catch up). Returns how many."""
    done = 0
    intents = list(intents)
    for index, intent in enumerate(intents):
        if queue is None:
            break
        # Deferred by the time left on *our* clock (the queue reads the wall clock); past times run now.
        defer_by = intent.defer_until - clock.now() if intent.defer_until is not None else None
        if defer_by is not None and defer_by <= timedelta(0):
            defer_by = None
        try:
            await queue.enqueue_job(intent.name, *intent.args, _job_id=intent.job_id, _defer_by=defer_by)
            done += 1
        except Exception:  # Redis down: the work is in Postgres, the sweeper will find it
            # One warning and no more tries: the rest would fail the same way, each after a timeout,
            # and a sweeper catching up on thousands of steps must not wait on a dead Redis.
            log.warning(
                "enqueue failed; the sweeper will catch up",
                extra={"job_id": intent.job_id, "skipped": len(intents) - index - 1},
                exc_info=True,
            )
            break
    return done
