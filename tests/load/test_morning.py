"""``gridcare load`` against the test app, briefly: it logs in, drives every kind of client, and what it
counts is what the database holds (correctness only; the figures come from runs against `gridcare api`)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.api.app import create_app
from services.core import clock
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.reports.models import SentinelReport
from services.dev.embedded import drop_database
from services.load.morning import Plan, RssSampler, percentile, run
from tests.conftest import Servers, fresh_database, make_settings
from tests.factories import PASSWORD
from tests.report_world import ReportWorld, build_report_world


@pytest.fixture
async def world_app(servers: Servers) -> AsyncIterator[tuple[ReportWorld, httpx.ASGITransport, AsyncEngine]]:
    url = await fresh_database(servers, "gridcare_load")
    engine = make_engine(url, pool_size=8, pre_ping=False)
    async with session_scope(make_session_factory(engine)) as db:
        world = await build_report_world(db, at=clock.now() - timedelta(days=1))
    app = create_app(make_settings(url, servers.redis_url), engine=engine, redis=None)
    yield world, httpx.ASGITransport(app=app), engine
    await engine.dispose()
    await drop_database(servers.server_url, url.rsplit("/", 1)[1])


def _plan(world: ReportWorld, **over: object) -> Plan:
    values: dict[str, object] = {
        "url": "http://gridcare.test",
        "duration": 300.0,  # a bound only: the clients stop after their rounds, however slow the machine
        "rounds": 6,
        "clients": 6,
        "sentinels": [world.sentinel.username],
        "doctors": [world.paired.username, world.leader.username],
        "phones": [world.paired.username, world.sentinel.username],
        "supervisors": [world.supervisor.username],
        "password": PASSWORD,
        "batch_size": 3,
    }
    values.update(over)
    return Plan(**values)  # type: ignore[arg-type]


async def _count(engine: AsyncEngine, *where: object) -> int:
    async with session_scope(make_session_factory(engine)) as db:
        return int(await db.scalar(select(func.count()).select_from(SentinelReport).where(*where)) or 0)  # type: ignore[arg-type]


async def test_a_mixed_morning_drives_every_kind_of_client_without_errors_and_counts_what_was_stored(
    world_app: tuple[ReportWorld, httpx.ASGITransport, AsyncEngine],
) -> None:
    world, transport, engine = world_app
    report = await run(_plan(world), transport=transport)

    ops = {o.name: o for o in report.ops}
    assert set(ops) >= {
        "submit",
        "submit_batch",
        "report_in",
        "follow_up",
        "inbox_sync",
        "residents_sync",
        "loop_metrics",
    }
    assert report.errors == 0, report.text()
    assert all(o.count > 0 and o.p50_ms <= o.p95_ms <= o.p99_ms for o in ops.values())
    # Everything the tool counts as done is in the database: each submission and each batch item a report,
    # each report-in a report that left ``submitted`` (reports still waiting were submitted late).
    assert await _count(engine) == ops["submit"].count + 3 * ops["submit_batch"].count
    assert await _count(engine, SentinelReport.reported_in_at.is_not(None)) == ops["report_in"].count
    assert await _count(engine, SentinelReport.first_follow_up_at.is_not(None)) == ops["follow_up"].count
    assert "p99 ms" in report.text()


async def test_report_in_alone_takes_each_prefilled_report_once(
    world_app: tuple[ReportWorld, httpx.ASGITransport, AsyncEngine],
) -> None:
    world, transport, engine = world_app
    report = await run(_plan(world, mix="report-in", clients=4, prefill=12, rounds=None), transport=transport)

    (op,) = report.ops
    assert (op.name, op.count, op.errors) == ("report_in", 12, 0)  # the queue ran dry: the clients stopped
    assert report.seconds < 300.0
    assert await _count(engine, SentinelReport.reported_in_at.is_not(None)) == 12


async def test_inbox_sync_alone_pages_through_the_inbox(
    world_app: tuple[ReportWorld, httpx.ASGITransport, AsyncEngine],
) -> None:
    world, transport, _ = world_app
    await run(_plan(world, mix="submit", clients=2, rounds=3), transport=transport)  # something to sync
    report = await run(_plan(world, mix="inbox", clients=3, rounds=3), transport=transport)
    assert [(o.name, o.count, o.errors) for o in report.ops] == [("inbox_sync", 9, 0)]


async def test_an_open_loop_run_offers_its_rate_and_says_so(
    world_app: tuple[ReportWorld, httpx.ASGITransport, AsyncEngine],
) -> None:
    world, transport, engine = world_app
    before = await _count(engine)
    # Four phones each due every 4 / 40 = 0.1 s: twelve submissions spread over about 0.3 s, not at once.
    report = await run(_plan(world, mix="submit", clients=4, rounds=3, rate=40.0), transport=transport)
    assert [(o.name, o.count, o.errors) for o in report.ops] == [("submit", 12, 0)]
    assert report.seconds >= 0.2
    assert "40/s offered (open loop)" in report.text()
    assert await _count(engine) == before + 12


def test_memory_and_cpu_are_read_from_proc_with_children() -> None:
    assert RssSampler.rss_kb(os.getpid()) > 1024
    assert RssSampler.cpu_seconds(os.getpid()) > 0
    assert RssSampler.rss_kb(2**22 + 7) == 0  # a process that is gone counts nothing
    assert RssSampler.cpu_seconds(2**22 + 7) == 0


def test_percentiles_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50.0, 95.0, 99.0)
    assert percentile([], 99) == 0.0
