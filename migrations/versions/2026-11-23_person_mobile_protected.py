"""Staff and community workers' mobiles become protected personal data.

``person.mobile`` (plaintext) becomes ``mobile_enc`` (AES-GCM under the newest PII key,
associated data ``person.mobile:<id>``), ``mobile_bidx`` (keyed blind index, indexed with
the district for lookups and duplicate checks) and ``mobile_masked``. Existing rows are
sealed here, in Python, with the application's cipher (GRIDCARE_PII_KEYS and
GRIDCARE_PII_BLIND_INDEX_KEY must be set when the table holds rows); the downgrade opens
them again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 08:40:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.core.config import get_settings
from services.core.security.pii import PiiCipher, cipher_for, mask_phone

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000
# Must stay equal to services.core.teams.service.mobile_index's kind.
_BIDX_KIND = "person_mobile"

person = sa.table(
    "person",
    sa.column("id", sa.Uuid()),
    sa.column("mobile", sa.String()),
    sa.column("mobile_enc", sa.LargeBinary()),
    sa.column("mobile_bidx", sa.LargeBinary()),
    sa.column("mobile_masked", sa.String()),
)


def _cipher() -> PiiCipher:
    return cipher_for(get_settings())


def upgrade() -> None:
    op.add_column("person", sa.Column("mobile_enc", sa.LargeBinary(), nullable=True))
    op.add_column("person", sa.Column("mobile_bidx", sa.LargeBinary(), nullable=True))
    op.add_column("person", sa.Column("mobile_masked", sa.String(length=11), nullable=True))
    conn = op.get_bind()
    pii: PiiCipher | None = None
    while True:
        rows = conn.execute(
            sa.select(person.c.id, person.c.mobile).where(person.c.mobile_enc.is_(None)).limit(_BATCH)
        ).all()
        if not rows:
            break
        pii = pii or _cipher()
        for person_id, phone in rows:
            conn.execute(
                person.update()
                .where(person.c.id == person_id)
                .values(
                    mobile_enc=pii.encrypt(phone, context=f"person.mobile:{person_id}"),
                    mobile_bidx=pii.blind_index(_BIDX_KIND, phone),
                    mobile_masked=mask_phone(phone),
                )
            )
    op.alter_column("person", "mobile_enc", nullable=False)
    op.alter_column("person", "mobile_bidx", nullable=False)
    op.alter_column("person", "mobile_masked", nullable=False)
    op.drop_index("ix_person_district_id_mobile", table_name="person")
    op.create_index("ix_person_district_id_mobile_bidx", "person", ["district_id", "mobile_bidx"], unique=False)
    op.drop_column("person", "mobile")


def downgrade() -> None:
    op.add_column("person", sa.Column("mobile", sa.String(length=11), nullable=True))
    conn = op.get_bind()
    pii: PiiCipher | None = None
    while True:
        rows = conn.execute(
            sa.select(person.c.id, person.c.mobile_enc).where(person.c.mobile.is_(None)).limit(_BATCH)
        ).all()
        if not rows:
            break
        pii = pii or _cipher()
        for person_id, blob in rows:
            conn.execute(
                person.update()
                .where(person.c.id == person_id)
                .values(mobile=pii.decrypt(blob, context=f"person.mobile:{person_id}"))
            )
    op.alter_column("person", "mobile", nullable=False)
    op.drop_index("ix_person_district_id_mobile_bidx", table_name="person")
    op.create_index("ix_person_district_id_mobile", "person", ["district_id", "mobile"], unique=False)
    op.drop_column("person", "mobile_masked")
    op.drop_column("person", "mobile_bidx")
    op.drop_column("person", "mobile_enc")
