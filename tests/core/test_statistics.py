"""With autovacuum off, the worker keeps the planner's statistics: a table that grew is analyzed."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.core.db import make_session_factory, session_scope
from services.core.system import statistics


async def test_a_table_that_grew_since_its_last_analyze_is_analyzed_and_then_left_alone(engine: AsyncEngine) -> None:
    table = f"stats_probe_{uuid.uuid4().hex[:8]}"
    factory = make_session_factory(engine)
    try:
        async with session_scope(factory) as db:
            await db.execute(text(f"create table {table} (n int)"))
            await db.execute(text(f"insert into {table} select generate_series(1, 500)"))
            await db.execute(text("select pg_stat_force_next_flush()"))  # the counts reach the view at commit
        async with session_scope(factory) as db:
            assert f"public.{table}" in await statistics.refresh_stale(db, limit=1000)
            await db.execute(text("select pg_stat_force_next_flush()"))
        async with session_scope(factory) as db:
            analyzed = await db.scalar(
                text("select last_analyze is not null from pg_stat_user_tables where relname = :t"), {"t": table}
            )
            assert analyzed
            assert f"public.{table}" not in await statistics.refresh_stale(db, limit=1000), "fresh now"
            assert isinstance(await statistics.autovacuum_on(db), bool)
    finally:
        async with session_scope(factory) as db:
            await db.execute(text(f"drop table if exists {table}"))
