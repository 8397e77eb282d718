"""Key rotation over every sealed column: re-encrypt under the newest key, and see what still needs an old one.

Both walk the ``sealed()`` registry (``core.security.sealed``), table by table, so a domain
never writes its own rotation. Per table: keyset by the primary key over the rows still
holding an older key version; each batch is its own transaction; each value is rewritten
only if its ciphertext is still the one read (compare-and-set), so a concurrent edit is
never overwritten. Old key versions keep decrypting throughout: no downtime, and an
interrupted run is simply run again. Blind indexes (their own key) and version columns do
not move, so neither If-Match tokens nor the delta sync see a change.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, func, or_, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core.db import Base, session_scope
from services.core.security.pii import PiiCipher, PiiKeyError, key_version
from services.core.security.sealed import SealedField, registered, unregistered_columns


@dataclass
class RotationReport:
    """Rows found holding an older key, values re-encrypted, values left because they changed meanwhile."""

    scanned: int = 0
    rewritten: int = 0
    skipped_concurrent: int = 0


def _version(column: ColumnElement[Any]) -> ColumnElement[int]:
    """The key version in a ciphertext's first two bytes (see ``pii``), in SQL."""
    return func.get_byte(column, 0) * 256 + func.get_byte(column, 1)


def _by_table(fields: Iterable[SealedField]) -> list[tuple[Table, list[SealedField]]]:
    ordered = sorted(fields, key=lambda f: f.name)
    return [(table, list(group)) for table, group in groupby(ordered, key=lambda f: f.table)]


def _refuse_undeclared() -> None:
    """Rotating only part of the data and then retiring a key would lose the rest: refuse instead."""
    missing = unregistered_columns(Base.metadata)
    if missing:
        raise PiiKeyError(f"encrypted columns not declared with sealed(): {', '.join(missing)}")


async def rotate(
    factory: async_sessionmaker[AsyncSession],
    pii: PiiCipher,
    *,
    batch_size: int = 1000,
    fields: Sequence[SealedField] | None = None,
) -> RotationReport:
    """Bring every sealed value (or those of ``fields``) to the newest key version."""
    if fields is None:
        _refuse_undeclared()
    report = RotationReport()
    for table, group in _by_table(registered() if fields is None else fields):
        await _rotate_table(factory, pii, table, group, batch_size=batch_size, report=report)
    return report


async def _rotate_table(
    factory: async_sessionmaker[AsyncSession],
    pii: PiiCipher,
    table: Table,
    fields: list[SealedField],
    *,
    batch_size: int,
    report: RotationReport,
) -> None:
    newest = pii.newest
    key = fields[0].key
    stale = or_(*(and_(f.ciphertext.is_not(None), _version(f.ciphertext) != newest) for f in fields))
    after = uuid.UUID(int=0)
    while True:
        async with session_scope(factory) as db:
            rows = (
                await db.execute(
                    select(key, *(f.ciphertext for f in fields))
                    .where(key > after, stale)
                    .order_by(key)
                    .limit(batch_size)
                )
            ).all()
            if not rows:
                return
            for row_id, *blobs in rows:
                report.scanned += 1
                for field, blob in zip(fields, blobs, strict=True):
                    if blob is None or key_version(blob) == newest:
                        continue
                    fresh = field.seal(pii, row_id, field.open(pii, row_id, blob))
                    result = await db.execute(
                        update(table).where(key == row_id, field.ciphertext == blob).values({field.column: fresh})
                    )
                    if getattr(result, "rowcount", 0) == 1:
                        report.rewritten += 1
                    else:
                        report.skipped_concurrent += 1
            after = rows[-1][0]


async def versions_in_use(db: AsyncSession, fields: Sequence[SealedField] | None = None) -> dict[int, int]:
    """Per key version, how many rows still hold a value sealed with it (a key at 0 may be retired)."""
    counts: dict[int, int] = {}
    for _table, group in _by_table(registered() if fields is None else fields):
        key = group[0].key
        values = union_all(
            *(
                select(key.label("row_id"), _version(f.ciphertext).label("v")).where(f.ciphertext.is_not(None))
                for f in group
            )
        ).subquery()
        per_version = select(values.c.v, func.count(values.c.row_id.distinct())).group_by(values.c.v)
        for version, rows in await db.execute(per_version):
            counts[int(version)] = counts.get(int(version), 0) + int(rows)
    return dict(sorted(counts.items()))
