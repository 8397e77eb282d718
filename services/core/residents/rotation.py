"""Re-encrypt residents' protected fields under the newest PII key, in batches.

Keyset by id; each batch is its own transaction; each row is rewritten only if its
ciphertext is still the one read (compare-and-set), so a concurrent edit is never
overwritten. Old key versions keep decrypting throughout: no downtime, and an
interrupted run is simply run again. The version column does not move, so neither
If-Match tokens nor the delta sync see a change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core.db import session_scope
from services.core.residents.models import Resident
from services.core.security.pii import PiiCipher


@dataclass
class RotationReport:
    scanned: int = 0
    rewritten: int = 0
    skipped_concurrent: int = 0


async def rotate(
    factory: async_sessionmaker[AsyncSession], pii: PiiCipher, *, batch_size: int = 1000
) -> RotationReport:
    """Bring every resident's ciphertexts to the newest key version."""
    report = RotationReport()
    newest = pii.newest.to_bytes(2, "big")
    after = uuid.UUID(int=0)
    while True:
        async with session_scope(factory) as db:
            rows = (
                await db.execute(
                    select(Resident.id, Resident.id_number_enc, Resident.phone_enc)
                    .where(Resident.id > after)
                    .order_by(Resident.id)
                    .limit(batch_size)
                )
            ).all()
            if not rows:
                return report
            for resident_id, id_enc, phone_enc in rows:
                report.scanned += 1
                for column, blob, purpose in (
                    (Resident.id_number_enc, id_enc, "id_number"),
                    (Resident.phone_enc, phone_enc, "phone"),
                ):
                    if blob is None or blob[:2] == newest:
                        continue
                    context = f"resident.{purpose}:{resident_id}"
                    fresh = pii.encrypt(pii.decrypt(blob, context=context), context=context)
                    result = await db.execute(
                        update(Resident)
                        .where(Resident.id == resident_id, column == blob)
                        .values({column.key: fresh})
                        .execution_options(synchronize_session=False)
                    )
                    if getattr(result, "rowcount", 0) == 1:
                        report.rewritten += 1
                    else:
                        report.skipped_concurrent += 1
            after = rows[-1][0]


async def versions_in_use(db: AsyncSession) -> dict[int, int]:
    """How many identity-number ciphertexts each key version still protects."""
    rows = await db.execute(
        text(
            "select get_byte(id_number_enc, 0) * 256 + get_byte(id_number_enc, 1), count(*) "
            "from resident where id_number_enc is not null group by 1"
        )
    )
    return {int(v): int(n) for v, n in rows}
