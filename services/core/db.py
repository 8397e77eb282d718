"""Engine, sessions and the unit of work.

Services and repositories only ``flush()``; the caller that opened the unit of work
(one per API request, one per job) commits or rolls back. That keeps every request
all-or-nothing, which is what "nothing is half-written" means in practice.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, DateTime, MetaData
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import NullPool

from services.core import clock
from services.core.jobs import drop_job_intents
from services.core.metrics import MeasuredPool

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with the project's constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}


def new_id() -> uuid.UUID:
    """A random UUID; used for every primary key a client may also choose."""
    return uuid.uuid4()


class TimestampMixin:
    """``created_at``/``updated_at`` taken from the injected clock, never the DB's now()."""

    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


def async_url(url: str) -> str:
    """Accept ``postgresql://`` URLs too and point them at asyncpg."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("database URL must be a postgresql:// URL")


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    null_pool: bool = False,
    application_name: str | None = None,
    pre_ping: bool = True,
) -> AsyncEngine:
    """An asyncpg engine; ``null_pool`` for code that hops between event loops.

    ``application_name`` shows in ``pg_stat_activity``, so an operator (or a test) can count
    one process kind's connections.
    """
    connect_args = {"server_settings": {"application_name": application_name}} if application_name else {}
    if null_pool:
        return create_async_engine(async_url(url), poolclass=NullPool, hide_parameters=True, connect_args=connect_args)
    # hide_parameters: a failed statement's values (names, addresses, ciphertext) never reach a log.
    return create_async_engine(
        async_url(url),
        poolclass=MeasuredPool,  # the asyncio queue pool, timed for /metrics
        pool_size=pool_size,
        max_overflow=pool_size,
        # With asyncpg a pre-ping is three round trips (BEGIN, a query, ROLLBACK) per checkout: the API
        # turns it off (``pre_ping=False``) and relies on the pool invalidating every older connection at
        # the first disconnect error, so a database restart costs each API process one 503, not a ping
        # on every request.
        pool_pre_ping=pre_ping,
        hide_parameters=True,
        connect_args=connect_args,
    )


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit (responses are built after it)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def unit_of_work(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """Commit when the block succeeds, roll back when it raises.

    An error that sets ``keeps_changes`` (a revoked refresh-token family, say) is
    committed first: the refusal itself is a change that must stick.
    """
    try:
        yield session
    except BaseException as exc:
        if getattr(exc, "keeps_changes", False):
            await session.commit()
        else:
            drop_job_intents(session)  # rolled back: nothing to start
            await session.rollback()
        raise
    else:
        await session.commit()


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A new session in its own unit of work (the worker and the CLI use this)."""
    async with factory() as session, unit_of_work(session):
        yield session


# ---------------------------------------------------------------- hot statements, on the DB-API connection

# ``:name`` outside a ``::type`` cast.
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")


class Statement:
    """A hand-written statement of a hot path, run by :func:`fetch` on the session's own DB-API connection.

    SQLAlchemy's Core execution (compiled cache, parameter processing, result metadata) costs about
    0.1 ms of CPU per statement over the driver's own 0.02 ms: a third of a millisecond in a report
    submission's three statements. ``text()`` stays the way for everything else; a ``Statement`` is for a
    path measured to need it. ``:name`` parameters are numbered once (``$1``...) as asyncpg wants them.
    """

    __slots__ = ("names", "sql")

    def __init__(self, sql: str) -> None:
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in names:
                names.append(name)
            return f"${names.index(name) + 1}"

        self.sql = _PARAM.sub(number, sql)
        self.names = tuple(names)


async def fetch(db: AsyncSession, statement: Statement, params: Mapping[str, Any]) -> list[Any]:
    """Run ``statement`` in the session's transaction (begun as a DB-API cursor begins it); its rows, each
    with its columns as attributes (``row.grid_id``, as a SQLAlchemy ``Row`` reads).

    What SQLAlchemy would do around it still happens: ``before/after_cursor_execute`` listeners are told
    (tracing, the benchmarks' statement counts), errors arrive as ``sqlalchemy.exc`` errors (so the API's
    handlers answer 409/422/503 as for any statement), and a connection found closed is invalidated.
    """
    args = tuple(params[name] for name in statement.names)
    return await db.run_sync(_fetch, statement.sql, args)


async def fetch_one(db: AsyncSession, statement: Statement, params: Mapping[str, Any]) -> Any:
    """The one row ``statement`` answers (``LookupError`` when it answers none or several)."""
    rows = await fetch(db, statement, params)
    if len(rows) != 1:
        raise LookupError(f"expected one row, got {len(rows)}")
    return rows[0]


def _fetch(session: Session, sql: str, args: tuple[Any, ...]) -> list[SimpleNamespace]:
    connection: Connection = session.connection()
    dbapi_connection: Any = connection.connection.dbapi_connection
    dialect = connection.dialect
    dispatch = connection.dispatch
    cursor = dbapi_connection.cursor()
    try:
        if dispatch.before_cursor_execute:
            dispatch.before_cursor_execute(connection, cursor, sql, args, None, False)
        cursor.execute(sql, args)
        rows = [SimpleNamespace(**dict(row.items())) for row in cursor.fetchall()] if cursor.description else []
        if dispatch.after_cursor_execute:
            dispatch.after_cursor_execute(connection, cursor, sql, args, None, False)
        return rows
    except dialect.loaded_dbapi.Error as error:
        invalidated = dialect.is_disconnect(error, dbapi_connection, cursor)
        if invalidated:
            connection.invalidate(error)
        raise DBAPIError.instance(
            sql,
            args,
            error,
            dialect.loaded_dbapi.Error,
            hide_parameters=True,
            connection_invalidated=invalidated,
            dialect=dialect,
        ) from error
    finally:
        cursor.close()
