"""The report kind's set-based recipients answer exactly what its per-step handler answers.

The sweeper asks ``report_follow_up_many`` once per batch (it shares each audience between
reports of the same team, village or grid); every step of routed, urgent and unrouted
reports must get the same accounts, in the same order, as ``report_follow_up`` gives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.core import clock
from services.core.config import Settings
from services.core.deadlines.models import Deadline
from services.core.deadlines.policy import Policy
from services.core.reports import routing
from tests.api.test_reports import T0, world_at_t0
from tests.apps import shared_session_client
from tests.factories import auth_headers
from tests.report_world import health_need, urgent_risk


@pytest.fixture
async def client(db: AsyncSession, settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with shared_session_client(db, settings, engine=engine, redis=None) as c:
        yield c


async def test_batch_and_per_step_recipients_agree_on_every_step(client: httpx.AsyncClient, db: AsyncSession) -> None:
    world = await world_at_t0(db)
    newcomer = {"name": "李四", "birth_on": "1950-02-03"}
    bodies = [
        (world.sentinel, health_need(world.grid.id, world.resident.id)),
        (world.sentinel, health_need(world.grid.id, world.resident.id)),
        (world.sentinel, urgent_risk(world.grid.id, world.resident.id)),
        (world.bare_sentinel, health_need(world.bare_grid.id, None, new_resident=newcomer)),
    ]
    for sentinel, body in bodies:
        answer = await client.post("/reports", json=body, headers=await auth_headers(client, sentinel))
        assert answer.status_code == 201, answer.text
    clock.freeze(T0 + timedelta(hours=1))
    deadlines = list(await db.scalars(select(Deadline).where(Deadline.kind == routing.KIND)))
    assert len(deadlines) == len(bodies)
    pairs = [(d, step) for d in deadlines for step in Policy.model_validate(d.policy).steps]
    one_by_one = [list(await routing.report_follow_up(db, d, step)) for d, step in pairs]
    assert any(one_by_one), "the world has people to tell"
    assert await routing.report_follow_up_many(db, pairs) == one_by_one


async def test_batch_and_per_step_messages_agree_on_every_step(client: httpx.AsyncClient, db: AsyncSession) -> None:
    """``messages_many`` (one call per sweep batch) renders what ``message`` renders per step, for every
    recipient in both languages, resident names shown to the same readers only."""
    world = await world_at_t0(db)
    newcomer = {"name": "李四", "birth_on": "1950-02-03"}
    bodies = [
        (world.sentinel, health_need(world.grid.id, world.resident.id)),
        (world.sentinel, urgent_risk(world.grid.id, world.resident.id)),
        (world.bare_sentinel, health_need(world.bare_grid.id, None, new_resident=newcomer)),
    ]
    for sentinel, body in bodies:
        answer = await client.post("/reports", json=body, headers=await auth_headers(client, sentinel))
        assert answer.status_code == 201, answer.text
    clock.freeze(T0 + timedelta(hours=1))
    deadlines = list(
        await db.scalars(select(Deadline).where(Deadline.kind.in_([routing.KIND, routing.REPORT_IN_KIND])))
    )
    items = [
        (d, step, list(await routing.report_follow_up(db, d, step)))
        for d in deadlines
        for step in Policy.model_validate(d.policy).steps
    ]
    assert any(recipients for _, _, recipients in items), "the world has people to tell"
    one_by_one = [await routing.message(db, d, step, recipients) for d, step, recipients in items]
    batched = await routing.messages_many(db, items)
    assert batched == one_by_one
    shown = {
        (said.render(lang, user), lang)
        for said, (_, _, recipients) in zip(batched, items, strict=True)
        for user in recipients
        for lang in ("zh", "en")
    }
    assert any("李" in title + body for (title, body), _ in shown), "some reader sees the resident's masked name"
