"""Running the worker process: arq, restarted when Redis goes away.

arq's worker stops when its Redis connection breaks. Redis is only a way to start work
sooner (the database is the record), so a lost Redis must not take the worker down for
good: the worker waits, with backoff, and starts again; the cron sweepers then catch up
on whatever fell due meanwhile.
"""

from __future__ import annotations

import logging
import time

from arq.worker import run_worker
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.core.config import Settings
from services.worker.settings import worker_settings

log = logging.getLogger("gridcare.worker")

MAX_BACKOFF_SECONDS = 30.0


def run_forever(settings: Settings, *, max_restarts: int | None = None) -> int:
    """Run arq until it stops by a signal; restart it (backing off) while Redis is unreachable."""
    delay = 1.0
    restarts = 0
    while True:
        started = time.monotonic()
        try:
            run_worker(worker_settings(settings))
            return 0  # a clean stop (SIGINT/SIGTERM)
        except (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError) as exc:
            if max_restarts is not None and restarts >= max_restarts:
                raise
            if time.monotonic() - started > 60:
                delay = 1.0  # it ran fine for a while: this is a new outage
            log.warning("redis unavailable; worker restarts", extra={"error": type(exc).__name__, "in_s": delay})
            time.sleep(delay)  # noqa: ASYNC251 - not in a coroutine: between two event loops
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)
            restarts += 1
