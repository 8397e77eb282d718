"""The worker's ``/metrics``: a small HTTP listener on the worker's own loop, and job timing.

prometheus-client's ``start_http_server`` runs a thread and knows no access rule; this
listener answers one GET per connection on the event loop the worker already has, and
applies the same rule as the API (``metrics_token`` / ``metrics_networks`` in production).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import clock
from services.core.config import Settings
from services.core.deadlines.models import Deadline
from services.core.metrics import (
    DEADLINE_LAG,
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
    WEBHOOK_DUE,
    WEBHOOK_LAG,
    exposition,
    may_scrape,
    observe_job,
)
from services.core.notifications.models import OutboxMessage, OutboxState
from services.core.webhooks.delivery import webhook_backlog

log = logging.getLogger("gridcare.worker.metrics")


def measured(name: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """``fn`` timed into ``gridcare_job_duration_seconds`` and counted in ``gridcare_job_failures``."""

    @functools.wraps(fn)
    async def run(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            result = await fn(*args, **kwargs)
        except BaseException:
            observe_job(name, started, failed=True)
            raise
        observe_job(name, started, failed=False)
        return result

    return run


async def refresh_backlog_gauges(db: AsyncSession) -> None:
    """Deadline lag and outbox backlog, each read from its partial index (cheap enough after every sweep)."""
    now = clock.now()
    oldest_step = await db.scalar(select(func.min(Deadline.next_step_at)).where(Deadline.next_step_at.is_not(None)))
    DEADLINE_LAG.set(max(0.0, (now - oldest_step).total_seconds()) if oldest_step is not None else 0.0)
    backlog, oldest = (
        await db.execute(
            select(func.count(), func.min(OutboxMessage.created_at)).where(
                OutboxMessage.state == OutboxState.PENDING.value
            )
        )
    ).one()
    OUTBOX_BACKLOG.set(int(backlog or 0))
    OUTBOX_OLDEST_AGE.set(max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0)
    due, first = (await db.execute(webhook_backlog(now))).one()
    WEBHOOK_DUE.set(int(due or 0))
    WEBHOOK_LAG.set(max(0.0, (now - first).total_seconds()) if first is not None else 0.0)


class MetricsServer:
    """``GET /metrics`` on ``worker_metrics_host:worker_metrics_port`` (port 0: no listener)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.server: asyncio.Server | None = None

    @property
    def port(self) -> int | None:
        """The bound port (useful when configured as an ephemeral one by tests)."""
        if self.server is None or not self.server.sockets:
            return None
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        """Listen, or log and carry on when the port is taken: metrics never stop the worker."""
        if not self.settings.worker_metrics_port:
            return
        try:
            self.server = await asyncio.start_server(
                self._answer, self.settings.worker_metrics_host, self.settings.worker_metrics_port
            )
        except OSError as exc:
            log.warning("metrics listener not started", extra={"error": str(exc)})

    async def stop(self) -> None:
        """Close the listener."""
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await self.server.wait_closed()
            self.server = None

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            lines = head.decode("latin-1").split("\r\n")
            method, path, *_ = (lines[0].split(" ") + ["", ""])[:3]
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            peer = writer.get_extra_info("peername")
            allowed = may_scrape(
                open_access=self.settings.metrics_open(),
                token=self.settings.metrics_token.get_secret_value() if self.settings.metrics_token else None,
                networks=self.settings.metrics_networks,
                authorization=headers.get("authorization"),
                client_host=peer[0] if isinstance(peer, tuple) else None,
            )
            if method != "GET" or path.split("?")[0] != "/metrics":
                status, body, ctype = "404 Not Found", b"not found\n", "text/plain"
            elif not allowed:
                status, body, ctype = "403 Forbidden", b"forbidden\n", "text/plain"
            else:
                body, ctype = exposition()
                status = "200 OK"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
