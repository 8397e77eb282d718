"""The duty checks with committed data, in a database of their own: two workers running every check at the
same moment, then again, tell each subject once (the ``duty_notice`` key; no Redis involved)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.core import clock
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.duties.models import DutyNotice
from services.core.notifications.models import Notification
from services.core.notifications.templates import CHINA_TIME
from services.dev.embedded import drop_database
from services.worker.jobs.duties import check
from services.worker.settings import SWEEPS
from tests.conftest import Servers, fresh_database, make_settings
from tests.duty_world import build_duty_world
from tests.factories import make_resident, make_signing


@pytest.fixture
async def committed(servers: Servers) -> AsyncIterator[tuple[str, AsyncEngine, async_sessionmaker[AsyncSession]]]:
    url = await fresh_database(servers, "gridcare_duties")
    engine = make_engine(url, pool_size=8)
    try:
        yield url, engine, make_session_factory(engine)
    finally:
        await engine.dispose()
        await drop_database(servers.server_url, url.rsplit("/", 1)[1])


async def test_two_workers_checking_at_once_and_a_rerun_tell_each_leader_steward_member_and_town_once(
    committed: tuple[str, AsyncEngine, async_sessionmaker[AsyncSession]], servers: Servers
) -> None:
    url, _, factory = committed
    async with session_scope(factory) as db:
        w = await build_duty_world(db, at=datetime(2026, 9, 20, 9, tzinfo=CHINA_TIME))
        resident = await make_resident(db, w.grid, name="李四海")
        await make_signing(db, resident, w.team_a, signed_by=w.admin.id, starts_on=date(2026, 9, 20))
    # 1 December, China midnight: November had no work day (both teams), the week of 23-29 November no
    # livestream (both district hospitals), team A's signed resident was not reached this quarter (its
    # leader and member), and neither the roster (10 July) nor the annual summary (30 November) was handed in.
    clock.freeze(datetime(2026, 12, 1, 0, 0, tzinfo=CHINA_TIME))
    ctx: Any = {"session_factory": factory, "settings": make_settings(url, servers.redis_url)}
    first = await asyncio.gather(check(ctx), check(ctx))
    again = await check(ctx)
    told = {
        name: sum(run.get(name, 0) for run in first) for name in ("work_days", "livestreams", "contacts", "due_dates")
    }
    # due dates: the administrator, both towns' supervisors and the town's health-centre steward, per document
    assert told == {"work_days": 2, "livestreams": 2, "contacts": 2, "due_dates": 8}, first
    assert all(again[name] == 0 for name in told), again
    async with session_scope(factory) as db:
        assert await db.scalar(select(func.count()).select_from(DutyNotice)) == 14
        per_user = await db.execute(
            select(Notification.user_id, Notification.kind, func.count())
            .where(Notification.kind.like("duty.%"))
            .group_by(Notification.user_id, Notification.kind)
        )
        counts = {(u, k): n for u, k, n in per_user}
    assert set(counts.values()) == {1}, counts
    assert counts[(w.leader_a.id, "duty.work_day")] == counts[(w.leader_b.id, "duty.work_day")] == 1
    assert counts[(w.member_a.id, "duty.quarterly_contact")] == 1
    assert counts[(w.admin.id, "duty.annual_summary")] == counts[(w.admin.id, "duty.roster")] == 1
    assert counts[(w.other_supervisor.id, "duty.annual_summary")] == 1


def test_the_duty_checks_run_on_the_workers_own_timer_not_on_redis() -> None:
    assert [s.interval_setting for s in SWEEPS if s.task == "duties.check"] == ["duty_check_seconds"]
