"""Set-based writing for the roster import: the few statements that replace a query per record.

The first import of a district creates tens of thousands of records (a district of 3,000 grids:
about 25,000), which one core service call per record made take minutes. These helpers let
``apply.py`` check the same rules a kind at a time — scope by the repositories' own statements
with an ``IN`` list, overlapping periods with one query per rule, parent rows locked in one
ordered ``FOR UPDATE`` — and write each kind with one multi-row INSERT plus one for its audit
events (the rows and details ``audit.record_change`` would write, in the same transaction).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.core import clock, periods
from services.core.audit.models import AuditEvent
from services.core.db import Base
from services.core.logging import current_request_id
from services.core.security.principal import Principal

CHUNK = 5_000  # ids per IN list: well under PostgreSQL's 32,767 bind parameters


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    """``values`` in slices of ``size``."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


async def ids_in(
    db: AsyncSession, stmt: Select[Any], column: InstrumentedAttribute[Any], ids: Iterable[Any]
) -> set[Any]:
    """Which of ``ids`` the scoped statement ``stmt`` (a repository's ``readable``) keeps: one query per chunk."""
    wanted = sorted(set(ids), key=str)
    found: set[Any] = set()
    for part in chunks(wanted):
        found.update((await db.scalars(stmt.with_only_columns(column).where(column.in_(part)))).all())
    return found


async def lock(db: AsyncSession, column: InstrumentedAttribute[uuid.UUID], ids: Iterable[uuid.UUID]) -> None:
    """Row locks on the parents of period records (units, teams), taken in id order so two importers
    (or an importer and an API call) never wait on each other in a cycle: the per-record services'
    lock, held for the whole kind, so check-then-insert stays one step."""
    wanted = sorted(set(ids))
    model = column.class_
    for part in chunks(wanted):
        await db.execute(select(column).where(column.in_(part)).order_by(column).with_for_update(of=model))


async def overlapping(
    db: AsyncSession,
    model: Any,
    key: InstrumentedAttribute[Any],
    keys: Iterable[Any],
    *,
    starts_at: datetime,
    **where: Any,
) -> list[Any]:
    """Rows of ``model`` whose ``key`` is one of ``keys`` (and columns equal ``where``) and whose period
    runs into ``[starts_at, ...)``: every row a new open-ended period from ``starts_at`` would overlap."""
    wanted = sorted(set(keys), key=str)
    conditions: list[ColumnElement[bool]] = [getattr(model, name) == value for name, value in where.items()]
    rows: list[Any] = []
    for part in chunks(wanted):
        stmt = select(model).where(key.in_(part), periods.overlapping(model, starts_at, None), *conditions)
        rows += (await db.scalars(stmt.order_by(model.starts_at))).all()
    return rows


@cache
def _columns(model: type[Base]) -> tuple[str, ...]:
    """The mapped column attribute names of ``model`` (inspected once, not per row)."""
    return tuple(attr.key for attr in inspect(model).column_attrs)


def values(record: Base, at: datetime) -> dict[str, Any]:
    """The column values of a transient ``record`` as an INSERT row (timestamps and version filled in)."""
    state = record.__dict__  # a transient instance: every value set is here, unset ones are absent
    row = {key: state.get(key) for key in _columns(type(record))}
    for name, default in (("created_at", at), ("updated_at", at), ("version", 1)):
        if name in row and row[name] is None:
            row[name] = default
    return row


class Writer:
    """Records of one import, inserted a kind at a time, each with its audit event."""

    def __init__(self, db: AsyncSession, principal: Principal, at: datetime) -> None:
        self.db = db
        self.principal = principal
        self.at = at
        self.request_id = current_request_id()

    async def insert(self, records: Sequence[Base], audits: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        """INSERT ``records`` (one model) and, per record, the audit event ``(action, org_path, details)``
        that ``audit.record_change`` would append for it."""
        if not records:
            return
        model, now = type(records[0]), clock.now()
        table = cast(Table, model.__table__)  # Core, not the ORM's bulk path: the rows are complete
        for part in chunks(list(records), 1_000):
            await self.db.execute(insert(table), [values(r, now) for r in part])
        events = [
            {
                "occurred_at": now,
                "actor_id": self.principal.user_id,
                "action": action,
                "subject_type": action.split(".")[0],
                "subject_id": record.id,  # type: ignore[attr-defined]
                "org_path": org_path,
                "request_id": self.request_id,
                "details": {k: str(v) for k, v in details.items()},
            }
            for record, (action, org_path, details) in zip(records, audits, strict=True)
        ]
        for part in chunks(events, 1_000):
            await self.db.execute(insert(cast(Table, AuditEvent.__table__)), list(part))
