"""Helpers the record modules of this package share: a parent row's lock, a row by id or 404, a period's end."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core import periods
from services.core.audit import service as audit
from services.core.errors import NotFound
from services.core.org import repository as org_repository
from services.core.security.principal import Principal
from services.core.teams.schemas import PeriodUpdate

M = TypeVar("M")
P = TypeVar("P", bound=periods.Dated)


async def lock(db: AsyncSession, model: Any, ident: uuid.UUID) -> None:
    """Row lock on a parent record: serialises concurrent period checks for it."""
    await db.execute(select(model.id).where(model.id == ident).with_for_update())


async def get_or_404(db: AsyncSession, model: type[M], ident: uuid.UUID, what: str) -> M:
    """The row of ``model`` with id ``ident``, or 404 naming it ``what``."""
    row = await db.get(model, ident)
    if row is None:
        raise NotFound(f"{what} {ident} not found")
    return row


async def change_end(
    db: AsyncSession,
    principal: Principal,
    row: P,
    data: PeriodUpdate,
    expected_version: int,
    *,
    rules: Sequence[periods.Exclusive],
    unit_id: uuid.UUID,
    action: str,
    lock: Callable[[], Awaitable[object]] | None = None,
    on_end: Callable[[datetime], Awaitable[Sequence[uuid.UUID]]] | None = None,
) -> P:
    """``periods.change_end``, then the audit event ``action`` scoped by the parent's unit ``unit_id``."""
    await periods.change_end(
        db, row, ends_at=data.ends_at, expected_version=expected_version, rules=rules, lock=lock, on_end=on_end
    )
    await audit.record_change(db, principal, action, row, org_path=await org_repository.path_of(db, unit_id))
    return row
