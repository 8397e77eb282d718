"""Sweeper cost per due step for the report kind itself: real reports, their templates, their audiences.

Run: .venv/bin/pytest -q -s tests/perf/test_sweeper_report_kind_perf.py -p no:randomly --override-ini addopts=""

``test_sweeper_throughput_perf`` measures the engine with a test kind whose message reads nothing.
A report's steps say where, what and who (the village and grid, the reporter, the responder, the
team's phone, the resident's masked name for those who may read it): the message reads those. Here
``DUE`` follow-up clocks of ``DUE`` real reports (clones of one report submitted through the service)
are due at one instant; one process sweeps them batch by batch, median of ``ROUNDS`` rounds, in ms
per due step: with set-based messages (``deadline_messages_many``, one call per batch) and without
(the kind's ``message`` per step, what the sweeper did before).
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.core import clock
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.deadlines import kinds, service
from services.core.reports import routing
from services.core.reports import service as reports_service
from services.core.reports.schemas import ReportCreate
from services.dev.embedded import drop_database
from tests.conftest import Servers, fresh_database
from tests.factories import TEST_PII
from tests.report_world import build_report_world, health_need, sentinel_principal

DUE = int(os.environ.get("GRIDCARE_BENCH_DUE", "5000"))  # smaller to profile
ROUNDS = int(os.environ.get("GRIDCARE_BENCH_ROUNDS", "3"))
BATCH = 200
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def report_db(servers: Servers) -> AsyncIterator[tuple[AsyncEngine, uuid.UUID]]:
    """A report world and one report submitted through the service: the template of every clone."""
    url = await fresh_database(servers, "gridcare_sweep_report_perf")
    engine = make_engine(url, pool_size=2)
    clock.freeze(T0 - timedelta(days=1))
    async with session_scope(make_session_factory(engine)) as db:
        world = await build_report_world(db, at=T0 - timedelta(days=1))
    clock.freeze(T0)
    async with session_scope(make_session_factory(engine)) as db:
        body = ReportCreate.model_validate(health_need(world.grid.id, world.resident.id))
        created = await reports_service.create(
            db, sentinel_principal(world.sentinel.id, world.grid), body, pii=TEST_PII
        )
        template = created.report.id
    clock.unfreeze()
    yield engine, template
    await engine.dispose()
    await drop_database(servers.server_url, url.rsplit("/", 1)[1].split("?")[0])


async def columns(engine: AsyncEngine, table: str, *but: str) -> str:
    async with engine.connect() as conn:
        names = (
            await conn.execute(
                text(
                    "select column_name from information_schema.columns where table_name = :t order by ordinal_position"
                ),
                {"t": table},
            )
        ).scalars()
        return ", ".join(n for n in names if n not in but)


async def make_due(engine: AsyncEngine, template: uuid.UUID, reminder_at: datetime) -> None:
    """``DUE`` clones of the template report, each with its follow-up clock's reminder due at ``reminder_at``."""
    report_columns = await columns(engine, "sentinel_report", "id")
    deadline_columns = await columns(engine, "deadline", "id", "subject_id", "started_at", "due_at", "next_step_at")
    started = reminder_at - timedelta(hours=36)
    async with engine.begin() as conn:
        await conn.execute(text("truncate deadline_step, notification, outbox_message, inbox_counter"))
        await conn.execute(text("delete from deadline where subject_id <> :t"), {"t": template})
        await conn.execute(text("update deadline set next_step_at = null where subject_id = :t"), {"t": template})
        await conn.execute(text("delete from sentinel_report where id <> :t"), {"t": template})
        await conn.execute(
            text(
                f"insert into sentinel_report (id, {report_columns}) "  # noqa: S608 - column names from the catalogue
                f"select gen_random_uuid(), {report_columns} from sentinel_report, generate_series(1, :n) "
                "where id = :t"
            ),
            {"t": template, "n": DUE},
        )
        await conn.execute(
            text(
                f"insert into deadline (id, subject_id, started_at, due_at, next_step_at, {deadline_columns}) "  # noqa: S608
                f"select gen_random_uuid(), r.id, :started, cast(:started as timestamptz) + interval '48 hours', :due, "
                f"{', '.join('d.' + c.strip() for c in deadline_columns.split(','))} "
                "from sentinel_report r, deadline d where r.id <> :t and d.subject_id = :t and d.kind = :kind"
            ),
            {"t": template, "started": started, "due": reminder_at, "kind": routing.KIND},
        )
        await conn.execute(text("analyze deadline"))
        await conn.execute(text("analyze sentinel_report"))


@pytest.mark.parametrize("messages", ["set-based messages", "per-step messages"])
async def test_report_kind_cost_per_due_step(
    report_db: tuple[AsyncEngine, uuid.UUID], messages: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, template = report_db
    if messages == "per-step messages":
        monkeypatch.delitem(kinds._MANY_MESSAGES, routing.KIND)  # noqa: SLF001
    factory = make_session_factory(engine)
    reminder_at = T0 + timedelta(days=2)
    per_step, queries = [], []
    for _ in range(ROUNDS):
        await make_due(engine, template, reminder_at)
        clock.freeze(reminder_at)
        start = time.perf_counter()
        while True:
            async with session_scope(factory) as db:
                result = await service.sweep(db, limit=BATCH)
            if result.selected == 0:
                break
        elapsed = time.perf_counter() - start
        async with engine.connect() as conn:
            steps = (await conn.execute(text("select count(*) from deadline_step"))).scalar_one()
            items = (await conn.execute(text("select count(*) from notification"))).scalar_one()
        assert steps >= DUE
        assert items > 0
        per_step.append(elapsed / steps * 1000)
        queries.append((steps, items))
    clock.unfreeze()
    print(f"\nreport kind, {messages}, batches of {BATCH}: {[round(p, 3) for p in per_step]} ms/step")  # noqa: T201
    print(f"steps and inbox items per round: {queries}")  # noqa: T201
    print(f"median {statistics.median(per_step):.3f} ms per due step (goal <= 1 ms)")  # noqa: T201
