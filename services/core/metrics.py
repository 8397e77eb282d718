"""Prometheus metrics shared by the API and the worker: one registry, one set of names.

The series live in core so that the sweepers and the outbox (core code) count what they do
without knowing who serves ``/metrics``. Label values are bounded on purpose: route
templates, methods, status codes, job and channel names - never an id or personal data.

The gauges read from the database (deadline lag, outbox backlog) are refreshed by the
worker after each sweep, not at scrape time, so a scrape never waits on PostgreSQL.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import AsyncAdaptedQueuePool

REGISTRY = CollectorRegistry(auto_describe=True)

# Latency buckets sized for an API whose goal is p99 < 100 ms, with room to see it missed.
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "gridcare_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "gridcare_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and method.",
    ["route", "method"],
    buckets=_LATENCY,
    registry=REGISTRY,
)
DB_POOL_CHECKOUT = Histogram(
    "gridcare_db_pool_checkout_seconds",
    "Time to get a connection from the pool (a wait for a free one, or a new connection).",
    ["process"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0),
    registry=REGISTRY,
)
DB_POOL_WAITS = Counter(
    "gridcare_db_pool_waits",
    "Checkouts that found every pooled connection in use and had to wait or open an overflow one.",
    ["process"],
    registry=REGISTRY,
)
DB_POOL_IN_USE = Gauge(
    "gridcare_db_pool_in_use",
    "Connections checked out of the pool now.",
    ["process"],
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge(
    "gridcare_db_pool_size",
    "Connections the pool keeps (overflow comes on top).",
    ["process"],
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
DEADLINE_LAG = Gauge(
    "gridcare_deadline_lag_seconds",
    "Now minus the due time of the oldest step not yet taken (0 when nothing is overdue).",
    registry=REGISTRY,
    multiprocess_mode="max",
)
DEADLINE_STEPS_FIRED = Counter(
    "gridcare_deadline_steps_fired",
    "Deadline steps taken (each once, across all workers).",
    registry=REGISTRY,
)
OUTBOX_BACKLOG = Gauge(
    "gridcare_outbox_backlog",
    "Outbox messages waiting for delivery.",
    registry=REGISTRY,
    multiprocess_mode="max",
)
OUTBOX_OLDEST_AGE = Gauge(
    "gridcare_outbox_oldest_age_seconds",
    "Age of the oldest undelivered outbox message (0 when none waits).",
    registry=REGISTRY,
    multiprocess_mode="max",
)
WEBHOOK_ATTEMPTS = Counter(
    "gridcare_webhook_attempts",
    "Webhook delivery attempts, by what became of the delivery (delivered, failed, exhausted, gone).",
    ["outcome"],
    registry=REGISTRY,
)
WEBHOOK_DUE = Gauge(
    "gridcare_webhook_deliveries_due",
    "Webhook deliveries due now to enabled endpoints and not yet sent.",
    registry=REGISTRY,
    multiprocess_mode="max",
)
WEBHOOK_LAG = Gauge(
    "gridcare_webhook_lag_seconds",
    "Now minus the due time of the most overdue webhook delivery (0 when none is overdue).",
    registry=REGISTRY,
    multiprocess_mode="max",
)
DELIVERY_FAILURES = Counter(
    "gridcare_notification_delivery_failures",
    "Failed deliveries of outbox messages, by channel and outcome (retry or failed for good).",
    ["channel", "outcome"],
    registry=REGISTRY,
)
JOB_DURATION = Histogram(
    "gridcare_job_duration_seconds",
    "Time a job or sweep took, by name and how it ended (ok or error).",
    ["job", "outcome"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0),
    registry=REGISTRY,
)
JOB_FAILURES = Counter(
    "gridcare_job_failures",
    "Jobs and sweeps that raised, by name.",
    ["job"],
    registry=REGISTRY,
)


def exposition() -> tuple[bytes, str]:
    """The text exposition of every series and its content type.

    With ``PROMETHEUS_MULTIPROC_DIR`` set (several API processes behind one port), the
    processes' files are merged; otherwise this process's registry is read.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        merged = CollectorRegistry()
        MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return generate_latest(merged), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def observe_job(name: str, started: float, *, failed: bool) -> None:
    """Record one run of job ``name`` that started at ``started`` (``time.perf_counter()``)."""
    JOB_DURATION.labels(name, "error" if failed else "ok").observe(time.perf_counter() - started)
    if failed:
        JOB_FAILURES.labels(name).inc()


# --- the connection pool ----------------------------------------------------------------------


class MeasuredPool(AsyncAdaptedQueuePool):
    """The asyncio queue pool, timing each checkout and counting those that found it exhausted.

    SQLAlchemy has no "before checkout" event, so the wait is measured around ``_do_get``.
    """

    process_label = "app"

    def _do_get(self) -> Any:
        exhausted = self.checkedout() >= self.size()
        started = time.perf_counter()
        try:
            return super()._do_get()
        finally:
            DB_POOL_CHECKOUT.labels(self.process_label).observe(time.perf_counter() - started)
            if exhausted:
                DB_POOL_WAITS.labels(self.process_label).inc()


def watch_pool(engine: AsyncEngine, process: str) -> None:
    """Label ``engine``'s pool metrics with ``process`` (api, worker) and publish its size."""
    pool = engine.sync_engine.pool
    if isinstance(pool, MeasuredPool):
        pool.process_label = process
        DB_POOL_SIZE.labels(process).set(pool.size())
        DB_POOL_IN_USE.labels(process).set_function(pool.checkedout)


# --- who may scrape -----------------------------------------------------------------------------


def may_scrape(
    *,
    open_access: bool,
    token: str | None,
    networks: Iterable[str],
    authorization: str | None,
    client_host: str | None,
) -> bool:
    """Whether a scrape is allowed: open in dev/test; else a matching bearer token or an allowed network."""
    if open_access:
        return True
    if token and authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and _same(value.strip(), token):
            return True
    if client_host:
        try:
            address = ipaddress.ip_address(client_host)
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(net, strict=False) for net in networks)
    return False


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())  # constant time: a scraper cannot guess it byte by byte
