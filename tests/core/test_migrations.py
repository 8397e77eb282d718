"""Alembic is the only way the schema is made: models and migrations agree, and downgrade works."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from services.core.db import make_engine
from services.core.models import Base
from services.core.system.service import alembic_config
from services.dev.embedded import drop_database
from tests.conftest import Servers, fresh_database


async def test_models_and_migrations_do_not_drift(engine: AsyncEngine) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == [], "models differ from migrations; write a migration:\n" + "\n".join(map(str, differences))


async def test_downgrade_to_base_and_back(servers: Servers) -> None:
    url = await fresh_database(servers, "gridcare_migrate")
    try:
        cfg = alembic_config(url)
        await asyncio.to_thread(command.downgrade, cfg, "base")
        engine = make_engine(url, null_pool=True)
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: c.dialect.get_table_names(c))
        await engine.dispose()
        assert set(tables) <= {"alembic_version"}
        await asyncio.to_thread(command.upgrade, cfg, "head")
    finally:
        await drop_database(servers.server_url, url.rsplit("/", 1)[1].split("?")[0])
