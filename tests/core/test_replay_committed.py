"""Ten identical creates at once, each in its own transaction: one record, one 201, nine 200.

Retries race with the original whenever a mobile app or a HIS retries on a timeout; a
loser must find the winner's row and answer it, never a 409 about itself. Needs committed
data and real connections, so it runs in a database of its own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.api.app import create_app
from services.core.assignments import service as assignments
from services.core.assignments.models import Responsibility
from services.core.assignments.schemas import ResponsibilityCreate
from services.core.db import make_engine, make_session_factory, session_scope
from services.core.errors import DomainError
from services.core.org import service as org
from services.core.org.models import OrgUnit
from services.core.org.schemas import OrgUnitCreate
from services.core.residents import service as residents
from services.core.residents.models import Resident
from services.core.residents.schemas import ResidentCreate
from services.core.security.principal import Grant, Principal
from services.core.security.roles import Role
from services.core.teams import members as member_service
from services.core.teams.models import TeamMember
from services.core.teams.schemas import MemberCreate
from services.dev.embedded import drop_database
from tests.conftest import Servers, fresh_database, make_settings
from tests.factories import (
    TEST_PII,
    auth_headers,
    make_child,
    make_district,
    make_institution,
    make_staff,
    make_team,
    make_user,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)
RACERS = 10
ONE_CREATED = {"created": 1, "replayed": RACERS - 1}


@dataclass
class World:
    url: str
    engine: AsyncEngine
    user: Any
    factory: async_sessionmaker[AsyncSession]
    admin: Principal
    town_id: uuid.UUID
    grid_id: uuid.UUID
    team_id: uuid.UUID
    staff_id: uuid.UUID


@pytest.fixture
async def world(servers: Servers) -> AsyncIterator[World]:
    url = await fresh_database(servers, "gridcare_replay")
    engine: AsyncEngine = make_engine(url, pool_size=RACERS + 2)
    factory = make_session_factory(engine)
    try:
        async with session_scope(factory) as db:
            district = await make_district(db)
            town = await make_child(db, district, number=1)
            grid = await make_child(db, await make_child(db, town, number=1), number=1)
            institution = await make_institution(db, town)
            team = await make_team(db, institution)
            staff = await make_staff(db, institution)
            user = await make_user(db, Role.DISTRICT_ADMIN, district)  # Idempotency-Keys belong to an account
            admin = Principal(
                user_id=user.id,
                username="admin",
                kind="person",
                session_id=uuid.uuid4(),
                grants=(Grant(uuid.uuid4(), Role.DISTRICT_ADMIN, district.id, district.path),),
            )
            ids = (town.id, grid.id, team.id, staff.id)
        yield World(url, engine, user, factory, admin, *ids)
    finally:
        await engine.dispose()
        await drop_database(servers.server_url, url.rsplit("/", 1)[1].split("?")[0])


async def _race(world: World, create: Callable[[AsyncSession], Awaitable[bool]]) -> list[object]:
    """Run ``create`` ``RACERS`` times at once, each in its own committed unit of work."""
    start = asyncio.Event()

    async def one() -> bool:
        async with session_scope(world.factory) as db:
            await start.wait()
            return await create(db)

    tasks = [asyncio.create_task(one()) for _ in range(RACERS)]
    await asyncio.sleep(0)
    start.set()
    return list(await asyncio.gather(*tasks, return_exceptions=True))


def _outcomes(results: list[object]) -> dict[str, int]:
    """How many answered 201 (created), 200 (replayed) or failed, by problem code or exception type."""

    def outcome(r: object) -> str:
        if isinstance(r, DomainError):
            return r.code
        if isinstance(r, BaseException):
            return type(r).__name__
        return "created" if r else "replayed"

    return dict(Counter(outcome(r) for r in results))


async def _count(world: World, model: Any, ident: uuid.UUID) -> int:
    async with world.factory() as db:
        return int(await db.scalar(select(func.count()).select_from(model).where(model.id == ident)) or 0)


async def test_ten_concurrent_identical_memberships_make_one_record_one_created_nine_replays(world: World) -> None:
    body = MemberCreate(id=uuid.uuid4(), person_id=world.staff_id, role="leader", starts_at=T0)

    async def create(db: AsyncSession) -> bool:
        return (await member_service.add_member(db, principal=world.admin, team_id=world.team_id, data=body))[1]

    assert _outcomes(await _race(world, create)) == ONE_CREATED
    assert await _count(world, TeamMember, body.id) == 1  # type: ignore[arg-type]


async def test_ten_concurrent_identical_assignments_make_one_record_one_created_nine_replays(world: World) -> None:
    body = ResponsibilityCreate(id=uuid.uuid4(), team_id=world.team_id, org_unit_id=world.grid_id, starts_at=T0)

    async def create(db: AsyncSession) -> bool:
        return (await assignments.assign_team(db, principal=world.admin, data=body))[1]

    assert _outcomes(await _race(world, create)) == ONE_CREATED
    assert await _count(world, Responsibility, body.id) == 1  # type: ignore[arg-type]


async def test_ten_concurrent_identical_org_units_make_one_record_one_created_nine_replays(world: World) -> None:
    body = OrgUnitCreate(id=uuid.uuid4(), parent_id=world.town_id, code="500112001002", name="新村")

    async def create(db: AsyncSession) -> bool:
        return (await org.create(db, world.admin, body))[1]

    assert _outcomes(await _race(world, create)) == ONE_CREATED
    assert await _count(world, OrgUnit, body.id) == 1  # type: ignore[arg-type]


async def test_ten_concurrent_identical_residents_make_one_record_one_created_nine_replays(world: World) -> None:
    body = ResidentCreate(id=uuid.uuid4(), grid_id=world.grid_id, name="张三", sex="male", birth_on=date(1980, 5, 17))

    async def create(db: AsyncSession) -> bool:
        return (await residents.create(db, world.admin, body, pii=TEST_PII)).created

    assert _outcomes(await _race(world, create)) == ONE_CREATED
    assert await _count(world, Resident, body.id) == 1  # type: ignore[arg-type]


async def test_ten_concurrent_creates_with_one_idempotency_key_make_one_resident(world: World) -> None:
    body = ResidentCreate(grid_id=world.grid_id, name="李四", sex="female", birth_on=date(1975, 1, 2))

    async def create(db: AsyncSession) -> bool:
        return (await residents.create(db, world.admin, body, pii=TEST_PII, idempotency_key="retry-1")).created

    assert _outcomes(await _race(world, create)) == ONE_CREATED
    async with world.factory() as db:
        assert await db.scalar(select(func.count()).select_from(Resident).where(Resident.name == "李四")) == 1


async def test_concurrent_creates_with_one_id_and_different_bodies_make_one_record_and_conflicts(
    world: World,
) -> None:
    ident = uuid.uuid4()

    async def create(db: AsyncSession, role: str) -> bool:
        body = MemberCreate(id=ident, person_id=world.staff_id, role=role, starts_at=T0)
        return (await member_service.add_member(db, principal=world.admin, team_id=world.team_id, data=body)).created

    start = asyncio.Event()

    async def one(role: str) -> bool:
        async with session_scope(world.factory) as db:
            await start.wait()
            return await create(db, role)

    tasks = [asyncio.create_task(one("leader" if i % 2 else "member")) for i in range(RACERS)]
    await asyncio.sleep(0)
    start.set()
    outcomes = _outcomes(list(await asyncio.gather(*tasks, return_exceptions=True)))
    # The first committed body wins; its twins replay, the other body is a conflict naming the id.
    assert outcomes.get("created") == 1
    assert outcomes.get("replayed") == RACERS // 2 - 1
    assert outcomes.get("conflict") == RACERS // 2
    assert await _count(world, TeamMember, ident) == 1


async def test_ten_concurrent_identical_posts_answer_one_201_and_nine_200(world: World, servers: Servers) -> None:
    app = create_app(make_settings(world.url, servers.redis_url), engine=world.engine, redis=None)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gridcare.test") as client:
        headers = await auth_headers(client, world.user)
        member = {
            "id": str(uuid.uuid4()),
            "person_id": str(world.staff_id),
            "role": "leader",
            "starts_at": T0.isoformat(),
        }
        assignment = {"id": str(uuid.uuid4()), "team_id": str(world.team_id), "org_unit_id": str(world.grid_id)}
        for path, body in ((f"/teams/{world.team_id}/members", member), ("/assignments", assignment)):
            responses = await asyncio.gather(*(client.post(path, json=body, headers=headers) for _ in range(RACERS)))
            statuses = sorted(r.status_code for r in responses)
            assert statuses == [200] * (RACERS - 1) + [201], [r.text for r in responses if r.status_code >= 300]
            assert {r.json()["id"] for r in responses} == {body["id"]}
