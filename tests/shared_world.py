"""A world built once per module, and a savepoint per test on top of it.

Several modules build the same multi-domain world in every test (about a hundred rows through the
services). Built once inside a transaction that is never committed, it is the database every test of
the module starts from; each test then works in a savepoint of that transaction, rolled back after it,
so what one test writes never reaches the next, and the order of the tests does not matter. This is
SQLAlchemy's "joining a Session into an external transaction", one level deeper: the outer
transaction per module, a SAVEPOINT per test, and the test's session (``join_transaction_mode=
"create_savepoint"``) nesting its own savepoints inside, so the API's commits only release those.

A module opts in with two fixtures::

    @pytest.fixture(scope="module")
    async def shared(engine: AsyncEngine) -> AsyncIterator[Shared[World]]:
        async with shared_world(engine, build_world) as built:
            yield built

    @pytest.fixture
    async def db(shared: Shared[World]) -> AsyncIterator[AsyncSession]:
        async with savepoint_session(shared) as session:
            yield session

Only for tests that read the world or write it through the test's own session: tests that commit for
real across connections, start processes or need the worker keep their own database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from services.core import clock

World = TypeVar("World")


@dataclass(frozen=True)
class Shared(Generic[World]):
    """The connection holding the module's uncommitted world, and what the builder returned."""

    connection: AsyncConnection
    world: World


def _session(connection: AsyncConnection) -> AsyncSession:
    # As the suite's ``db`` fixture: commits release a savepoint, objects stay readable after them.
    return AsyncSession(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False, autoflush=False
    )


@asynccontextmanager
async def shared_world(
    engine: AsyncEngine, build: Callable[[AsyncSession], Awaitable[World]]
) -> AsyncIterator[Shared[World]]:
    """``build(session)`` once, in a transaction rolled back when the module is done."""
    async with engine.connect() as connection:
        outer = await connection.begin()
        await connection.execute(text("set constraints all immediate"))  # as the ``db`` fixture: never commits
        try:
            session = _session(connection)
            try:
                world = await build(session)
                await session.commit()
            finally:
                await session.close()
                clock.unfreeze()  # a builder that froze time leaves it running, as every test starts
            yield Shared(connection=connection, world=world)
        finally:
            await outer.rollback()


@asynccontextmanager
async def savepoint_session(shared: Shared[World]) -> AsyncIterator[AsyncSession]:
    """A session for one test, in a savepoint of the module's transaction that is rolled back after it."""
    savepoint = await shared.connection.begin_nested()
    session = _session(shared.connection)
    try:
        yield session
    finally:
        await session.close()
        if savepoint.is_active:
            await savepoint.rollback()
