"""The set-based report-in and follow-ups with committed data, in a database of its own: two doctors
with the same If-Match make one report-in (one history row, one inbox item, the report-in clock met
once); the answers built from what was written are what a read returns; a clock the sweeper moved
between the read and the write is met under its lock instead."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.api.app import create_app
from services.core import clock
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.deadlines.models import Deadline
from services.core.lifecycle.models import RecordTransition
from services.core.notifications.models import Notification
from services.core.reports import access
from services.core.reports import service as reports
from services.core.reports.routing import REPORT_IN_KIND
from services.core.reports.schemas import ReportCreate, ReportIn
from services.core.security.principal import Grant, Principal
from services.core.security.roles import Role
from services.dev.embedded import drop_database
from tests.conftest import Servers, fresh_database, make_settings
from tests.factories import TEST_PII, auth_headers
from tests.report_world import ReportWorld, build_report_world, sentinel_principal, urgent_risk


@pytest.fixture
async def committed(servers: Servers) -> AsyncIterator[tuple[str, AsyncEngine, async_sessionmaker[AsyncSession]]]:
    url = await fresh_database(servers, "gridcare_report_in")
    engine = make_engine(url, pool_size=6)
    try:
        yield url, engine, make_session_factory(engine)
    finally:
        await engine.dispose()
        await drop_database(servers.server_url, url.rsplit("/", 1)[1])


async def _world(factory: async_sessionmaker[AsyncSession]) -> ReportWorld:
    async with session_scope(factory) as db:
        return await build_report_world(db, at=clock.now() - timedelta(days=1))


async def _counts(factory: async_sessionmaker[AsyncSession], rid: uuid.UUID, reporter: Any) -> tuple[int, int, Any]:
    async with session_scope(factory) as db:
        moves = await db.scalar(
            select(func.count())
            .select_from(RecordTransition)
            .where(RecordTransition.subject_id == rid, RecordTransition.action == "report_in")
        )
        told = await db.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.subject_id == rid, Notification.kind == "report.reported_in")
            .where(Notification.user_id == reporter.id)
        )
        clock_ = await db.scalar(select(Deadline).where(Deadline.subject_id == rid, Deadline.kind == REPORT_IN_KIND))
        return moves or 0, told or 0, clock_


async def test_two_doctors_reporting_in_with_the_same_version_make_one_report_in(
    committed: tuple[str, AsyncEngine, async_sessionmaker[AsyncSession]], servers: Servers
) -> None:
    url, engine, factory = committed
    world = await _world(factory)
    app = create_app(make_settings(url, servers.redis_url), engine=engine, redis=None)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gridcare.test") as client:
        body = urgent_risk(world.grid.id, world.resident.id)
        submitted = await client.post("/reports", json=body, headers=await auth_headers(client, world.sentinel))
        assert submitted.status_code == 201, submitted.text
        rid = body["id"]
        doctors = [await auth_headers(client, u) | {"If-Match": '"1"'} for u in (world.paired, world.unpaired)]
        answers = await asyncio.gather(*(client.post(f"/reports/{rid}/report-in", json={}, headers=h) for h in doctors))
        assert sorted(a.status_code for a in answers) == [200, 412], [a.text for a in answers]
        won = next(a for a in answers if a.status_code == 200)
        lost = next(a for a in answers if a.status_code == 412)
        assert lost.json()["code"] == "version_mismatch"
        winner = doctors[answers.index(won)]
        read = await client.get(f"/reports/{rid}", headers={"Authorization": winner["Authorization"]})
        # Follow-ups answer the same way: the first moves the report, a later one recorded late sorts first.
        contacts = [{"channel": "phone", "outcome": "reached"}]
        contacts.append({**contacts[0], "contacted_at": submitted.json()["submitted_at"]})
        for version, contact in enumerate(contacts, start=2):
            headers = {"Authorization": winner["Authorization"], "If-Match": f'"{version}"'}
            added = await client.post(f"/reports/{rid}/follow-ups", json=contact, headers=headers)
            assert added.status_code == 201, added.text
            again = await client.get(f"/reports/{rid}", headers={"Authorization": winner["Authorization"]})
            assert added.json() == again.json()
            assert added.headers["etag"] == again.headers["etag"] == f'"{version + 1}"'
    assert won.json() == read.json()  # the answer built from what was written is what a read returns
    assert won.headers["etag"] == read.headers["etag"] == '"2"'
    assert [f["contacted_at"] for f in again.json()["follow_ups"]][0] == submitted.json()["submitted_at"]
    assert again.json()["status"] == "followed_up"
    assert again.json()["follow_up_deadline"]["state"] == "met"
    assert won.json()["report_in_deadline"]["state"] == "met"
    moves, told, clock_ = await _counts(factory, uuid.UUID(rid), world.sentinel)
    assert (moves, told) == (1, 1)
    assert (clock_.state, clock_.next_step_at) == ("met", None)
    assert clock_.met_at is not None


async def test_a_clock_the_sweeper_moved_meanwhile_is_met_under_its_lock(
    committed: tuple[str, AsyncEngine, async_sessionmaker[AsyncSession]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _url, _engine, factory = committed
    world = await _world(factory)
    async with session_scope(factory) as db:
        created = await reports.create(
            db,
            sentinel_principal(world.sentinel.id, world.grid),
            ReportCreate.model_validate(urgent_risk(world.grid.id, world.resident.id)),
            pii=TEST_PII,
        )
    rid = created.report.id
    read_context = reports._change_context

    async def then_the_sweeper_breaches(db: AsyncSession, *args: Any) -> reports.Changed:
        changed = await read_context(db, *args)
        due = changed.clocks[REPORT_IN_KIND].values["due_at"]
        await db.execute(
            update(Deadline)
            .where(Deadline.subject_id == rid, Deadline.kind == REPORT_IN_KIND)
            .values(state="breached", breached_at=due)
        )
        return changed

    monkeypatch.setattr(reports, "_change_context", then_the_sweeper_breaches)
    async with session_scope(factory) as db:
        member = Principal(
            user_id=world.paired.id,
            username="paired",
            kind="person",
            session_id=uuid.uuid4(),
            grants=(Grant(uuid.uuid4(), Role.TEAM_MEMBER, world.town.id, world.town.path),),
        )
        viewer = await access.viewer_for(db, member)
        report, path = await reports.get_in_scope(db, viewer, rid)
        changed = await reports.reporting_in(db, viewer, report, path, ReportIn(), expected_version=1)
        view = await reports.changed_view(db, viewer, changed)
    assert view.model_dump()["report_in_deadline"]["state"] == "breached"  # as meet() leaves a breached clock
    moves, _told, clock_ = await _counts(factory, rid, world.sentinel)
    assert moves == 1
    assert (clock_.state, clock_.next_step_at) == ("breached", None)
    assert clock_.met_at is not None
