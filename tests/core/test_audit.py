"""The audit trail is append-only: the database itself refuses to rewrite it."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from services.core.audit import service as audit


@pytest.mark.parametrize(
    "statement",
    ["update audit_event set action = 'forged'", "delete from audit_event", "truncate audit_event"],
)
async def test_database_refuses_to_rewrite_the_audit_trail(db: AsyncSession, statement: str) -> None:
    await audit.record(db, actor_id=None, action="test.event", subject_type="test", subject_id=None, org_path=None)
    savepoint = await db.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        await db.execute(text(statement))
    await savepoint.rollback()
    assert await db.scalar(text("select count(*) from audit_event where action = 'test.event'")) == 1
