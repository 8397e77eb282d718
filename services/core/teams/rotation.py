"""Re-encrypt people's mobiles under the newest PII key, in batches (as residents' rotation does).

Keyset by id, one transaction per batch, compare-and-set on the ciphertext read; the blind
index and the version column do not move.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core.db import session_scope
from services.core.residents.rotation import RotationReport
from services.core.security.pii import PiiCipher
from services.core.teams.models import Person


async def rotate_mobiles(
    factory: async_sessionmaker[AsyncSession], pii: PiiCipher, *, batch_size: int = 1000
) -> RotationReport:
    """Bring every person's mobile ciphertext to the newest key version."""
    report = RotationReport()
    newest = pii.newest.to_bytes(2, "big")
    after = uuid.UUID(int=0)
    while True:
        async with session_scope(factory) as db:
            rows = (
                await db.execute(
                    select(Person.id, Person.mobile_enc).where(Person.id > after).order_by(Person.id).limit(batch_size)
                )
            ).all()
            if not rows:
                return report
            for person_id, blob in rows:
                report.scanned += 1
                if blob[:2] == newest:
                    continue
                context = f"person.mobile:{person_id}"
                fresh = pii.encrypt(pii.decrypt(blob, context=context), context=context)
                result = await db.execute(
                    update(Person)
                    .where(Person.id == person_id, Person.mobile_enc == blob)
                    .values(mobile_enc=fresh)
                    .execution_options(synchronize_session=False)
                )
                if getattr(result, "rowcount", 0) == 1:
                    report.rewritten += 1
                else:
                    report.skipped_concurrent += 1
            after = rows[-1][0]
