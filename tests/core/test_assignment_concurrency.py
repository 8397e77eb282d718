"""Two writers assigning one grid at once: the org-unit row lock lets only one through.

Needs committed data and two real connections, so it runs in a database of its own.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from services.core.assignments import service
from services.core.assignments.errors import AssignmentOverlap
from services.core.assignments.models import Responsibility
from services.core.assignments.schemas import ResponsibilityCreate
from services.core.db import make_engine, make_session_factory
from services.core.security.principal import Grant, Principal
from services.core.security.roles import Role
from services.dev.embedded import drop_database
from tests.conftest import Servers, fresh_database
from tests.factories import make_child, make_district, make_institution, make_team

T0 = datetime(2026, 3, 1, tzinfo=UTC)


async def test_two_concurrent_assignments_of_one_grid_cannot_both_succeed(servers: Servers) -> None:
    url = await fresh_database(servers, "gridcare_lock")
    engine = make_engine(url, pool_size=2)
    sessions = make_session_factory(engine)
    try:
        async with sessions() as setup:
            district = await make_district(setup)
            town = await make_child(setup, district, number=1)
            grid = await make_child(setup, await make_child(setup, town, number=1), number=1)
            institution = await make_institution(setup, town)
            team_1, team_2 = await make_team(setup, institution), await make_team(setup, institution)
            admin = Principal(
                user_id=uuid.uuid4(),
                username="admin",
                kind="person",
                session_id=uuid.uuid4(),
                grants=(
                    Grant(id=uuid.uuid4(), role=Role.DISTRICT_ADMIN, org_unit_id=district.id, org_path=district.path),
                ),
            )
            grid_id = grid.id
            await setup.commit()

        async with sessions() as first, sessions() as second:
            await service.assign_team(
                first, principal=admin, data=ResponsibilityCreate(team_id=team_1.id, org_unit_id=grid_id, starts_at=T0)
            )
            # The first writer holds the grid's row lock until it commits: the second must wait ...
            racing = asyncio.create_task(
                service.assign_team(
                    second,
                    principal=admin,
                    data=ResponsibilityCreate(team_id=team_2.id, org_unit_id=grid_id, starts_at=T0),
                )
            )
            await asyncio.sleep(0.3)
            assert not racing.done(), "the second writer did not wait for the first"
            await first.commit()
            # ... and, once it may look, it sees the committed assignment and is refused.
            with pytest.raises(AssignmentOverlap):
                await racing
            await second.rollback()

        async with sessions() as check:
            count = await check.scalar(select(func.count()).select_from(Responsibility))
            assert count == 1
    finally:
        await engine.dispose()
        await drop_database(servers.server_url, url.rsplit("/", 1)[1].split("?")[0])
