"""Helpers the record modules of this package share: a parent row's lock, a row by id or 404."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.errors import NotFound

M = TypeVar("M")


async def lock(db: AsyncSession, model: Any, ident: uuid.UUID) -> None:
    """Row lock on a parent record: serialises concurrent period checks for it."""
    await db.execute(select(model.id).where(model.id == ident).with_for_update())


async def get_or_404(db: AsyncSession, model: type[M], ident: uuid.UUID, what: str) -> M:
    """The row of ``model`` with id ``ident``, or 404 naming it ``what``."""
    row = await db.get(model, ident)
    if row is None:
        raise NotFound(f"{what} {ident} not found")
    return row
