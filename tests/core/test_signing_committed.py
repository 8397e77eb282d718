"""Signings with committed data, in a database of its own: concurrent signings of one resident
(the rolled-back test transaction cannot race two sessions)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from services.core.db import make_engine, make_session_factory, session_scope
from services.core.errors import AlreadyExists
from services.core.security.principal import Grant, Principal
from services.core.security.roles import Role
from services.core.signing import service
from services.core.signing.models import ServicePackage, Signing
from services.core.signing.schemas import SigningCreate, SigningRenew
from services.dev.embedded import drop_database
from tests.conftest import Servers, fresh_database
from tests.factories import (
    make_assignment,
    make_child,
    make_district,
    make_institution,
    make_resident,
    make_team,
    make_user,
)


@pytest.fixture
async def signing_db(servers: Servers) -> AsyncIterator[str]:
    url = await fresh_database(servers, "gridcare_signing")
    yield url
    await drop_database(servers.server_url, url.rsplit("/", 1)[1])


async def test_two_concurrent_signings_of_one_resident_one_wins_one_409(signing_db: str) -> None:
    engine = make_engine(signing_db, pool_size=4)
    factory = make_session_factory(engine)
    try:
        async with session_scope(factory) as db:
            district = await make_district(db)
            town = await make_child(db, district, number=1)
            grid = await make_child(db, await make_child(db, town, number=1), number=1)
            team = await make_team(db, await make_institution(db, town))
            await make_assignment(db, team, grid, starts_at=datetime(2020, 1, 1, tzinfo=UTC))
            residents = [(await make_resident(db, grid)).id for _ in range(3)]
            user = await make_user(db, Role.TEAM_LEADER, town)
            grant = Grant(uuid.uuid4(), Role.TEAM_LEADER, town.id, town.path)
            principal = Principal(user.id, user.username, "person", uuid.uuid4(), (grant,))

        async def sign(resident_id: uuid.UUID, package: ServicePackage) -> str:
            try:
                async with session_scope(factory) as db:
                    body = SigningCreate(team_id=team.id, package=package, starts_on=service.today())
                    await service.create(db, principal, resident_id, body)
                return "created"
            except AlreadyExists:
                return "409"

        for rid in residents:  # several rounds, so both orders of the race get exercised
            outcomes = await asyncio.gather(sign(rid, ServicePackage.BASIC), sign(rid, ServicePackage.ELDERLY))
            assert sorted(outcomes) == ["409", "created"]
        async with session_scope(factory) as db:
            counts = (await db.execute(select(Signing.resident_id, func.count()).group_by(Signing.resident_id))).all()
            assert sorted(n for _, n in counts) == [1, 1, 1]
            first = await db.scalar(select(Signing.id).where(Signing.resident_id == residents[0]))
        assert first is not None

        async def renew() -> str:
            try:
                async with session_scope(factory) as db:
                    await service.renew(db, principal, first, SigningRenew())
                return "created"
            except AlreadyExists:
                return "409"

        assert sorted(await asyncio.gather(renew(), renew())) == ["409", "created"]
    finally:
        await engine.dispose()
